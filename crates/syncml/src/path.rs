//! Element paths for error messages, computed only when an error occurs.

use quick_xml::Reader;
use quick_xml::events::Event;

/// The element path at `offset`: `SyncML/SyncBody/Atomic[2]/Replace/Item/Data`. `[n]` is
/// the 1-based position among same-named siblings, shown from the second one on.
pub(crate) fn path_at(text: &str, offset: usize) -> String {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = false;
    // Each level: the element name and the names (with counts) of its children so far.
    let mut stack: Vec<(String, usize)> = Vec::new();
    let mut counts: Vec<Vec<(String, usize)>> = vec![Vec::new()];
    let mut pos = 0usize;
    loop {
        if pos > offset {
            break;
        }
        let ev = match reader.read_event() {
            Ok(ev) => ev,
            Err(_) => break,
        };
        let start = pos;
        pos = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        if start > offset {
            break;
        }
        match ev {
            Event::Start(e) | Event::Empty(e) => {
                let empty = text.as_bytes().get(pos.wrapping_sub(2)) == Some(&b'/');
                let name = String::from_utf8_lossy(e.name().as_ref().as_bytes()).into_owned();
                if counts.is_empty() {
                    counts.push(Vec::new());
                }
                let mut n = 1;
                if let Some(level) = counts.last_mut() {
                    match level.iter_mut().find(|(k, _)| *k == name) {
                        Some((_, c)) => {
                            *c += 1;
                            n = *c;
                        }
                        None => level.push((name.clone(), 1)),
                    }
                }
                if empty {
                    if pos > offset {
                        stack.push((name, n));
                        break;
                    }
                } else {
                    stack.push((name, n));
                    counts.push(Vec::new());
                }
            }
            Event::End(_) => {
                if pos > offset {
                    break;
                }
                stack.pop();
                counts.pop();
                if counts.is_empty() {
                    counts.push(Vec::new());
                }
            }
            Event::Eof => break,
            _ => {}
        }
        if stack.len() > 4096 {
            break;
        }
    }
    let mut out = String::new();
    for (i, (name, n)) in stack.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(name);
        if *n > 1 {
            out.push_str(&format!("[{n}]"));
        }
    }
    out
}
