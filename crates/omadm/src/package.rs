//! Packaging helpers shared by both engines: message sizing, large-object chunking and
//! reassembly, CmdID assignment.

use std::borrow::Cow;

use winmdm_syncml::{Command, Data, DataContent, Meta, StatusCode, SyncBody, SyncHdr, SyncML};

/// The smallest `MaxMsgSize` the engines work with: a message must hold the header, a
/// handful of Status elements and some progress on a large object.
pub const MIN_MAX_MSG_SIZE: u64 = 2048;

/// Default `MaxMsgSize` assumed for a peer that does not declare one (Windows usually
/// does not): 512 KiB.
pub const DEFAULT_MAX_MSG_SIZE: u64 = 512 * 1024;

/// Default largest incoming large object accepted (declared `Meta/Size`): 16 MiB.
pub const DEFAULT_MAX_OBJECT_SIZE: u64 = 16 * 1024 * 1024;

/// Smallest data payload worth starting a chunk with, in bytes of escaped text.
const MIN_CHUNK: usize = 32;

/// Size of the compact encoding of an empty message with this header, `<Final/>` included.
pub(crate) fn base_len(hdr: &SyncHdr<'static>) -> usize {
    SyncML {
        hdr: hdr.clone(),
        body: SyncBody {
            r#final: true,
            ..SyncBody::default()
        },
        ..SyncML::default()
    }
    .encoded_len()
}

/// Sets the `CmdID` of a command (and of its children) from a counter.
pub(crate) fn assign_ids(cmd: &mut Command<'static>, next: &mut u32) {
    let id = |n: &mut u32| {
        let s = n.to_string();
        *n += 1;
        Some(Cow::Owned(s))
    };
    match cmd {
        Command::Add(c)
        | Command::Copy(c)
        | Command::Delete(c)
        | Command::Exec(c)
        | Command::Get(c)
        | Command::Replace(c) => c.cmd_id = id(next),
        Command::Alert(c) => c.cmd_id = id(next),
        Command::Results(c) => c.cmd_id = id(next),
        Command::Status(c) => c.cmd_id = id(next),
        Command::Atomic(c) | Command::Sequence(c) => {
            c.cmd_id = id(next);
            for k in &mut c.commands {
                assign_ids(k, next);
            }
        }
        Command::Unknown(_) => {}
    }
}

/// The escaped size of one character in `Data` text (the encoder's rules).
fn esc_len(c: char) -> usize {
    match c {
        '<' | '>' => 4,
        '&' | '\r' => 5,
        _ => c.len_utf8(),
    }
}

fn single_item_mut<'c>(
    cmd: &'c mut Command<'static>,
) -> Option<&'c mut winmdm_syncml::Item<'static>> {
    let items = match cmd {
        Command::Add(c) | Command::Replace(c) | Command::Exec(c) => &mut c.items,
        Command::Results(r) => &mut r.items,
        _ => return None,
    };
    if items.len() == 1 {
        items.first_mut()
    } else {
        None
    }
}

fn single_item<'c>(cmd: &'c Command<'static>) -> Option<&'c winmdm_syncml::Item<'static>> {
    let items = match cmd {
        Command::Add(c) | Command::Replace(c) | Command::Exec(c) => &c.items,
        Command::Results(r) => &r.items,
        _ => return None,
    };
    if items.len() == 1 {
        items.first()
    } else {
        None
    }
}

/// Whether a command can be sent as a large object: one item with data.
pub(crate) fn chunkable(cmd: &Command<'static>) -> bool {
    single_item(cmd).is_some_and(|i| i.data.is_some())
}

/// The length of the data text of a chunkable command.
pub(crate) fn lo_text_len(cmd: &Command<'static>) -> usize {
    single_item(cmd)
        .and_then(|i| i.data.as_ref().map(|d| d.as_str().len()))
        .unwrap_or(0)
}

/// Takes the data out of a chunkable command: the template to cut chunks from and the
/// text.
pub(crate) fn split_lo(mut cmd: Command<'static>) -> (Command<'static>, String) {
    let text = single_item_mut(&mut cmd)
        .and_then(|i| i.data.take())
        .map(|d| match d.content {
            DataContent::Text(s) | DataContent::CData(s) | DataContent::Xml(s) => s.into_owned(),
        })
        .unwrap_or_default();
    (cmd, text)
}

/// Builds the chunk of `template` (a chunkable command with its CmdID already set) that
/// starts at byte `offset` of `text` and fits in `room` bytes. `None` when not even a
/// small chunk fits. Returns the chunk and the new offset.
pub(crate) fn make_chunk(
    template: &Command<'static>,
    text: &str,
    offset: usize,
    room: usize,
) -> Option<(Command<'static>, usize)> {
    let first = offset == 0;
    let mut probe = template.clone();
    {
        let it = single_item_mut(&mut probe)?;
        it.data = Some(Data {
            attrs: Vec::new(),
            content: DataContent::Text(Cow::Borrowed("x")),
        });
        it.more_data = true;
        let mut m = it.meta.take().unwrap_or_default();
        if first {
            m.size = Some(text.len() as u64);
        } else {
            m.size = None;
        }
        it.meta = (!m.is_empty()).then_some(m);
    }
    let overhead = probe.encoded_len() - 1;
    if overhead + MIN_CHUNK > room {
        return None;
    }
    let mut budget = room - overhead;
    let mut end = offset;
    for (i, c) in text[offset..].char_indices() {
        let l = esc_len(c);
        if l > budget {
            break;
        }
        budget -= l;
        end = offset + i + c.len_utf8();
    }
    if end == offset && offset < text.len() {
        return None;
    }
    let last = end == text.len();
    let mut chunk = probe;
    let it = single_item_mut(&mut chunk)?;
    it.data = Some(Data::text(text[offset..end].to_owned()));
    it.more_data = !last;
    Some((chunk, end))
}

