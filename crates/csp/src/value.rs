//! Typed values of leaf nodes: the [`CspValue`] trait, checked ranges, ADMX values, and the
//! typed [`Leaf`] handle the generated path builders return, which makes the
//! [`winmdm_omadm::DmCommand`]s of its node ([`Leaf::replace`], [`Leaf::get`]...).

use std::marker::PhantomData;

use winmdm_omadm::{DmCommand, Value};
use winmdm_types::{LocUri, LocUriError};

use crate::Format;
use crate::def::{Access, NodeDef};
use crate::path::CspPath;

/// Why data does not fit a typed value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// Not `true` or `false`.
    #[error("{0:?} is not a bool (true/false)")]
    NotBool(String),
    /// Not an integer.
    #[error("{0:?} is not an integer")]
    NotInt(String),
    /// An integer outside the allowed range.
    #[error("{value} is outside [{min}-{max}]")]
    OutOfRange {
        /// The value.
        value: i64,
        /// Lowest allowed.
        min: i64,
        /// Highest allowed.
        max: i64,
    },
    /// Not one of the ENUM values.
    #[error("{0:?} is not an allowed value")]
    NotAllowed(String),
    /// Bits outside the defined flags.
    #[error("bits 0x{0:X} are not defined flags")]
    UnknownFlags(u64),
    /// Not an ADMX policy value.
    #[error("not an ADMX value: {0}")]
    Admx(String),
    /// Data that cannot travel with the node's format as a [`winmdm_omadm::Value`]: base64
    /// that does not decode, a date, time or float that is not one, data on a `null` node,
    /// or a format `Value` has no variant for.
    #[error("{data:?} cannot be sent as format {format}: {reason}")]
    NotSendable {
        /// The data.
        data: String,
        /// The node's format.
        format: Format,
        /// Why.
        reason: &'static str,
    },
}

/// A value that converts to and from the `Data` of a SyncML item, and to the typed
/// [`winmdm_omadm::Value`] of a command.
pub trait CspValue: Sized {
    /// The text to put into `<Data>` (before XML escaping).
    fn to_data(&self) -> String;
    /// Reads the text of `<Data>` (after XML unescaping).
    fn from_data(data: &str) -> Result<Self, ValueError>;
    /// The value as a [`winmdm_omadm::Value`] of a node of format `format` (what
    /// [`Leaf::replace`] sends). The default reads [`CspValue::to_data`] as the format says
    /// ([`value_for_format`]); `bool`, the integer types and [`NoValue`] give their value
    /// directly.
    fn to_value(&self, format: &Format) -> Result<Value<'static>, ValueError> {
        value_for_format(self.to_data(), format)
    }
}

/// The [`winmdm_omadm::Value`] of `data` for a node of format `format`: `chr` and `xml` as
/// text, `int` ([`parse_int`]) and `bool` parsed, `b64` and `bin` decoded
/// ([`winmdm_types::base64::decode_lenient`]: whitespace allowed), `float`, `date` and
/// `time` checked, `null` only without data.
pub fn value_for_format(data: String, format: &Format) -> Result<Value<'static>, ValueError> {
    let not_sendable = |data: String, reason| ValueError::NotSendable {
        data,
        format: format.clone(),
        reason,
    };
    Ok(match format {
        Format::Chr => Value::Chr(data.into()),
        Format::Xml => Value::Xml(data.into()),
        Format::Int => Value::Int(parse_int(&data)?),
        Format::Bool => Value::Bool(bool::from_data(&data)?),
        Format::B64 | Format::Bin => {
            let bytes = winmdm_types::base64::decode_lenient(&data, data.len())
                .map_err(|_| not_sendable(data, "not base64"))?;
            if *format == Format::B64 {
                Value::B64(bytes)
            } else {
                Value::Bin(bytes)
            }
        }
        Format::Null if data.is_empty() => Value::Null,
        Format::Null => return Err(not_sendable(data, "a null node takes no data")),
        Format::Float => match data.trim().parse::<f64>().ok().and_then(Value::float) {
            Some(v) => v,
            None => return Err(not_sendable(data, "not a finite number")),
        },
        Format::Date => {
            Value::date(data.trim().to_owned()).map_err(|_| not_sendable(data, "not YYYY-MM-DD"))?
        }
        Format::Time => Value::time(data.trim().to_owned())
            .map_err(|_| not_sendable(data, "not an ISO 8601 time"))?,
        Format::Node => return Err(not_sendable(data, "an interior node has no value")),
        _ => return Err(not_sendable(data, "no winmdm_omadm::Value for this format")),
    })
}

