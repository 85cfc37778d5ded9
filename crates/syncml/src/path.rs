//! Element paths for error messages, computed only when an error occurs.

use quick_xml::Reader;
use quick_xml::events::Event;

/// Deepest path reported; deeper levels are left out.
const MAX_LEVELS: usize = 4096;

/// The element path at `offset`: `SyncML/SyncBody/Atomic[2]/Replace/Item/Data`. `[n]` is
/// the 1-based position among same-named siblings, shown from the second one on.
///
/// Two linear passes with memory for the path only: the first finds the elements that
/// enclose `offset` (name and start), the second counts, for each of them, the earlier
/// siblings of the same name. (A map of every sibling name per level would cost memory in
/// proportion to the input, and a list made it quadratic: a `Data` can hold a million
/// differently named elements.)
pub(crate) fn path_at(text: &str, offset: usize) -> String {
    // Pass 1: the enclosing elements, as (name, offset of `<`).
    let mut stack: Vec<(&str, usize)> = Vec::new();
    each_tag(text, offset, |tag| match tag {
        Tag::Open {
            name,
            at,
            end,
            empty,
        } => {
            if empty {
                // An empty element encloses the offset only if the offset is in its tag.
                if end > offset {
                    stack.push((name, at));
                    return false;
                }
                return true;
            }
            stack.push((name, at));
            stack.len() <= MAX_LEVELS
        }
        Tag::Close { end } => {
            // An offset inside an end tag belongs to the element it closes.
            if end > offset {
                return false;
            }
            stack.pop();
            true
        }
    });
    // Pass 2: for the element at level d, the same-named elements at depth d that start
    // after its parent and before it (its parent is open all that time).
    let mut counts = vec![1usize; stack.len()];
    let mut depth = 0usize;
    let last = stack.last().map_or(0, |(_, at)| *at);
    each_tag(text, last, |tag| match tag {
        Tag::Open {
            name, at, empty, ..
        } => {
            if let Some((want, own)) = stack.get(depth) {
                let parent = if depth == 0 { 0 } else { stack[depth - 1].1 };
                if at < *own && at >= parent && name == *want {
                    counts[depth] += 1;
                }
            }
            if !empty {
                depth += 1;
            }
            true
        }
        Tag::Close { .. } => {
            depth = depth.saturating_sub(1);
            true
        }
    });
    let mut out = String::new();
    for (i, ((name, _), n)) in stack.iter().zip(counts).enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(name);
        if n > 1 {
            out.push_str(&format!("[{n}]"));
        }
    }
    out
}

/// A tag: where it starts (`at`, its `<`) and ends (`end`, just past its `>`).
enum Tag<'t> {
    Open {
        name: &'t str,
        at: usize,
        end: usize,
        empty: bool,
    },
    Close {
        end: usize,
    },
}

/// Calls `f` for each start, empty and end tag starting at or before `limit`, until `f`
/// returns false or the reader fails (tolerant: end names are not checked).
fn each_tag<'t>(text: &'t str, limit: usize, mut f: impl FnMut(Tag<'t>) -> bool) {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = false;
    let mut pos = 0usize;
    while pos <= limit {
        let at = pos;
        let ev = match reader.read_event() {
            Ok(ev) => ev,
            Err(_) => return,
        };
        pos = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let go = match ev {
            Event::Start(e) | Event::Empty(e) => {
                let empty = text.as_bytes().get(pos.wrapping_sub(2)) == Some(&b'/');
                let len = e.name().as_ref().len();
                let name = text.get(at + 1..at + 1 + len).unwrap_or("");
                f(Tag::Open {
                    name,
                    at,
                    end: pos,
                    empty,
                })
            }
            Event::End(_) => f(Tag::Close { end: pos }),
            Event::Eof => return,
            _ => true,
        };
        if !go {
            return;
        }
    }
}
