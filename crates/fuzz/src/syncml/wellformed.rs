//! The oracle of the `syncml_wellformed` target: the decoder's own XML tokenizer
//! (`winmdm_syncml::__tokenize`) against roxmltree 0.21, an independent XML parser.
//!
//! The two parsers differ on purpose in a few places; each difference is accepted only
//! after an independent check of the construct involved (nothing is exempted by error
//! kind alone):
//!
//! - Both apply Namespaces in XML 1.0 (the tokenizer resolves prefixes as it reads tags),
//!   so no namespace error is exempt: an unbound prefix, a name that is not a QName
//!   (`a:b:c`, `a:`), misuse of the reserved `xml`/`xmlns` bindings, two prefixed
//!   attributes with one expanded name are errors for both. roxmltree is laxer in three
//!   namespace rules (found by this target), so (b) accepts a tokenizer rejection there
//!   after checking the construct: an empty prefix (`<:a/>`, `:b="1"`), a declaration of
//!   the `xmlns` prefix (`xmlns:xmlns="..."`), and a prefix undeclared with an empty value
//!   (`xmlns:p=""`, allowed only in Namespaces in XML 1.1).
//! - `__tokenize` is the tokenizer alone: the document-level rules (one root element, no
//!   text outside it, the XML declaration first, no DOCTYPE) are checked by the decoder's
//!   document loop. So (a) compares the input wrapped in an element
//!   (`<?xml ...?>` + `<w>` + rest + `</w>`) when roxmltree rejects the input itself;
//!   roxmltree's `UnexpectedDeclaration` on the wrapped input (a declaration not at the
//!   start: the tokenizer returns it as a `Decl` token, which every decoder state rejects)
//!   is exempt too; inputs with `<!DOCTYPE` (in any case: the tokenizer reports `<!doctype`
//!   as one too) are skipped (the tokenizer only reports the
//!   token). Check (d) covers the document level: what `decode` accepts, roxmltree must.
//! - roxmltree is laxer than XML 1.0 in a few places (found by this target), so (b)
//!   accepts a tokenizer rejection when an independent check confirms the construct is
//!   malformed: an end tag whose name differs from its start tag's (`<a></:a>`: roxmltree
//!   compares prefix and local name only), a character reference to a surrogate or past
//!   U+10FFFF (roxmltree
//!   substitutes U+FFFD), a literal character XML forbids, a processing instruction whose
//!   target is not a `Name` or is reserved (`xml` in any case, roxmltree only knows
//!   `<?xml ` with a space as a declaration), a malformed XML declaration (roxmltree does
//!   not check the pseudo-attribute values), and a PI target with a `:` (Namespaces in
//!   XML).

use roxmltree::Error as RoxError;
use winmdm_syncml::{DecodeError, DecodeErrorKind, Limit};

/// The checks (a)-(d) on one input; panics on any violation.
pub(super) fn check(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let tok = winmdm_syncml::__tokenize(s, true);
    let rox = roxmltree::Document::parse(s).map(|_| ());
    let dec = winmdm_syncml::decode(data).map(|_| ());

    // (c) What the decoder accepts, its tokenizer accepts.
    if let (Ok(()), Err(e)) = (&dec, &tok) {
        panic!(
            "decode accepts but __tokenize rejects: {e} ({:?})\ninput: {s:?}",
            e.kind
        );
    }
    // (d) What the decoder accepts is namespace-well-formed.
    if let (Ok(()), Err(e)) = (&dec, &rox) {
        panic!("decode accepts but roxmltree rejects: {e} ({e:?})\ninput: {s:?}");
    }
    // (a) What the tokenizer accepts is well-formed.
    if let (Ok(_), Err(e)) = (&tok, &rox)
        && !has_doctype(s)
    {
        check_accepted(s, e);
    }
    // (b) What is well-formed, the tokenizer accepts (documented limits aside).
    if let (Ok(()), Err(e)) = (&rox, &tok) {
        check_rejected(s, e);
    }
}

