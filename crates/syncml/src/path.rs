//! Element paths for error messages, computed only when an error occurs.
//!
//! Read with the decoder's own tokenizer ([`Lexer`]), run again from the start of the input
//! up to the error: errors are rare, and a second run keeps the hot path free of any
//! bookkeeping for paths (sibling counts, start offsets).

use crate::lex::{self, Lexer, Token};
use crate::options::Limits;

/// How the decoder ran its tokenizer, so that a run for the path reads the same tokens:
/// the same limits, and a command fragment's namespace scope.
#[derive(Clone, Copy)]
pub(crate) struct LexConfig<'o> {
    /// The decoder's limits.
    pub(crate) limits: &'o Limits,
    /// The input is a command fragment (`decode_commands`): `msft` bound around it and
    /// prefixes bound nowhere let through.
    pub(crate) fragment: bool,
}

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
///
/// Each pass is a run of the tokenizer as the decoder ran it (`cfg`), up to the error:
/// every token before the one the error is in was read by the decoder without error, so
/// the run reads them too. The token the error is in may fail again; a start tag that
/// fails (an unbound prefix, a bad attribute, the depth limit) still counts as the element
/// the error is in when it is closed by its `>` ([`lex::start_tag_at`]).
pub(crate) fn path_at(text: &str, offset: usize, cfg: LexConfig<'_>) -> String {
    // Pass 1: the enclosing elements, as (name, offset of `<`).
    let mut stack: Vec<(&str, usize)> = Vec::new();
    each_tag(text, offset, cfg, |tag| match tag {
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
    each_tag(text, last, cfg, |tag| match tag {
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
/// returns false or the tokenizer fails (a failing start tag is passed on first, when
/// [`lex::start_tag_at`] can read it).
fn each_tag<'t>(
    text: &'t str,
    limit: usize,
    cfg: LexConfig<'_>,
    mut f: impl FnMut(Tag<'t>) -> bool,
) {
    let mut lexer = Lexer::new(text, cfg.limits);
    if cfg.fragment {
        lexer.fragment_scope("msft", lex::MSFT_MDM);
    }
    while lexer.pos <= limit {
        let ev = match lexer.next() {
            Ok(ev) => ev,
            Err(_) => {
                let at = lexer.start;
                if let Some((name, end, empty)) = lex::start_tag_at(text, at) {
                    f(Tag::Open {
                        name,
                        at,
                        end,
                        empty,
                    });
                }
                return;
            }
        };
        let go = match ev {
            Token::Start | Token::Empty => f(Tag::Open {
                name: lexer.child(ev == Token::Empty).qname,
                at: lexer.start,
                end: lexer.pos,
                empty: ev == Token::Empty,
            }),
            Token::End => f(Tag::Close { end: lexer.pos }),
            Token::Eof => return,
            _ => true,
        };
        if !go {
            return;
        }
    }
}
