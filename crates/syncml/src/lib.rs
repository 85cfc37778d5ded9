//! A zero-copy SyncML 1.2 codec for OMA-DM as Windows MDM speaks it (MS-MDM).
//!
//! [`decode`] turns the bytes of a message into a [`SyncML`] value that borrows its text
//! from the input: a value without references or carriage returns is a `Cow::Borrowed`
//! slice of the input; only replacing references (`&amp;`) and normalizing line ends
//! allocates. The decoder runs on its own XML tokenizer, at about the speed of quick-xml's
//! bare event loop (`docs/benchmarks.md`). [`SyncML::encode`] writes canonical SyncML back to any
//! [`std::io::Write`]; for every message the types can express,
//! `decode(encode(m)) == m`. [`SyncML::into_owned`] detaches a message from its input.
//!
//! The model is faithful to the wire: commands stay in document order, `Data` keeps text,
//! CDATA or embedded XML as written ([`DataContent`]), attributes such as
//! `msft:originalerror` are kept, and elements the model does not know are kept verbatim
//! ([`RawElement`]) so a proxy loses nothing. Status and alert codes are open enums
//! ([`StatusCode`], [`AlertCode`]).
//!
//! Decoding is bounded ([`Limits`]): no DTD or entity expansion ever, limited depth, counts
//! and sizes. Interoperability quirks real peers send are named ([`Quirk`]), tolerated by
//! default, reported by [`DecodeOptions::decode_report`] and can be switched off
//! ([`DecodeOptions::strict`]). Errors carry the byte offset, line, column and element path
//! (computed only when decoding fails, by running the same tokenizer again up to the error).
//!
//! # Example
//!
//! ```
//! use winmdm_syncml::{decode, Command, StatusCode};
//!
//! let xml = br#"<SyncML xmlns="SYNCML:SYNCML1.2">
//!   <SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID>
//!     <MsgID>2</MsgID><Target><LocURI>https://mdm.example/omadm</LocURI></Target>
//!     <Source><LocURI>B5B954E81FBCB94EB79BD08BE625F4EE</LocURI></Source></SyncHdr>
//!   <SyncBody xmlns:msft="http://schemas.microsoft.com/MobileDevice/MDM">
//!     <Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>3</CmdRef><Cmd>Replace</Cmd>
//!       <Data msft:originalerror="0x86000002">404</Data></Status>
//!     <Final/>
//!   </SyncBody>
//! </SyncML>"#;
//!
//! let msg = decode(xml)?;
//! assert_eq!(msg.hdr.session_id.as_deref(), Some("1"));
//! let Command::Status(status) = &msg.body.commands[0] else { panic!("a Status") };
//! assert_eq!(status.code(), Some(StatusCode::NOT_FOUND));
//! assert_eq!(status.original_error(), Some("0x86000002"));
//! assert!(msg.body.r#final);
//!
//! // Encode back and decode again: the same message.
//! let mut out = Vec::new();
//! msg.encode(&mut out)?;
//! assert_eq!(out.len(), msg.encoded_len());
//! assert_eq!(decode(&out)?, msg);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "arbitrary")]
pub mod arbitrary;

mod codes;
mod decode;
mod encode;
mod error;
mod lex;
mod options;
mod path;
mod types;

pub use codes::{AlertCode, StatusCode};
#[doc(hidden)]
pub use decode::__tokenize;
pub use decode::{
    Decoded, DecodedCommands, MAX_CONTAINER_NESTING, decode, decode_commands, decode_str,
};
pub use encode::{EncodeOptions, encode, encode_commands};
pub use error::{DecodeError, DecodeErrorKind, EncodeError, SyntaxError};
pub use options::{DecodeOptions, Limit, Limits, Quirk, QuirkSeen, Quirks, UnknownElements};
pub use types::{
    Alert, Attr, Chal, Command, CommandKind, Container, Cred, Data, DataContent, Item, ItemCommand,
    Location, MDM_NAMESPACE, Meta, RawElement, Results, Status, SyncBody, SyncHdr, SyncML,
    SyncMlVersion,
};