/// (a): `__tokenize` accepted `s`, roxmltree rejected it with `e`.
fn check_accepted(s: &str, e: &RoxError) {
    // Document-level rules are the decoder's: compare inside a wrapper element.
    let w = wrap(s);
    let e2 = match roxmltree::Document::parse(&w) {
        Ok(_) => return,
        Err(e2) => e2,
    };
    if matches!(e2, RoxError::UnexpectedDeclaration(_)) {
        return;
    }
    panic!(
        "__tokenize accepts XML that roxmltree rejects: {e} ({e:?}); wrapped in <w>: {e2} \
         ({e2:?})\ninput: {s:?}"
    );
}

/// (b): roxmltree accepted `s`, `__tokenize` rejected it with `e`.
fn check_rejected(s: &str, e: &DecodeError) {
    if rejection_reason(s, e).is_some() {
        return;
    }
    panic!(
        "__tokenize rejects XML that roxmltree accepts: {e} ({:?} at byte {})\ninput: {s:?}",
        e.kind, e.offset
    );
}

/// Why the tokenizer may reject well-formed-looking input `s` with `e`: a documented limit,
/// or a construct an independent check finds malformed (roxmltree is laxer).
fn rejection_reason(s: &str, e: &DecodeError) -> Option<&'static str> {
    match &e.kind {
        DecodeErrorKind::LimitExceeded(
            Limit::Depth(_)
            | Limit::Attributes(_)
            | Limit::NamespaceDeclarations(_)
            | Limit::NamespacesInScope(_),
        ) => Some("documented limit"),
        DecodeErrorKind::InvalidNamespaceDeclaration(_) => {
            // roxmltree lets `xmlns:xmlns` and `xmlns:p=""` through.
            let rest = s.get(e.offset..)?;
            if rest.starts_with("xmlns:xmlns") && !is_name_char(rest[11..].chars().next()?) {
                return Some("xmlns:xmlns declared (roxmltree allows it)");
            }
            let name_end = rest.find(|c: char| !is_name_char(c))?;
            let after = rest[name_end..].trim_start_matches([' ', '\t', '\r', '\n']);
            let value = after
                .strip_prefix('=')?
                .trim_start_matches([' ', '\t', '\r', '\n']);
            (rest.starts_with("xmlns:") && (value.starts_with("\"\"") || value.starts_with("''")))
                .then_some("prefix undeclared with an empty value (roxmltree allows it)")
        }
        DecodeErrorKind::UnsupportedEncoding(_) => Some("encoding declaration"),
        DecodeErrorKind::InvalidChar(_) => {
            let rest = s.get(e.offset..)?;
            if let Some(c) = rest.chars().next()
                && !is_xml_char(c)
            {
                return Some("literal character XML forbids");
            }
            match char_ref_value(rest) {
                Some(v) if char::from_u32(v).is_none_or(|c| !is_xml_char(c)) => {
                    Some("character reference to a non-character (roxmltree substitutes U+FFFD)")
                }
                _ => None,
            }
        }
        DecodeErrorKind::Syntax(_) => {
            let rest = s.get(e.offset..)?;
            // Inside a processing instruction or the XML declaration?
            if let Some(body) = enclosing_pi(s, e.offset) {
                return pi_malformed(body);
            }
            if rest.starts_with("</") {
                return end_tag_mismatch(s, e.offset);
            }
            if empty_prefix(s, e.offset) {
                return Some("a name with an empty prefix (roxmltree allows it)");
            }
            if char_ref_value(rest).is_some_and(|v| v > 0x10FFFF) {
                return Some("character reference beyond Unicode (roxmltree substitutes U+FFFD)");
            }
            None
        }
        _ => None,
    }
}

/// The body (between `<?` and `?>`) of the processing instruction or XML declaration that
/// holds byte `at`, as roxmltree parsed it: its PI nodes, and the declaration it recognises
/// (`<?xml ` with a space, first after an optional BOM; it makes no node of it).
fn enclosing_pi(s: &str, at: usize) -> Option<&str> {
    let doc = roxmltree::Document::parse(s).ok()?;
    if let Some(pi) = doc
        .descendants()
        .find(|n| n.is_pi() && n.range().contains(&at))
    {
        let r = pi.range();
        return s.get(r.start + 2..r.end - 2);
    }
    let p = if s.starts_with('\u{feff}') { 3 } else { 0 };
    if s[p..].starts_with("<?xml ") {
        let end = p + s[p..].find("?>")?;
        if at < end + 2 {
            return s.get(p + 2..end);
        }
    }
    None
}

