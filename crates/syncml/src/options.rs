//! Decoder configuration: limits and interoperability quirks.

use std::fmt;

/// Resource limits with secure defaults. Every limit has its own error
/// ([`Limit`] inside [`DecodeErrorKind::LimitExceeded`](crate::DecodeErrorKind)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest accepted input in bytes. Default 16 MiB.
    pub max_message_bytes: usize,
    /// Deepest element nesting, unknown elements and `Data` markup included. Default 64.
    /// (`Atomic`/`Sequence` nesting is also bounded by the fixed
    /// [`MAX_CONTAINER_NESTING`](crate::MAX_CONTAINER_NESTING).)
    pub max_depth: usize,
    /// Most commands in one message, nested ones included. Default 10 000.
    pub max_commands: usize,
    /// Most `Item`s in one message. Default 20 000 (a large Windows inventory reply holds a
    /// few thousand; each decoded `Item` costs about 500 bytes of model, so this bounds the
    /// memory an `<Item/>` flood can make the decoder allocate).
    pub max_items: usize,
    /// Most attributes on one element. Default 32.
    pub max_attributes: usize,
    /// Most namespace declarations (`xmlns`, `xmlns:p`) on one element. Default 8.
    pub max_namespace_declarations: usize,
    /// Most namespace declarations in scope at once, over all open elements. Default 64
    /// (a SyncML message declares two or three). Bounds what a prefix lookup costs: each
    /// prefixed name is resolved by a walk over the declarations in scope.
    pub max_namespaces_in_scope: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 16 * 1024 * 1024,
            max_depth: 64,
            max_commands: 10_000,
            max_items: 20_000,
            max_attributes: 32,
            max_namespace_declarations: 8,
            max_namespaces_in_scope: 64,
        }
    }
}

/// Which limit was exceeded, with the configured value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// [`Limits::max_message_bytes`]
    MessageBytes(usize),
    /// [`Limits::max_depth`]
    Depth(usize),
    /// [`Limits::max_commands`]
    Commands(usize),
    /// [`Limits::max_items`]
    Items(usize),
    /// [`Limits::max_attributes`]
    Attributes(usize),
    /// [`Limits::max_namespace_declarations`]
    NamespaceDeclarations(usize),
    /// [`Limits::max_namespaces_in_scope`]
    NamespacesInScope(usize),
    /// `Atomic`/`Sequence` nested deeper than
    /// [`MAX_CONTAINER_NESTING`](crate::MAX_CONTAINER_NESTING), a fixed bound that keeps the
    /// recursive decoder within a 2 MiB stack whatever [`Limits::max_depth`] says.
    ContainerNesting(usize),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::MessageBytes(n) => write!(f, "message larger than {n} bytes"),
            Limit::Depth(n) => write!(f, "elements nested deeper than {n}"),
            Limit::Commands(n) => write!(f, "more than {n} commands"),
            Limit::Items(n) => write!(f, "more than {n} items"),
            Limit::Attributes(n) => write!(f, "more than {n} attributes on one element"),
            Limit::NamespaceDeclarations(n) => {
                write!(f, "more than {n} namespace declarations on one element")
            }
            Limit::NamespacesInScope(n) => {
                write!(f, "more than {n} namespace declarations in scope")
            }
            Limit::ContainerNesting(n) => write!(f, "Atomic/Sequence nested deeper than {n}"),
        }
    }
}