impl CspValue for bool {
    fn to_data(&self) -> String {
        self.to_string()
    }
    fn to_value(&self, format: &Format) -> Result<Value<'static>, ValueError> {
        match format {
            Format::Bool => Ok(Value::Bool(*self)),
            _ => value_for_format(self.to_data(), format),
        }
    }
    fn from_data(data: &str) -> Result<Self, ValueError> {
        match data.trim() {
            "true" | "True" | "TRUE" => Ok(true),
            "false" | "False" | "FALSE" => Ok(false),
            other => Err(ValueError::NotBool(other.to_string())),
        }
    }
}

impl CspValue for i64 {
    fn to_data(&self) -> String {
        self.to_string()
    }
    fn to_value(&self, format: &Format) -> Result<Value<'static>, ValueError> {
        match format {
            Format::Int => Ok(Value::Int(*self)),
            _ => value_for_format(self.to_data(), format),
        }
    }
    fn from_data(data: &str) -> Result<Self, ValueError> {
        parse_int(data)
    }
}

impl CspValue for String {
    fn to_data(&self) -> String {
        self.clone()
    }
    fn from_data(data: &str) -> Result<Self, ValueError> {
        Ok(data.to_string())
    }
}

/// Parses a decimal integer (optional sign) or `0x` hex.
pub fn parse_int(data: &str) -> Result<i64, ValueError> {
    let s = data.trim();
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => i64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    };
    r.ok_or_else(|| ValueError::NotInt(s.to_string()))
}

/// No value: the node has format `null` (Exec or Get targets); the data is empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NoValue;

impl CspValue for NoValue {
    fn to_data(&self) -> String {
        String::new()
    }
    fn to_value(&self, format: &Format) -> Result<Value<'static>, ValueError> {
        match format {
            Format::Null => Ok(Value::Null),
            _ => value_for_format(String::new(), format),
        }
    }
    fn from_data(_: &str) -> Result<Self, ValueError> {
        Ok(NoValue)
    }
}

/// An integer checked against the inclusive range `[MIN-MAX]` of a Range node.
///
/// ```
/// use winmdm_csp::{CspValue, Ranged};
/// assert_eq!(Ranged::<0, 23>::new(8).unwrap().get(), 8);
/// assert!(Ranged::<0, 23>::new(24).is_err());
/// assert!(Ranged::<0, 23>::from_data("-1").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ranged<const MIN: i64, const MAX: i64>(i64);

impl<const MIN: i64, const MAX: i64> Ranged<MIN, MAX> {
    /// Lowest allowed value.
    pub const MIN: i64 = MIN;
    /// Highest allowed value.
    pub const MAX: i64 = MAX;

    /// Checks `v`.
    pub fn new(v: i64) -> Result<Self, ValueError> {
        if (MIN..=MAX).contains(&v) {
            Ok(Ranged(v))
        } else {
            Err(ValueError::OutOfRange {
                value: v,
                min: MIN,
                max: MAX,
            })
        }
    }

    /// The value.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl<const MIN: i64, const MAX: i64> CspValue for Ranged<MIN, MAX> {
    fn to_data(&self) -> String {
        self.0.to_string()
    }
    fn to_value(&self, format: &Format) -> Result<Value<'static>, ValueError> {
        self.0.to_value(format)
    }
    fn from_data(data: &str) -> Result<Self, ValueError> {
        Self::new(parse_int(data)?)
    }
}

/// The value of an ADMX-backed policy: `<enabled/>` with `<data id="" value=""/>` elements,
/// or `<disabled/>`.
///
/// ```
/// use winmdm_csp::{AdmxValue, CspValue};
/// let v = AdmxValue::Enabled(vec![("Port".into(), "8080".into())]);
/// assert_eq!(v.to_data(), r#"<enabled/><data id="Port" value="8080"/>"#);
/// assert_eq!(AdmxValue::from_data(" <enabled /> <data value='8080' id='Port' /> ").unwrap(), v);
/// assert_eq!(AdmxValue::from_data("<disabled/>").unwrap(), AdmxValue::Disabled);
/// assert!(AdmxValue::from_data("<enabled/><data id=\"x\"/>").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AdmxValue {
    /// `<enabled/>` and its `(id, value)` data elements in order.
    Enabled(Vec<(String, String)>),
    /// `<disabled/>`.
    Disabled,
}

