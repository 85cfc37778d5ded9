//! Node values typed by their `Meta/Format`.

use std::borrow::Cow;

use winmdm_syncml::{Data, Meta};
use winmdm_types::Format;
use winmdm_types::base64;

/// Why wire data does not match its `Format`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// `int` data that is not a 64-bit signed integer.
    #[error("not an int: {0:?}")]
    Int(String),
    /// `bool` data other than `true`/`false`.
    #[error("not a bool: {0:?}")]
    Bool(String),
    /// `b64`/`bin` data that is not base64.
    #[error("not base64")]
    Base64,
    /// `float` data that is not a finite number.
    #[error("not a float: {0:?}")]
    Float(String),
    /// `date` data that is not `YYYY-MM-DD`.
    #[error("not a date: {0:?}")]
    Date(String),
    /// `time` data that is not an ISO 8601 time.
    #[error("not a time: {0:?}")]
    Time(String),
    /// `null` format with data.
    #[error("null format with data")]
    NullWithData,
    /// A format this crate does not know.
    #[error("unknown format {0:?}")]
    UnknownFormat(String),
}

/// A typed node value. Build values with the constructors (which validate dates and
/// times) or the enum variants; [`Value::format`] gives the `Meta/Format` to send.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value<'a> {
    /// `chr`
    Chr(Cow<'a, str>),
    /// `int`
    Int(i64),
    /// `bool`
    Bool(bool),
    /// `b64`: the decoded bytes.
    B64(Vec<u8>),
    /// `xml`: the document, written escaped as text.
    Xml(Cow<'a, str>),
    /// `node`: an interior node; on `Get` results its children's names.
    Node(Vec<String>),
    /// `null`
    Null,
    /// `bin`: the decoded bytes (base64 on the wire in XML messages).
    Bin(Vec<u8>),
    /// `float` (finite).
    Float(f64),
    /// `date` (`YYYY-MM-DD`).
    Date(Cow<'a, str>),
    /// `time` (`hh:mm:ss[.f][Z|±hh:mm]`).
    Time(Cow<'a, str>),
}

/// Decodes `b64`/`bin` data, wrapped lines allowed. The data was bounded when it was
/// received (message and object size limits); it decodes to fewer bytes than it has.
fn decode_b64(text: &str) -> Result<Vec<u8>, ValueError> {
    base64::decode_lenient(text, text.len()).map_err(|_| ValueError::Base64)
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_date(s: &str) -> bool {
    let p: Vec<&str> = s.split('-').collect();
    p.len() == 3
        && p[0].len() == 4
        && p[1].len() == 2
        && p[2].len() == 2
        && p.iter().all(|x| digits(x))
        && (1..=12).contains(&p[1].parse::<u8>().unwrap_or(0))
        && (1..=31).contains(&p[2].parse::<u8>().unwrap_or(0))
}

fn is_time(s: &str) -> bool {
    let (main, zone) = if let Some(m) = s.strip_suffix('Z') {
        (m, None)
    } else if let Some(i) = s.rfind(['+', '-']) {
        (&s[..i], Some(&s[i + 1..]))
    } else {
        (s, None)
    };
    if let Some(z) = zone {
        let zp: Vec<&str> = z.split(':').collect();
        if !(zp.len() == 2 && zp.iter().all(|x| x.len() == 2 && digits(x))) {
            return false;
        }
    }
    let (hms, frac) = match main.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (main, None),
    };
    if frac.is_some_and(|f| !digits(f)) {
        return false;
    }
    let p: Vec<&str> = hms.split(':').collect();
    p.len() == 3
        && p.iter().all(|x| x.len() == 2 && digits(x))
        && p[0].parse::<u8>().unwrap_or(99) < 24
        && p[1].parse::<u8>().unwrap_or(99) < 60
        && p[2].parse::<u8>().unwrap_or(99) < 61
}

impl<'a> Value<'a> {
    /// A `date` value, validated.
    pub fn date(s: impl Into<Cow<'a, str>>) -> Result<Self, ValueError> {
        let s = s.into();
        if is_date(&s) {
            Ok(Value::Date(s))
        } else {
            Err(ValueError::Date(s.into_owned()))
        }
    }

    /// A `time` value, validated.
    pub fn time(s: impl Into<Cow<'a, str>>) -> Result<Self, ValueError> {
        let s = s.into();
        if is_time(&s) {
            Ok(Value::Time(s))
        } else {
            Err(ValueError::Time(s.into_owned()))
        }
    }

    /// A `float` value; `None` for NaN and infinities.
    pub fn float(f: f64) -> Option<Self> {
        f.is_finite().then_some(Value::Float(f))
    }

    /// The `Meta/Format` of this value.
    pub fn format(&self) -> Format {
        match self {
            Value::Chr(_) => Format::Chr,
            Value::Int(_) => Format::Int,
            Value::Bool(_) => Format::Bool,
            Value::B64(_) => Format::B64,
            Value::Xml(_) => Format::Xml,
            Value::Node(_) => Format::Node,
            Value::Null => Format::Null,
            Value::Bin(_) => Format::Bin,
            Value::Float(_) => Format::Float,
            Value::Date(_) => Format::Date,
            Value::Time(_) => Format::Time,
        }
    }

    /// The wire text, `None` for values without `Data` (`node` without children, `null`).
    pub fn to_text(&self) -> Option<String> {
        Some(match self {
            Value::Chr(s) | Value::Xml(s) | Value::Date(s) | Value::Time(s) => s.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::B64(b) | Value::Bin(b) => base64::encode(b),
            Value::Node(c) if c.is_empty() => return None,
            Value::Node(c) => c.join("/"),
            Value::Null => return None,
            Value::Float(f) => format!("{f:?}"),
        })
    }

    /// The `Meta` to send with this value (`Format` only).
    pub fn meta(&self) -> Meta<'static> {
        Meta::format(self.format().as_str().to_owned())
    }

    /// The `Data` to send, `None` when the value has none.
    pub fn data(&self) -> Option<Data<'static>> {
        self.to_text().map(Data::text)
    }

    /// Reads a value from wire `Format` and `Data` (`chr` when `Format` is absent, as
    /// OMA-DM defaults).
    pub fn from_wire(
        format: Option<&str>,
        data: Option<&Data<'_>>,
    ) -> Result<Value<'static>, ValueError> {
        let text = data.map(Data::as_str).unwrap_or("");
        let f = format.map(Format::parse).unwrap_or(Format::Chr);
        let t = text.trim();
        Ok(match f {
            Format::Chr => Value::Chr(Cow::Owned(text.to_owned())),
            Format::Xml => Value::Xml(Cow::Owned(text.to_owned())),
            Format::Int => Value::Int(t.parse().map_err(|_| ValueError::Int(t.to_owned()))?),
            Format::Bool => match t {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return Err(ValueError::Bool(t.to_owned())),
            },
            Format::B64 => Value::B64(decode_b64(t)?),
            Format::Bin => Value::Bin(decode_b64(t)?),
            Format::Node => Value::Node(
                t.split('/')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
            Format::Null => {
                if t.is_empty() {
                    Value::Null
                } else {
                    return Err(ValueError::NullWithData);
                }
            }
            Format::Float => {
                let f: f64 = t.parse().map_err(|_| ValueError::Float(t.to_owned()))?;
                Value::float(f).ok_or_else(|| ValueError::Float(t.to_owned()))?
            }
            Format::Date => Value::date(t.to_owned())?,
            Format::Time => Value::time(t.to_owned())?,
            Format::Other(o) => return Err(ValueError::UnknownFormat(o.into_owned())),
            _ => return Err(ValueError::UnknownFormat(f.to_string())),
        })
    }

    /// Detaches the value from borrowed text.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Chr(s) => Value::Chr(Cow::Owned(s.into_owned())),
            Value::Xml(s) => Value::Xml(Cow::Owned(s.into_owned())),
            Value::Date(s) => Value::Date(Cow::Owned(s.into_owned())),
            Value::Time(s) => Value::Time(Cow::Owned(s.into_owned())),
            Value::Int(i) => Value::Int(i),
            Value::Bool(b) => Value::Bool(b),
            Value::B64(b) => Value::B64(b),
            Value::Bin(b) => Value::Bin(b),
            Value::Node(c) => Value::Node(c),
            Value::Null => Value::Null,
            Value::Float(f) => Value::Float(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(v: Value<'static>) {
        let d = v.data();
        let back = Value::from_wire(Some(v.format().as_str()), d.as_ref()).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn every_format_round_trips() {
        round(Value::Chr("a <b> & c".into()));
        round(Value::Int(-42));
        round(Value::Bool(true));
        round(Value::Bool(false));
        round(Value::B64(vec![0, 1, 2, 255]));
        round(Value::Xml("<wlan><x/></wlan>".into()));
        round(Value::Node(vec![]));
        round(Value::Node(vec!["a".into(), "b".into()]));
        round(Value::Null);
        round(Value::Bin(vec![9; 10]));
        round(Value::float(1.5).unwrap());
        round(Value::date("2024-02-29").unwrap());
        round(Value::time("23:59:60").unwrap());
        round(Value::time("12:00:00.5+01:00").unwrap());
        round(Value::time("12:00:00Z").unwrap());
    }

    #[test]
    fn invalid_data_is_rejected() {
        let d = |s: &str| Data::text(s.to_owned());
        assert_eq!(
            Value::from_wire(Some("int"), Some(&d("x"))),
            Err(ValueError::Int("x".into()))
        );
        assert!(matches!(
            Value::from_wire(Some("bool"), Some(&d("1"))),
            Err(ValueError::Bool(_))
        ));
        assert_eq!(
            Value::from_wire(Some("b64"), Some(&d("!!"))),
            Err(ValueError::Base64)
        );
        assert!(matches!(
            Value::from_wire(Some("float"), Some(&d("NaN"))),
            Err(ValueError::Float(_))
        ));
        assert!(matches!(
            Value::from_wire(Some("date"), Some(&d("2024-13-01"))),
            Err(ValueError::Date(_))
        ));
        assert!(matches!(
            Value::from_wire(Some("time"), Some(&d("25:00:00"))),
            Err(ValueError::Time(_))
        ));
        assert_eq!(
            Value::from_wire(Some("null"), Some(&d("x"))),
            Err(ValueError::NullWithData)
        );
        assert!(matches!(
            Value::from_wire(Some("jpeg"), None),
            Err(ValueError::UnknownFormat(_))
        ));
        assert!(Value::float(f64::INFINITY).is_none());
        // Format absent: chr.
        assert_eq!(
            Value::from_wire(None, Some(&d(" x "))),
            Ok(Value::Chr(" x ".into()))
        );
        assert_eq!(
            Value::from_wire(Some(" int "), Some(&d(" 7 "))),
            Ok(Value::Int(7))
        );
    }

    #[test]
    fn wrapped_base64_is_read() {
        let d = Data::text("AAEC\r\n  /w==\n".to_owned());
        assert_eq!(
            Value::from_wire(Some("b64"), Some(&d)),
            Ok(Value::B64(vec![0, 1, 2, 255]))
        );
        assert_eq!(
            Value::from_wire(Some("bin"), Some(&d)),
            Ok(Value::Bin(vec![0, 1, 2, 255]))
        );
    }

    #[test]
    fn formats_parse_and_print() {
        for f in [
            "chr", "int", "bool", "b64", "xml", "node", "null", "bin", "float", "date", "time",
        ] {
            assert_eq!(Format::parse(f).as_str(), f);
            assert!(!matches!(Format::parse(f), Format::Other(_)));
        }
        assert_eq!(Format::parse("x-custom"), Format::Other("x-custom".into()));
    }
}