/// The end tag at `at` closes an element whose raw start-tag name differs (roxmltree
/// matches end tags by prefix and local name, so `<a></:a>` passes it; XML 1.0 wants the
/// same `Name`). The element is the one roxmltree's own tree says the end tag closes.
fn end_tag_mismatch(s: &str, at: usize) -> Option<&'static str> {
    let gt = at + s[at..].find('>')?;
    let end_name = s[at + 2..gt].trim_end_matches([' ', '\t', '\r', '\n']);
    let doc = roxmltree::Document::parse(s).ok()?;
    let el = doc
        .descendants()
        .find(|n| n.is_element() && n.range().end == gt + 1)?;
    let start_name: String = s[el.range().start + 1..]
        .chars()
        .take_while(|c| is_name_char(*c))
        .collect();
    (start_name != end_name).then_some("end tag name differs from the start tag's (roxmltree lax)")
}

/// Whether `<?` + `body` + `?>` is malformed for XML 1.0 + Namespaces, and why.
fn pi_malformed(body: &str) -> Option<&'static str> {
    let t_end = body.find([' ', '\t', '\r', '\n']).unwrap_or(body.len());
    let target = &body[..t_end];
    if !is_name(target) {
        return Some("PI target is not a Name (roxmltree stops the target at a non-name char)");
    }
    if target == "xml" {
        return (!xml_decl_ok(&body[3..])).then_some("malformed XML declaration");
    }
    if target.eq_ignore_ascii_case("xml") {
        return Some("reserved PI target");
    }
    if target.contains(':') {
        return Some("PI target with ':' (Namespaces in XML)");
    }
    None
}

/// XMLDecl after `<?xml`, up to (without) `?>`:
/// `VersionInfo EncodingDecl? SDDecl? S?`.
fn xml_decl_ok(mut r: &str) -> bool {
    fn ws1(r: &str) -> Option<&str> {
        let t = r.trim_start_matches([' ', '\t', '\r', '\n']);
        (t.len() < r.len()).then_some(t)
    }
    fn pseudo<'a>(r: &'a str, name: &str) -> Option<(&'a str, &'a str)> {
        let r = ws1(r)?.strip_prefix(name)?;
        let r = r
            .trim_start_matches([' ', '\t', '\r', '\n'])
            .strip_prefix('=')?;
        let r = r.trim_start_matches([' ', '\t', '\r', '\n']);
        let q = r.chars().next().filter(|q| matches!(q, '"' | '\''))?;
        let end = r[1..].find(q)? + 1;
        Some((&r[1..end], &r[end + 1..]))
    }
    let Some((v, rest)) = pseudo(r, "version") else {
        return false;
    };
    let ok_v = v
        .strip_prefix("1.")
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
    if !ok_v {
        return false;
    }
    r = rest;
    if let Some((enc, rest)) = pseudo(r, "encoding") {
        let ok = enc.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && enc
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok {
            return false;
        }
        r = rest;
    }
    if let Some((sd, rest)) = pseudo(r, "standalone") {
        if !matches!(sd, "yes" | "no") {
            return false;
        }
        r = rest;
    }
    r.trim_start_matches([' ', '\t', '\r', '\n']).is_empty()
}