fn escape_attr(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            _ => o.push(c),
        }
    }
    o
}

fn unescape(s: &str) -> Result<String, ValueError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after
            .find(';')
            .ok_or_else(|| ValueError::Admx(format!("bad reference in {s:?}")))?;
        let name = &after[..end];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let n = if let Some(h) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X"))
                {
                    u32::from_str_radix(h, 16).ok()
                } else if let Some(d) = name.strip_prefix('#') {
                    d.parse().ok()
                } else {
                    None
                };
                n.and_then(char::from_u32)
                    .ok_or_else(|| ValueError::Admx(format!("unknown reference &{name};")))?
            }
        };
        out.push(c);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses `<name attr="v" .../>` at the start of `s`; returns name, attributes and the rest.
#[allow(clippy::type_complexity)]
fn empty_tag(s: &str) -> Result<(&str, Vec<(&str, String)>, &str), ValueError> {
    let s = s.trim_start();
    let body = s
        .strip_prefix('<')
        .ok_or_else(|| ValueError::Admx(format!("expected '<' at {:?}", short(s))))?;
    let name_end = body
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(body.len());
    let name = &body[..name_end];
    let mut rest = &body[name_end..];
    let mut attrs = Vec::new();
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("/>") {
            return Ok((name, attrs, r));
        }
        if rest.starts_with('>') || rest.is_empty() {
            return Err(ValueError::Admx(format!(
                "<{name}> must be an empty element (<{name}/>)"
            )));
        }
        let eq = rest
            .find('=')
            .ok_or_else(|| ValueError::Admx(format!("attribute without value in <{name}>")))?;
        let key = rest[..eq].trim();
        let after = rest[eq + 1..].trim_start();
        let q = after.chars().next().filter(|c| *c == '"' || *c == '\'');
        let q =
            q.ok_or_else(|| ValueError::Admx(format!("unquoted attribute {key} in <{name}>")))?;
        let close = after[1..]
            .find(q)
            .ok_or_else(|| ValueError::Admx(format!("unterminated attribute {key}")))?;
        attrs.push((key, unescape(&after[1..1 + close])?));
        rest = &after[close + 2..];
    }
}

fn short(s: &str) -> String {
    s.chars().take(30).collect()
}

impl CspValue for AdmxValue {
    fn to_data(&self) -> String {
        match self {
            AdmxValue::Disabled => "<disabled/>".to_string(),
            AdmxValue::Enabled(data) => {
                let mut s = "<enabled/>".to_string();
                for (id, v) in data {
                    s.push_str(&format!(
                        "<data id=\"{}\" value=\"{}\"/>",
                        escape_attr(id),
                        escape_attr(v)
                    ));
                }
                s
            }
        }
    }

    fn from_data(data: &str) -> Result<Self, ValueError> {
        let (name, attrs, rest) = empty_tag(data)?;
        if !attrs.is_empty() {
            return Err(ValueError::Admx(format!("<{name}> takes no attributes")));
        }
        match name {
            "disabled" if rest.trim().is_empty() => Ok(AdmxValue::Disabled),
            "disabled" => Err(ValueError::Admx("content after <disabled/>".into())),
            "enabled" => {
                let mut out = Vec::new();
                let mut rest = rest;
                while !rest.trim().is_empty() {
                    let (n, attrs, r) = empty_tag(rest)?;
                    if n != "data" {
                        return Err(ValueError::Admx(format!("expected <data/>, found <{n}>")));
                    }
                    let get = |k: &str| attrs.iter().find(|(a, _)| *a == k).map(|(_, v)| v.clone());
                    let id =
                        get("id").ok_or_else(|| ValueError::Admx("<data> without id".into()))?;
                    let value = get("value").ok_or_else(|| {
                        ValueError::Admx(format!("<data id=\"{id}\"> without value"))
                    })?;
                    out.push((id, value));
                    rest = r;
                }
                Ok(AdmxValue::Enabled(out))
            }
            other => Err(ValueError::Admx(format!(
                "expected <enabled/> or <disabled/>, found <{other}>"
            ))),
        }
    }
}