/// An interoperability quirk: input real peers send that strict SyncML would reject or
/// read differently. Each is documented with its sample in `docs/quirks.md`, tolerated by
/// default and can be switched off in [`Quirks`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Quirk {
    /// `Meta` children without the `syncml:metinf` namespace (`<Format>int</Format>`), with a
    /// misspelt one (`syncml:metinfo`, `"syncml:metinf "`) or with a prefix (`<A:Format>`).
    MetInfNamespace,
    /// A stray `xmlns=""` on a SyncML element (`<Replace xmlns="">`).
    EmptyDefaultNamespace,
    /// The `SYNCML:SYNCML1.1` namespace (OMA DM 1.1.2); decoded as [`SyncMlVersion::V1_1`](crate::SyncMlVersion).
    SyncMl11Namespace,
    /// `<SyncML>` without any namespace; decoded as SyncML 1.2.
    MissingNamespace,
    /// The root namespace written in another case (`syncml:syncml1.2`).
    NamespaceCase,
    /// A UTF-8 byte order mark before the document.
    ByteOrderMark,
    /// `encoding="utf-16"` declared on a document whose bytes are UTF-8 (Windows
    /// serializers write UTF-16 into the declaration of strings they then send as UTF-8).
    Utf16DeclaredUtf8,
    /// A document really encoded as UTF-16 (with a BOM): transcoded to UTF-8 first. The
    /// decoded message then owns its text.
    Utf16Transcoded,
    /// Whitespace around values (`<LocURI>\n  ./Vendor/...\n</LocURI>`): trimmed from
    /// every value element except `Data`. Written whitespace kept as character references
    /// (`&#32;`) is not trimmed.
    WhitespaceAroundValues,
    /// `<SyncML>` without `<SyncHdr>` or `<SyncBody>` (documentation samples): decoded as an
    /// empty header or body.
    MissingHdrOrBody,
    /// An attribute on a value element (`<LocURI foo="x">`) other than a namespace
    /// declaration: dropped (and reported).
    AttributeOnValue,
    /// A second occurrence of a single-valued child (three `CmdID`s in one `Replace`): the
    /// first is used, the others are kept verbatim in the element's `extra`.
    DuplicateElement,
}

impl Quirk {
    /// Every quirk.
    pub const ALL: [Quirk; 12] = [
        Quirk::MetInfNamespace,
        Quirk::EmptyDefaultNamespace,
        Quirk::SyncMl11Namespace,
        Quirk::MissingNamespace,
        Quirk::NamespaceCase,
        Quirk::ByteOrderMark,
        Quirk::Utf16DeclaredUtf8,
        Quirk::Utf16Transcoded,
        Quirk::WhitespaceAroundValues,
        Quirk::MissingHdrOrBody,
        Quirk::AttributeOnValue,
        Quirk::DuplicateElement,
    ];

    fn bit(self) -> u32 {
        1 << (Quirk::ALL.iter().position(|q| *q == self).unwrap_or(31) as u32)
    }
}

/// A set of tolerated quirks. `Quirks::default()` tolerates all of them; `Quirks::none()`
/// is strict SyncML.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quirks(u32);

impl Quirks {
    /// Every quirk tolerated (the default).
    pub fn all() -> Self {
        Quirks(Quirk::ALL.iter().fold(0, |acc, q| acc | q.bit()))
    }

    /// No quirk tolerated.
    pub fn none() -> Self {
        Quirks(0)
    }

    /// This set plus `q`.
    pub fn with(self, q: Quirk) -> Self {
        Quirks(self.0 | q.bit())
    }

    /// This set without `q`.
    pub fn without(self, q: Quirk) -> Self {
        Quirks(self.0 & !q.bit())
    }

    /// Whether `q` is tolerated.
    pub fn contains(self, q: Quirk) -> bool {
        self.0 & q.bit() != 0
    }
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks::all()
    }
}

impl fmt::Debug for Quirks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(Quirk::ALL.iter().filter(|q| self.contains(**q)))
            .finish()
    }
}

/// What to do with elements the model does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UnknownElements {
    /// Keep them verbatim as [`RawElement`](crate::RawElement)s (the default).
    #[default]
    Keep,
    /// Reject them with [`DecodeErrorKind::UnknownElement`](crate::DecodeErrorKind).
    Reject,
}

/// Decoder configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct DecodeOptions {
    /// Resource limits.
    pub limits: Limits,
    /// Tolerated quirks.
    pub quirks: Quirks,
    /// Unknown elements: keep or reject.
    pub unknown_elements: UnknownElements,
}

impl DecodeOptions {
    /// Strict SyncML: no quirks, unknown elements rejected, default limits.
    pub fn strict() -> Self {
        DecodeOptions {
            limits: Limits::default(),
            quirks: Quirks::none(),
            unknown_elements: UnknownElements::Reject,
        }
    }

    /// These options with other limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// These options with another quirk set.
    pub fn with_quirks(mut self, quirks: Quirks) -> Self {
        self.quirks = quirks;
        self
    }
}

/// A quirk the decoder met, and where (byte offset of the element or input position).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuirkSeen {
    /// The quirk.
    pub quirk: Quirk,
    /// Byte offset in the input.
    pub offset: usize,
}
