//! Benchmarks for the winmdm crates (unpublished): deterministic inputs, the competing
//! decoders, and the code shared by the criterion bench (`benches/syncml.rs`) and the ratio
//! report (`src/bin/bench-report.rs`). Results and how to reproduce them are in
//! `docs/benchmarks.md`.
//!
//! The decoders compared on the same bytes ([`Parser`]):
//!
//! - [`Parser::WinmdmDecode`]: [`winmdm_syncml::decode`] into the borrowed model;
//! - [`Parser::WinmdmEncode`]: [`winmdm_syncml::SyncML::encode`] of the decoded message into
//!   a `Vec` (throughput counted on the input size);
//! - [`Parser::EventScan`]: quick-xml's `Reader::from_str` and `read_event` until `Eof`,
//!   nothing kept: the floor any quick-xml-based decoder stands on;
//! - [`Parser::Roxmltree`]: `roxmltree::Document::parse`, a read-only DOM;
//! - [`Parser::QuickXmlSerde`]: `quick_xml::de::from_str` into the owned [`model`];
//! - [`Parser::MinimalEvents`]: a deliberately minimal decoder on quick-xml's events
//!   ([`minimal_decode`]): it keeps each item's `LocURI` and `Data` (borrowed unless
//!   escaped) and counts commands, with no validation, limits, attributes, positions or
//!   unknown-element handling. Not a usable decoder: a lower bound on what any decoder
//!   built on quick-xml's event API costs above the plain scan.
//!
//! # Example
//!
//! ```
//! use winmdm_benches::{inputs, Parser};
//!
//! let xml = inputs::small_checkin();
//! let prepared = Parser::WinmdmEncode.prepare(&xml);
//! for parser in Parser::ALL {
//!     // Every decoder accepts every input and returns some work count.
//!     assert!(parser.run(&xml, &prepared) > 0, "{}", parser.name());
//! }
//! ```
#![forbid(unsafe_code)]

pub mod inputs;
pub mod model;
pub mod report;
pub mod session;

/// One of the decoders (or the encoder) under comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parser {
    /// `winmdm_syncml::decode`.
    WinmdmDecode,
    /// `SyncML::encode` of the decoded input into a `Vec<u8>`.
    WinmdmEncode,
    /// quick-xml's plain event loop.
    EventScan,
    /// roxmltree's DOM.
    Roxmltree,
    /// quick-xml serde into owned structs.
    QuickXmlSerde,
    /// The minimal decoder on quick-xml events ([`minimal_decode`]).
    MinimalEvents,
    /// `winmdm_syncml`'s tokenizer alone: every event, no model, no on-demand checks.
    WinmdmTokenize,
}

/// Work prepared outside the measurement: the decoded message [`Parser::WinmdmEncode`]
/// encodes.
#[derive(Debug)]
pub struct Prepared<'a> {
    /// The input decoded by `winmdm_syncml`, if the parser needs it.
    pub decoded: Option<winmdm_syncml::SyncML<'a>>,
}

impl Parser {
    /// Every parser, in table order.
    pub const ALL: [Parser; 7] = [
        Parser::WinmdmDecode,
        Parser::WinmdmEncode,
        Parser::EventScan,
        Parser::Roxmltree,
        Parser::QuickXmlSerde,
        Parser::MinimalEvents,
        Parser::WinmdmTokenize,
    ];

    /// A short name for bench ids and tables.
    pub fn name(self) -> &'static str {
        match self {
            Parser::WinmdmDecode => "winmdm_decode",
            Parser::WinmdmEncode => "winmdm_encode",
            Parser::EventScan => "quick_xml_events",
            Parser::Roxmltree => "roxmltree",
            Parser::QuickXmlSerde => "quick_xml_serde",
            Parser::MinimalEvents => "minimal_on_events",
            Parser::WinmdmTokenize => "winmdm_tokenize",
        }
    }

    /// Prepares what [`Parser::run`] needs besides the input (only the encoder needs
    /// anything: the decoded message).
    ///
    /// # Panics
    ///
    /// If the input does not decode: the inputs are fixed and known to decode.
    pub fn prepare(self, xml: &str) -> Prepared<'_> {
        Prepared {
            decoded: match self {
                Parser::WinmdmEncode => {
                    Some(winmdm_syncml::decode(xml.as_bytes()).expect("the input decodes"))
                }
                _ => None,
            },
        }
    }

    /// Runs the parser once over `xml` and returns a count of what it produced (commands,
    /// events, nodes or bytes), so that the work cannot be optimised away.
    ///
    /// # Panics
    ///
    /// If the parser rejects the input: the inputs are fixed and known to be accepted by
    /// every parser, which `tests/inputs.rs` checks.
    pub fn run(self, xml: &str, prepared: &Prepared<'_>) -> usize {
        match self {
            Parser::WinmdmDecode => winmdm_decode(xml.as_bytes()),
            Parser::WinmdmEncode => {
                let msg = prepared
                    .decoded
                    .as_ref()
                    .expect("Parser::prepare decodes the message for the encoder");
                winmdm_encode(msg)
            }
            Parser::EventScan => event_scan(xml).expect("quick-xml reads the input"),
            Parser::Roxmltree => roxmltree_parse(xml),
            Parser::QuickXmlSerde => serde_decode(xml).body.commands.len(),
            Parser::MinimalEvents => {
                let m = minimal_decode(xml).expect("quick-xml reads the input");
                m.commands + m.items.len()
            }
            Parser::WinmdmTokenize => {
                winmdm_syncml::__tokenize(xml, false).expect("the tokenizer reads the input")
            }
        }
    }
}