/// A typed handle on a leaf node: its path, its definition, and the Rust type `V` of its value.
///
/// It makes the node's commands in one call, as [`winmdm_omadm::DmCommand`]s with the
/// node's format and the typed value (no SyncML text in between): [`Leaf::replace`],
/// [`Leaf::add`], [`Leaf::get`], [`Leaf::delete`], [`Leaf::exec`]. Each checks the node's
/// AccessType first ([`LeafError::NotAllowed`]).
///
/// ```
/// # #[cfg(feature = "policy-areas")] {
/// use winmdm_csp::generated::policy_areas::camera;
/// use winmdm_csp::winmdm_omadm::{DmCommand, Value};
///
/// let allow_camera = camera::device().allow_camera();
/// let value = allow_camera.parse("0")?;
/// let DmCommand::Replace(items) = allow_camera.replace(&value)? else { unreachable!() };
/// assert_eq!(items[0].target.as_str(), "./Device/Vendor/MSFT/Policy/Config/Camera/AllowCamera");
/// assert_eq!(items[0].value, Some(Value::Int(0)));
/// assert!(allow_camera.exec(None).is_err()); // AccessType: Add, Delete, Get, Replace
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf<V> {
    path: CspPath,
    def: &'static NodeDef,
    _value: PhantomData<fn() -> V>,
}

impl<V: CspValue> Leaf<V> {
    /// Generated code builds leaves.
    #[doc(hidden)]
    pub fn new(path: CspPath, def: &'static NodeDef) -> Self {
        Leaf {
            path,
            def,
            _value: PhantomData,
        }
    }

    /// The LocURI.
    pub fn path(&self) -> &CspPath {
        &self.path
    }

    /// The node definition (format, access, allowed values, description...).
    pub fn def(&self) -> &'static NodeDef {
        self.def
    }

    /// The Meta `Format` to send with the value.
    pub fn format(&self) -> &'static Format {
        &self.def.format
    }

    /// The `<Data>` text for `value`.
    pub fn data(&self, value: &V) -> String {
        value.to_data()
    }

    /// Reads `<Data>` text as this node's value type.
    pub fn parse(&self, data: &str) -> Result<V, ValueError> {
        V::from_data(data)
    }

    /// The node's LocURI for a command. Fails only for a root the wire does not know (a
    /// [`CspPath`] does not check roots; generated paths all have known roots).
    pub fn loc_uri(&self) -> Result<LocUri<'static>, LeafError> {
        LocUri::absolute_or_relative(self.path.as_str().to_owned()).map_err(|error| {
            LeafError::LocUri {
                path: self.path.to_string(),
                error,
            }
        })
    }

    /// `value` as the [`winmdm_omadm::Value`] of this node's format ([`CspValue::to_value`]).
    pub fn value(&self, value: &V) -> Result<Value<'static>, LeafError> {
        value
            .to_value(self.format())
            .map_err(|error| LeafError::Value {
                path: self.path.to_string(),
                error,
            })
    }

    /// `Replace` of this node with `value`.
    pub fn replace(&self, value: &V) -> Result<DmCommand, LeafError> {
        let uri = self.allowed(Access::REPLACE, "Replace")?;
        Ok(DmCommand::replace(uri, self.value(value)?))
    }

    /// `Add` of this node with `value`.
    pub fn add(&self, value: &V) -> Result<DmCommand, LeafError> {
        let uri = self.allowed(Access::ADD, "Add")?;
        Ok(DmCommand::add(uri, self.value(value)?))
    }

    /// `Get` of this node.
    pub fn get(&self) -> Result<DmCommand, LeafError> {
        Ok(DmCommand::get(self.allowed(Access::GET, "Get")?))
    }

    /// `Delete` of this node.
    pub fn delete(&self) -> Result<DmCommand, LeafError> {
        Ok(DmCommand::delete(self.allowed(Access::DELETE, "Delete")?))
    }

    /// `Exec` of this node, with `value` as its data when given (a `null` node's
    /// [`NoValue`] is sent as `Format null` without data; `None` sends no Meta and no data).
    pub fn exec(&self, value: Option<&V>) -> Result<DmCommand, LeafError> {
        let uri = self.allowed(Access::EXEC, "Exec")?;
        let value = value.map(|v| self.value(v)).transpose()?;
        Ok(DmCommand::exec(uri, value))
    }

    /// The LocURI, if the node's AccessType has `access`.
    fn allowed(
        &self,
        access: Access,
        operation: &'static str,
    ) -> Result<LocUri<'static>, LeafError> {
        if !self.def.access.contains(access) {
            return Err(LeafError::NotAllowed {
                operation,
                path: self.path.to_string(),
                access: self.def.access,
            });
        }
        self.loc_uri()
    }
}