/// Outcome of feeding one item chunk to a [`Reassembly`].
#[derive(Debug)]
pub(crate) enum Chunk {
    /// More to come: answer 213.
    Buffered,
    /// The object is complete: the whole data.
    Complete(String, Option<Box<Meta<'static>>>),
    /// The sizes do not match (424) or the object is too large (413) or has no size (411).
    Failed(StatusCode),
}

/// An incoming large object being reassembled.
#[derive(Debug, Default)]
pub(crate) struct Reassembly {
    /// The key of the object (command kind + target/source URI).
    pub key: String,
    declared: u64,
    buf: String,
    meta: Option<Meta<'static>>,
}

impl Reassembly {
    /// Starts an object from its first chunk.
    pub(crate) fn start(
        key: String,
        item: &winmdm_syncml::Item<'_>,
        max: u64,
    ) -> Result<Self, StatusCode> {
        let declared = item
            .meta
            .as_ref()
            .and_then(|m| m.size)
            .ok_or(StatusCode::SIZE_REQUIRED)?;
        if declared > max {
            return Err(StatusCode::REQUEST_ENTITY_TOO_LARGE);
        }
        let mut meta = item.meta.clone().map(Meta::into_owned);
        if let Some(m) = &mut meta {
            m.size = None;
        }
        Ok(Reassembly {
            key,
            declared,
            buf: String::new(),
            meta: meta.filter(|m| !m.is_empty()),
        })
    }

    /// Adds a chunk.
    pub(crate) fn push(&mut self, item: &winmdm_syncml::Item<'_>) -> Chunk {
        if let Some(d) = &item.data {
            self.buf.push_str(d.as_str());
        }
        if self.buf.len() as u64 > self.declared {
            return Chunk::Failed(StatusCode::SIZE_MISMATCH);
        }
        if item.more_data {
            return Chunk::Buffered;
        }
        if self.buf.len() as u64 != self.declared {
            return Chunk::Failed(StatusCode::SIZE_MISMATCH);
        }
        Chunk::Complete(
            std::mem::take(&mut self.buf),
            self.meta.take().map(Box::new),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use winmdm_syncml::{Item, ItemCommand, Location};

    fn replace(data: &str) -> Command<'static> {
        Command::Replace(ItemCommand {
            cmd_id: Some("7".into()),
            items: vec![Item {
                target: Some(Location::uri("./Vendor/MSFT/X")),
                meta: Some(Meta::format("chr")),
                data: Some(Data::text(data.to_owned())),
                ..Item::default()
            }],
            ..ItemCommand::default()
        })
    }

    #[test]
    fn chunks_fit_and_reassemble_byte_exact() {
        let text: String = "a<b>&c\r\n€ ".repeat(300);
        let (tpl, t2) = split_lo(replace(&text));
        assert_eq!(t2, text);
        let mut off = 0;
        let mut re: Option<Reassembly> = None;
        let mut n = 0;
        loop {
            let (c, next) = make_chunk(&tpl, &text, off, 500).unwrap();
            assert!(c.encoded_len() <= 500, "{}", c.encoded_len());
            let it = &c.items()[0];
            if off == 0 {
                assert_eq!(it.meta.as_ref().unwrap().size, Some(text.len() as u64));
                re = Some(Reassembly::start("k".into(), it, 1 << 20).unwrap());
            } else {
                assert_eq!(it.meta.as_ref().unwrap().size, None);
            }
            n += 1;
            match re.as_mut().unwrap().push(it) {
                Chunk::Buffered => assert!(it.more_data),
                Chunk::Complete(s, m) => {
                    assert_eq!(s, text);
                    assert_eq!(m.unwrap().format.as_deref(), Some("chr"));
                    break;
                }
                Chunk::Failed(c) => panic!("{c}"),
            }
            off = next;
        }
        assert!(n > 5);
        assert!(make_chunk(&tpl, &text, 0, 100).is_none());
    }

    #[test]
    fn size_errors() {
        let mut it = replace("abc").items()[0].clone();
        assert_eq!(
            Reassembly::start("k".into(), &it, 10).unwrap_err(),
            StatusCode::SIZE_REQUIRED
        );
        it.meta.as_mut().unwrap().size = Some(100);
        assert_eq!(
            Reassembly::start("k".into(), &it, 10).unwrap_err(),
            StatusCode::REQUEST_ENTITY_TOO_LARGE
        );
        // declared 4, sent 3 and ended: 424
        it.meta.as_mut().unwrap().size = Some(4);
        let mut r = Reassembly::start("k".into(), &it, 10).unwrap();
        assert!(matches!(
            r.push(&it),
            Chunk::Failed(StatusCode::SIZE_MISMATCH)
        ));
        // declared 2, more than 2 arrives: 424 at once
        it.meta.as_mut().unwrap().size = Some(2);
        it.more_data = true;
        let mut r = Reassembly::start("k".into(), &it, 10).unwrap();
        assert!(matches!(
            r.push(&it),
            Chunk::Failed(StatusCode::SIZE_MISMATCH)
        ));
    }
}
