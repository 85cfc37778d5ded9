//! Zero-copy holds on the benchmark inputs: decoding allocates for containers (boxed
//! commands, `Vec`s of commands and items, boxed `Meta`s) and for values with escapes, never
//! for plain text; the bytes the model requests stay within twice the input's size on the
//! large inputs. Counted with a counting global allocator; one test in this binary so that
//! no other test thread allocates during the measurement.

use std::alloc::System;
use std::borrow::Cow;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use winmdm_benches::inputs;
use winmdm_syncml::{Command, DataContent, Item, decode};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// (texts that borrow, texts that own) over the items' `LocURI`s and `Data`.
fn item_texts(items: &[Item<'_>], acc: &mut (usize, usize)) {
    for i in items {
        let locs = [&i.target, &i.source].into_iter().flatten();
        let uris = locs.filter_map(|l| l.loc_uri.as_ref());
        let data = i.data.iter().map(|d| match &d.content {
            DataContent::Text(t) | DataContent::CData(t) | DataContent::Xml(t) => t,
        });
        for t in uris.chain(data) {
            if matches!(t, Cow::Borrowed(_)) {
                acc.0 += 1;
            } else {
                acc.1 += 1;
            }
        }
    }
}

fn texts(cmds: &[Command<'_>], acc: &mut (usize, usize)) {
    for c in cmds {
        match c {
            Command::Atomic(c) | Command::Sequence(c) => texts(&c.commands, acc),
            other => item_texts(other.items(), acc),
        }
    }
}

#[test]
fn plain_text_never_allocates() {
    for input in inputs::all() {
        let xml = input.xml.as_bytes();
        let escaped_values = match input.name {
            "small_checkin" => 0,
            // The WLAN profile and the proxy URL.
            "server_package" => 2,
            "large_results" => inputs::LARGE_RESULTS_ITEMS / 16,
            // The entity-escaped ADMX values (the CDATA ones borrow).
            "admx_package" => inputs::ADMX_PACKAGE_ESCAPED,
            "admx_package_large" => inputs::ADMX_LARGE_ESCAPED,
            // Statuses carry no items.
            "status_ack" => 0,
            other => panic!("no expectation for input {other}"),
        };
        let region = Region::new(GLOBAL);
        let msg = decode(xml).expect("decodes");
        let stats = region.change();
        let mut acc = (0, 0);
        texts(&msg.body.commands, &mut acc);
        assert_eq!(acc.1, escaped_values, "{}: owned texts", input.name);
        assert!(
            acc.0 > acc.1 || input.name == "status_ack",
            "{}: most texts borrow",
            input.name
        );
        // Besides the escaped values, only containers allocate: at most a handful of
        // `Vec`s per command (commands, items, attributes) and per item, far fewer than
        // the texts that borrow.
        let commands = msg.body.commands.len();
        // A boxed command, its items' `Vec`, an item's boxed `Meta`, its attributes.
        let budget = escaped_values + 4 * commands + 16;
        assert!(
            stats.allocations <= budget,
            "{}: {} allocations, budget {budget} ({} borrowed texts)",
            input.name,
            stats.allocations,
            acc.0
        );
        // Issue 12: the model requests at most twice the input's size on inputs of 15 KB
        // and more (new blocks plus what reallocations grew by).
        if xml.len() >= 15_000 {
            assert!(
                stats.bytes_allocated <= 2 * xml.len(),
                "{}: {} bytes requested for {} bytes of input",
                input.name,
                stats.bytes_allocated,
                xml.len()
            );
        }
    }
}