/// Why a [`Leaf`] cannot make a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LeafError {
    /// The node's AccessType does not have the operation.
    #[error("{operation} is not allowed on {path} (AccessType: {access})")]
    NotAllowed {
        /// `Replace`, `Add`, `Get`, `Delete` or `Exec`.
        operation: &'static str,
        /// The node's path.
        path: String,
        /// The node's AccessType.
        access: Access,
    },
    /// The path is not a LocURI the wire accepts ([`Leaf::loc_uri`]).
    #[error("{path} is not a LocURI: {error}")]
    LocUri {
        /// The node's path.
        path: String,
        /// Why.
        #[source]
        error: LocUriError,
    },
    /// The value cannot be sent with the node's format ([`CspValue::to_value`]).
    #[error("value of {path}: {error}")]
    Value {
        /// The node's path.
        path: String,
        /// Why.
        #[source]
        error: ValueError,
    },
}

/// Declares a generated ENUM value type.
#[allow(unused_macros)]
macro_rules! csp_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $val:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $var,)+
        }
        impl $crate::CspValue for $name {
            fn to_data(&self) -> String {
                match self { $($name::$var => $val,)+ }.to_string()
            }
            fn from_data(data: &str) -> Result<Self, $crate::ValueError> {
                match data.trim() {
                    $($val => Ok($name::$var),)+
                    other => Err($crate::ValueError::NotAllowed(other.to_string())),
                }
            }
        }
    };
}
pub(crate) use csp_enum;

/// Declares a generated Flag value type: a `u64` of known bits.
#[allow(unused_macros)]
macro_rules! csp_flags {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $val:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(u64);
        #[allow(non_upper_case_globals)]
        impl $name {
            $($(#[$vm])* pub const $var: $name = $name($val);)+
            /// Every defined bit.
            pub const ALL: u64 = 0 $(| $val)+;
            /// The bits.
            pub const fn bits(self) -> u64 { self.0 }
            /// Checks that only defined bits are set.
            pub fn from_bits(bits: u64) -> Result<Self, $crate::ValueError> {
                if bits & !Self::ALL == 0 { Ok($name(bits)) } else { Err($crate::ValueError::UnknownFlags(bits & !Self::ALL)) }
            }
            /// True if all bits of `other` are set.
            pub const fn contains(self, other: $name) -> bool { self.0 & other.0 == other.0 }
        }
        impl std::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, o: $name) -> $name { $name(self.0 | o.0) }
        }
        impl $crate::CspValue for $name {
            fn to_data(&self) -> String { self.0.to_string() }
            fn to_value(&self, format: &$crate::Format) -> Result<$crate::winmdm_omadm::Value<'static>, $crate::ValueError> {
                match i64::try_from(self.0) {
                    Ok(n) if *format == $crate::Format::Int => Ok($crate::winmdm_omadm::Value::Int(n)),
                    _ => $crate::value::value_for_format(self.0.to_string(), format),
                }
            }
            fn from_data(data: &str) -> Result<Self, $crate::ValueError> {
                let v = $crate::value::parse_int(data)?;
                Self::from_bits(u64::try_from(v).map_err(|_| $crate::ValueError::NotInt(data.to_string()))?)
            }
        }
    };
}
pub(crate) use csp_flags;

/// Declares a generated interior-node builder type.
#[allow(unused_macros)]
macro_rules! csp_node {
    ($(#[$m:meta])* $name:ident = $idx:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name($crate::CspPath);
        impl $name {
            /// The LocURI of this node.
            pub fn path(&self) -> &$crate::CspPath { &self.0 }
            /// The node definition.
            pub fn def(&self) -> &'static $crate::NodeDef { &NODES[$idx] }
        }
    };
}
pub(crate) use csp_node;