/// The value of the character reference `&#...;` at the start of `s`, if it is one
/// (syntax only; `u32::MAX` for a value that overflows).
fn char_ref_value(s: &str) -> Option<u32> {
    let body = s.strip_prefix("&#")?;
    let semi = body.find(';')?;
    let (digits, radix) = match body[..semi].strip_prefix('x') {
        Some(h) => (h, 16),
        None => (&body[..semi], 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    Some(u32::from_str_radix(digits, radix).unwrap_or(u32::MAX))
}

/// Whether the tag at `at` (an element) or the attribute at `at` has a name with an empty
/// prefix (`<:a>`, `:b="1"`), which Namespaces in XML forbids.
fn empty_prefix(s: &str, at: usize) -> bool {
    let rest = &s[at..];
    let name = rest.strip_prefix('<').unwrap_or(rest);
    name.starts_with(':') && name[1..].chars().next().is_some_and(is_name_char)
}

/// `s` with everything after its prolog (BOM and XML declaration) inside `<w>...</w>`.
fn wrap(s: &str) -> String {
    let mut p = if s.starts_with('\u{feff}') { 3 } else { 0 };
    if s[p..].starts_with("<?xml")
        && s[p + 5..]
            .chars()
            .next()
            .is_some_and(|c| matches!(c, ' ' | '\t' | '\r' | '\n' | '?'))
        && let Some(k) = s[p..].find("?>")
    {
        p += k + 2;
    }
    format!("{}<w>{}</w>", &s[..p], &s[p..])
}

/// XML 1.0 `Char`.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// XML 1.0 `NameStartChar`.
fn is_name_start(c: char) -> bool {
    matches!(c, ':' | 'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
        | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
        | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 `NameChar`.
fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
}

/// XML 1.0 `Name`.
fn is_name(s: &str) -> bool {
    let mut it = s.chars();
    it.next().is_some_and(is_name_start) && it.all(is_name_char)
}

/// Whether `s` holds `<!DOCTYPE` in any case (the tokenizer reports each as a DOCTYPE
/// token, which only the decoder rejects).
fn has_doctype(s: &str) -> bool {
    s.as_bytes()
        .windows(9)
        .any(|w| w.eq_ignore_ascii_case(b"<!DOCTYPE"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_tag_names_compared_raw() {
        assert!(end_tag_mismatch("<S></:S>", 3).is_some());
        assert!(end_tag_mismatch("<r><S></S ></r>", 6).is_none());
    }

    #[test]
    fn pi_found_by_roxmltree() {
        let s = "<S><?xml\r<?></S>";
        assert_eq!(enclosing_pi(s, 9), Some("xml\r<"));
        assert!(pi_malformed("xml\r<").is_some());
        assert_eq!(
            enclosing_pi("<?xml version='1.0'?><a/>", 6),
            Some("xml version='1.0'")
        );
        assert_eq!(enclosing_pi("<a><?p x?></a>", 1), None);
    }

    #[test]
    fn decl_checker() {
        assert!(xml_decl_ok(r#" version="1.0""#));
        assert!(xml_decl_ok(
            r#" version='1.10' encoding="UTF-8" standalone='no' "#
        ));
        assert!(!xml_decl_ok(""));
        assert!(!xml_decl_ok(r#" version="2.0""#));
        assert!(!xml_decl_ok(r#" version="1.0"encoding="UTF-8""#));
        assert!(!xml_decl_ok(r#" version="1.0" standalone="maybe""#));
        assert!(!xml_decl_ok(r#" encoding="UTF-8" version="1.0""#));
    }

    #[test]
    fn wrapping_keeps_the_prolog_first() {
        assert_eq!(wrap("<a/>x"), "<w><a/>x</w>");
        assert_eq!(
            wrap("\u{feff}<?xml version=\"1.0\"?><a/><b/>"),
            "\u{feff}<?xml version=\"1.0\"?><w><a/><b/></w>"
        );
    }

    #[test]
    fn roxmltree_namespace_leniencies_are_verified() {
        for lax in [
            "<:a/>",
            r#"<a :b="1"/>"#,
            r#"<a xmlns:xmlns="urn:x"/>"#,
            r#"<a xmlns:p=""/>"#,
            "<a xmlns:p = ''/>",
        ] {
            assert!(roxmltree::Document::parse(lax).is_ok(), "{lax}");
            let e = winmdm_syncml::__tokenize(lax, true).unwrap_err();
            assert!(rejection_reason(lax, &e).is_some(), "{lax}: {e}");
        }
        // Namespace errors both report are not exempt.
        for strict in [
            "<q:a/>",
            "<a:b:c/>",
            r#"<a xmlns:xml="urn:x"/>"#,
            r#"<e xmlns:a="u" xmlns:b="u" a:x="1" b:x="2"/>"#,
            r#"<a xmlns:p="urn:x" xmlns:p="urn:y"/>"#,
        ] {
            assert!(roxmltree::Document::parse(strict).is_err(), "{strict}");
            let e = winmdm_syncml::__tokenize(strict, true).unwrap_err();
            assert!(rejection_reason(strict, &e).is_none(), "{strict}: {e}");
        }
    }
}