/// Decodes with `winmdm_syncml::decode` and returns the number of top-level commands.
///
/// # Panics
///
/// If the input does not decode.
pub fn winmdm_decode(bytes: &[u8]) -> usize {
    let msg = winmdm_syncml::decode(bytes).expect("winmdm_syncml decodes the input");
    msg.body.commands.len()
}

/// Encodes `msg` into a fresh `Vec` and returns its length.
///
/// # Panics
///
/// If encoding fails (it cannot for a decoded message).
pub fn winmdm_encode(msg: &winmdm_syncml::SyncML<'_>) -> usize {
    let mut out = Vec::new();
    msg.encode(&mut out)
        .expect("a decoded message encodes into a Vec");
    out.len()
}

/// quick-xml's plain event scan: `Reader::from_str`, `read_event` until `Eof`. Returns the
/// number of events.
///
/// # Errors
///
/// quick-xml's error if the input is not well-formed.
pub fn event_scan(xml: &str) -> Result<usize, quick_xml::Error> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut n = 0usize;
    loop {
        match reader.read_event()? {
            Event::Eof => return Ok(n),
            _ => n += 1,
        }
    }
}

/// Parses with `roxmltree::Document::parse` (default options) and returns the number of
/// children of the root element (a cheap count: no traversal of the whole tree).
///
/// # Panics
///
/// If the input is not well-formed.
pub fn roxmltree_parse(xml: &str) -> usize {
    let doc = roxmltree::Document::parse(xml).expect("roxmltree parses the input");
    doc.root_element().children().count()
}

/// Deserializes with `quick_xml::de::from_str` into the owned [`model::SyncMl`].
///
/// # Panics
///
/// If the input does not fit the model.
pub fn serde_decode(xml: &str) -> model::SyncMl {
    quick_xml::de::from_str(xml).expect("the serde model deserializes the input")
}

/// What [`minimal_decode`] keeps of a message.
#[derive(Debug, Default)]
pub struct Minimal<'a> {
    /// Command elements seen (`Status`, `Get`, `Atomic`, ...), nested ones included.
    pub commands: usize,
    /// Each `Item`'s `LocURI` (of its `Target` or `Source`, the last one seen) and `Data`
    /// text.
    pub items: Vec<MinimalItem<'a>>,
}

/// An item as [`minimal_decode`] keeps it.
#[derive(Debug, Default)]
pub struct MinimalItem<'a> {
    /// The `LocURI` text.
    pub uri: std::borrow::Cow<'a, str>,
    /// The `Data` text, escapes resolved (only the five predefined entities).
    pub data: std::borrow::Cow<'a, str>,
}

/// The least a decoder on quick-xml's events can do: one pass over `read_event`, a `match`
/// on element names, borrowed `LocURI`/`Data` text pushed per item, a `String` only where a
/// value holds an entity reference. No well-formedness checks beyond quick-xml's, no
/// limits, no attributes, no error positions, no CDATA or markup in `Data`, no model of
/// headers, metas or statuses. It exists to measure the cost of the event API itself.
///
/// # Errors
///
/// quick-xml's error if the input is not well-formed.
pub fn minimal_decode(xml: &str) -> Result<Minimal<'_>, quick_xml::Error> {
    use quick_xml::events::Event;
    #[derive(Clone, Copy, PartialEq)]
    enum Want {
        Nothing,
        Uri,
        Data,
    }
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Minimal::default();
    let mut item = MinimalItem::default();
    let mut want = Want::Nothing;
    loop {
        match reader.read_event()? {
            Event::Start(s) => match s.name().as_ref() {
                "LocURI" => want = Want::Uri,
                "Data" => want = Want::Data,
                "Item" => item = MinimalItem::default(),
                "Status" | "Results" | "Get" | "Replace" | "Add" | "Alert" | "Exec" | "Delete"
                | "Copy" | "Atomic" | "Sequence" => out.commands += 1,
                _ => want = Want::Nothing,
            },
            Event::Text(t) => match want {
                Want::Uri => item.uri = t.into_inner(),
                Want::Data if item.data.is_empty() => item.data = t.into_inner(),
                Want::Data => item.data.to_mut().push_str(&t.into_inner()),
                Want::Nothing => {}
            },
            Event::CData(t) if want == Want::Data => {
                item.data = t.into_inner();
            }
            Event::GeneralRef(r) if want == Want::Data => {
                let c = match r.as_ref() {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "quot" => '"',
                    _ => '\'',
                };
                item.data.to_mut().push(c);
            }
            Event::End(e) => {
                if e.name().as_ref() == "Item" {
                    out.items.push(std::mem::take(&mut item));
                }
                want = Want::Nothing;
            }
            Event::Eof => return Ok(out),
            _ => {}
        }
    }
}
