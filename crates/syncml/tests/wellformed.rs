//! XML 1.0 (5th edition) well-formedness of the decoder's own tokenizer (`lex.rs`) and of
//! the decoder on top of it, case by case.
//!
//! Each case is a fragment placed in a minimal valid SyncML message (in a `LocURI`, in
//! `Data`, as an element where unknown elements are kept, in an attribute value, between
//! commands, before or after the root, or as the whole document), the XML 1.0 verdict on
//! the resulting document, and the expected outcome of `decode` and of the tokenizer alone
//! (`__tokenize(s, true)`), error offsets included (relative to the fragment). The verdict
//! is cross-checked with roxmltree, an independent parser, except for DOCTYPE (always
//! rejected by design) and where roxmltree applies Namespaces in XML on top of XML 1.0.

use std::borrow::Cow;

use winmdm_syncml::{
    Command, DataContent, DecodeError, DecodeErrorKind, DecodeOptions, Limit, SyncML, SyntaxError,
    decode,
};

// ----- contexts ---------------------------------------------------------------------------

const ROOT: &str = r#"<SyncML xmlns="SYNCML:SYNCML1.2" xmlns:p="urn:p">"#;
const HDR: &str = "<SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>\
<SessionID>1</SessionID><MsgID>1</MsgID><Target><LocURI>t</LocURI></Target>\
<Source><LocURI>s</LocURI></Source></SyncHdr>";
const TAIL: &str = "<Final/></SyncBody></SyncML>";

/// Where a case's fragment goes.
#[derive(Clone, Copy, Debug)]
enum Placement {
    /// The fragment is the whole document.
    Whole,
    /// Before the root element (at the very start).
    Prolog,
    /// After the root element.
    Epilog,
    /// Between two commands in `SyncBody`.
    Body,
    /// The content of a `LocURI`.
    Loc,
    /// The content of an `Item`'s `Data`.
    Data,
    /// Where an unknown element is kept (first child of an `Item`).
    Elem,
    /// A double-quoted attribute value of an unknown element.
    Attr,
}

fn cmd(loc: &str, data: &str, elem: &str) -> String {
    format!(
        "<Replace><CmdID>2</CmdID><Item>{elem}<Target><LocURI>{loc}</LocURI></Target>\
         <Data>{data}</Data></Item></Replace>"
    )
}

fn message(body_extra: &str, loc: &str, data: &str, elem: &str) -> String {
    format!(
        "{ROOT}{HDR}<SyncBody>{}{body_extra}{}{TAIL}",
        cmd(loc, data, elem),
        cmd("./b", "y", "")
    )
}

const HOLE: &str = "\u{1}HOLE\u{1}";

/// The document for `frag` in `ctx`, and the fragment's offset in it.
fn wrap(ctx: Placement, frag: &str) -> (String, usize) {
    let template = match ctx {
        Placement::Whole => HOLE.to_owned(),
        Placement::Prolog => format!("{HOLE}{}", message("", "./a", "x", "")),
        Placement::Epilog => format!("{}{HOLE}", message("", "./a", "x", "")),
        Placement::Body => message(HOLE, "./a", "x", ""),
        Placement::Loc => message("", HOLE, "x", ""),
        Placement::Data => message("", "./a", HOLE, ""),
        Placement::Elem => message("", "./a", "x", HOLE),
        Placement::Attr => message("", "./a", "x", &format!("<Ext a=\"{HOLE}\"/>")),
    };
    let at = template.find(HOLE).expect("a hole");
    (template.replacen(HOLE, frag, 1), at)
}

// ----- expectations -----------------------------------------------------------------------

/// Expected outcome: accepted, or rejected with the error at this offset in the fragment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expected {
    Ok,
    Err(usize),
    /// Rejected; the offset is not asserted (e.g. an error at the end of input).
    ErrAny,
}

/// What roxmltree is expected to say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Roxmltree {
    /// Agrees with the XML 1.0 verdict.
    Same,
    /// Rejects a document that is XML 1.0 well-formed but not namespace-well-formed.
    Namespaces,
    /// Accepts a document XML 1.0 says is not well-formed (roxmltree is lenient about the
    /// XML declaration's values, PI targets and some character references).
    Lenient,
    /// Not checked: DOCTYPE (which roxmltree, like us, refuses by default).
    Skip,
}

/// `__tokenize` checks tokens, not the document's shape: one root element, no character
/// data outside it, the XML declaration first and no DOCTYPE are the decoder's checks
/// (the tokenizer reports `Decl` and `DocType` tokens wherever they are, and every decoder
/// state rejects them where they are not allowed; the `syncml_wellformed` fuzz target
/// exempts exactly these). Cases of that kind expect `tokenize: Expected::Ok`.
struct Case {
    name: &'static str,
    ctx: Placement,
    frag: &'static str,
    /// XML 1.0 (5th ed.) says the whole document is well-formed.
    wf: bool,
    rox: Roxmltree,
    decode: Expected,
    tokenize: Expected,
}

/// Well-formed, accepted by both.
fn ok(name: &'static str, ctx: Placement, frag: &'static str) -> Case {
    Case {
        name,
        ctx,
        frag,
        wf: true,
        rox: Roxmltree::Same,
        decode: Expected::Ok,
        tokenize: Expected::Ok,
    }
}

/// Not well-formed, rejected by both at `at` (in the fragment).
fn bad(name: &'static str, ctx: Placement, frag: &'static str, at: usize) -> Case {
    Case {
        name,
        ctx,
        frag,
        wf: false,
        rox: Roxmltree::Same,
        decode: Expected::Err(at),
        tokenize: Expected::Err(at),
    }
}

/// Well-formed XML 1.0 but not namespace-well-formed (Namespaces in XML 1.0): roxmltree
/// rejects it, and so do the decoder and its tokenizer, at `at`.
fn ns_bad(name: &'static str, ctx: Placement, frag: &'static str, at: usize) -> Case {
    Case {
        wf: true,
        rox: Roxmltree::Namespaces,
        ..bad(name, ctx, frag, at)
    }
}

/// Not well-formed, rejected by both, offset not asserted.
fn bad_any(name: &'static str, ctx: Placement, frag: &'static str) -> Case {
    Case {
        decode: Expected::ErrAny,
        tokenize: Expected::ErrAny,
        ..bad(name, ctx, frag, 0)
    }
}

impl Case {
    fn rox(mut self, r: Roxmltree) -> Self {
        self.rox = r;
        self
    }
    fn decode(mut self, e: Expected) -> Self {
        self.decode = e;
        self
    }
    fn tokenize(mut self, e: Expected) -> Self {
        self.tokenize = e;
        self
    }
}

fn tokenize(s: &str) -> Result<usize, DecodeError> {
    winmdm_syncml::__tokenize(s, true)
}

fn outcome<T>(r: &Result<T, DecodeError>, base: usize) -> Result<(), Option<usize>> {
    match r {
        Ok(_) => Ok(()),
        Err(e) => Err(e.offset.checked_sub(base)),
    }
}

fn matches(exp: Expected, got: Result<(), Option<usize>>) -> bool {
    match (exp, got) {
        (Expected::Ok, Ok(())) => true,
        (Expected::ErrAny, Err(_)) => true,
        (Expected::Err(at), Err(Some(got))) => at == got,
        _ => false,
    }
}

/// Checks every case; returns a description of each mismatch.
fn check(cases: &[Case]) -> Vec<String> {
    let mut bad = Vec::new();
    for c in cases {
        let (doc, base) = wrap(c.ctx, c.frag);
        let rox = roxmltree::Document::parse(&doc);
        let rox_ok = match c.rox {
            Roxmltree::Same => rox.is_ok() == c.wf,
            Roxmltree::Namespaces => c.wf && rox.is_err(),
            Roxmltree::Lenient => !c.wf && rox.is_ok(),
            Roxmltree::Skip => true,
        };
        if !rox_ok {
            bad.push(format!(
                "{} ({:?} {:?}): XML 1.0 verdict wf={} but roxmltree says {:?}",
                c.name,
                c.ctx,
                c.frag,
                c.wf,
                rox.as_ref().map(|_| ()).map_err(|e| e.to_string())
            ));
        }
        let d = decode(doc.as_bytes());
        if !matches(c.decode, outcome(&d, base)) {
            bad.push(format!(
                "{} ({:?} {:?}): decode expected {:?}, got {:?}",
                c.name,
                c.ctx,
                c.frag,
                c.decode,
                d.as_ref().map(|_| ()).map_err(|e| e.to_string())
            ));
        }
        let t = tokenize(&doc);
        if !matches(c.tokenize, outcome(&t, base)) {
            bad.push(format!(
                "{} ({:?} {:?}): __tokenize expected {:?}, got {:?}",
                c.name,
                c.ctx,
                c.frag,
                c.tokenize,
                t.as_ref().map(|_| ()).map_err(|e| e.to_string())
            ));
        }
    }
    bad
}

fn assert_cases(cases: &[Case]) {
    let bad = check(cases);
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

// ----- the cases --------------------------------------------------------------------------

use Placement::*;

fn text_cases() -> Vec<Case> {
    vec![
        ok("plain text", Data, "abc"),
        bad("]]> in text", Data, "a]]>b", 1),
        bad("]]> in text after a reference", Data, "&amp;]]>", 5),
        bad("]]> in LocURI", Loc, "./a]]>", 3),
        bad(
            "]]> after 32 bytes of text",
            Data,
            "0123456789012345678901234567890123456789]]>",
            40,
        ),
        ok("]] without >", Data, "a]]b"),
        ok("]> in text", Data, "a]>b"),
        ok("> alone in text", Data, "a>b"),
        ok("]] then a comment then >", Data, "]]<!---->>"),
        ok("]]> in a double-quoted attribute value", Attr, "]]>"),
        ok(
            "]]> in a single-quoted attribute value",
            Elem,
            "<Ext a='x]]>y'/>",
        ),
        ok("> in a double-quoted attribute value", Attr, "a>b"),
        ok("> in a single-quoted attribute value", Elem, "<Ext a='>'/>"),
        ok(
            "other quote in an attribute value",
            Elem,
            "<Ext a='x\"y' b=\"x'y\"/>",
        ),
        ok(
            "text with & references",
            Loc,
            "./a&amp;b&lt;&gt;&quot;&apos;",
        ),
        ok("whitespace-only text between commands", Body, " \t\r\n "),
        // Well-formed (no DTD, so any element may hold text), but SyncML containers hold
        // elements only: `UnexpectedText`, by design.
        ok("non-whitespace text between commands", Body, " x").decode(Expected::Err(1)),
        ok(
            "DEL and C1 controls are XML characters",
            Data,
            "\u{7F}\u{85}\u{9F}",
        ),
        ok("U+FEFF inside text", Data, "a\u{FEFF}b"),
        ok(
            "U+FFFD and astral characters",
            Data,
            "\u{FFFD}\u{10000}\u{10FFFF}",
        ),
    ]
}

fn comment_cases() -> Vec<Case> {
    vec![
        ok("comment", Body, "<!-- a -->"),
        ok("empty comment", Body, "<!---->"),
        ok(
            "comment holding markup and &",
            Body,
            "<!-- <a> & &foo; ]]> -->",
        ),
        ok("comment holding '->' then closing", Body, "<!--->-->"),
        ok("comment holding '>'", Body, "<!-->-->"),
        ok("comment holding single dashes", Body, "<!-- - a-b -->"),
        ok("comment in the prolog", Prolog, "<!-- c -->"),
        ok("comment in the epilog", Epilog, "<!-- c -->"),
        ok("comment inside Data", Data, "a<!-- c -->b"),
        ok("comment inside LocURI", Loc, "./a<!-- c -->b"),
        bad("-- inside a comment", Body, "<!-- a -- b -->", 7),
        bad("comment ending in --->", Body, "<!-- a --->", 7),
        bad_any("<!---> is not a complete comment", Body, "<!--->"),
        bad("unclosed comment", Body, "<!-- a", 0),
        bad("<!- is not a comment", Body, "<!- a ->", 0),
    ]
}

fn cdata_cases() -> Vec<Case> {
    vec![
        ok("empty CDATA", Data, "<![CDATA[]]>"),
        ok("]] inside CDATA", Data, "<![CDATA[a]]b]]>"),
        ok("] right before the end of CDATA", Data, "<![CDATA[a]]]>"),
        ok(
            "markup and references inside CDATA",
            Data,
            "<![CDATA[<a>&amp;&foo;<!--]]>",
        ),
        ok("CDATA in LocURI", Loc, "<![CDATA[./a]]>"),
        bad("lowercase cdata", Data, "<![cdata[x]]>", 0),
        bad("CDATA in the prolog", Prolog, "<![CDATA[x]]>", 0).tokenize(Expected::Ok),
        bad("CDATA in the epilog", Epilog, "<![CDATA[x]]>", 0).tokenize(Expected::Ok),
    ]
}

fn pi_cases() -> Vec<Case> {
    vec![
        ok("PI", Body, "<?pi data?>"),
        ok("PI without data", Body, "<?pi?>"),
        ok("PI with tab", Body, "<?pi\tdata?>"),
        ok("PI holding markup", Body, "<?pi <a> & ]]> --?>"),
        ok(
            "PI target starting with xml",
            Body,
            "<?xml-stylesheet href='a'?>",
        ),
        ok("PI target xmlfoo", Body, "<?xmlfoo?>"),
        ok("PI in the prolog", Prolog, "<?pi?>"),
        ok("PI in the epilog", Epilog, "<?pi?>"),
        ok("PI inside Data", Data, "a<?pi x?>b"),
        ok("PI inside LocURI", Loc, "./a<?pi x?>b"),
        bad("PI target XML", Body, "<?XML x?>", 0).rox(Roxmltree::Lenient),
        bad("PI target Xml", Body, "<?Xml x?>", 0).rox(Roxmltree::Lenient),
        bad("PI target xML", Prolog, "<?xML x?>", 0).rox(Roxmltree::Lenient),
        bad("PI without a target", Body, "<? pi?>", 0),
        bad(
            "PI target followed by no whitespace",
            Body,
            "<?pi\"x\"?>",
            0,
        )
        .rox(Roxmltree::Lenient),
        bad("PI target starting with a digit", Body, "<?1pi?>", 0),
        bad("unclosed PI", Body, "<?pi x", 0),
        // XML 1.0 allows it and so does roxmltree; Namespaces in XML (section 7) does not,
        // and neither does the tokenizer.
        ok("PI target with a colon", Body, "<?a:b x?>")
            .decode(Expected::Err(0))
            .tokenize(Expected::Err(0)),
    ]
}

fn decl_cases() -> Vec<Case> {
    vec![
        ok("declaration", Prolog, r#"<?xml version="1.0"?>"#),
        ok(
            "declaration with encoding and standalone",
            Prolog,
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#,
        ),
        ok(
            "declaration with standalone only",
            Prolog,
            r#"<?xml version="1.0" standalone='no'?>"#,
        ),
        ok("declaration single-quoted", Prolog, "<?xml version='1.0'?>"),
        ok(
            "declaration spaces around =",
            Prolog,
            "<?xml version = \"1.0\" ?>",
        ),
        ok("declaration newline", Prolog, "<?xml\nversion=\"1.0\"\n?>"),
        ok(
            "declaration version 1.1",
            Prolog,
            r#"<?xml version="1.1"?>"#,
        ),
        ok(
            "declaration then comment",
            Prolog,
            r#"<?xml version="1.0"?><!-- c -->"#,
        ),
        bad(
            "declaration encoding before version",
            Prolog,
            r#"<?xml encoding="UTF-8" version="1.0"?>"#,
            6,
        ),
        bad(
            "declaration standalone before encoding",
            Prolog,
            r#"<?xml version="1.0" standalone="yes" encoding="UTF-8"?>"#,
            37,
        ),
        bad(
            "declaration version 2.0",
            Prolog,
            r#"<?xml version="2.0"?>"#,
            6,
        )
        .rox(Roxmltree::Lenient),
        bad(
            "declaration version 1.",
            Prolog,
            r#"<?xml version="1."?>"#,
            6,
        )
        .rox(Roxmltree::Lenient),
        bad(
            "declaration version 1.0a",
            Prolog,
            r#"<?xml version="1.0a"?>"#,
            6,
        )
        .rox(Roxmltree::Lenient),
        bad(
            "declaration without version",
            Prolog,
            r#"<?xml encoding="UTF-8"?>"#,
            6,
        ),
        bad("declaration empty", Prolog, "<?xml?>", 5).rox(Roxmltree::Lenient),
        bad(
            "declaration standalone maybe",
            Prolog,
            r#"<?xml version="1.0" standalone="maybe"?>"#,
            20,
        )
        .rox(Roxmltree::Lenient),
        bad(
            "declaration encoding 8bit",
            Prolog,
            r#"<?xml version="1.0" encoding="8bit"?>"#,
            20,
        )
        .rox(Roxmltree::Lenient),
        bad(
            "declaration encoding empty",
            Prolog,
            r#"<?xml version="1.0" encoding=""?>"#,
            20,
        )
        .rox(Roxmltree::Lenient),
        bad(
            "declaration attributes not separated",
            Prolog,
            r#"<?xml version="1.0"encoding="UTF-8"?>"#,
            19,
        ),
        bad(
            "declaration unknown pseudo-attribute",
            Prolog,
            r#"<?xml version="1.0" foo="x"?>"#,
            20,
        ),
        bad(
            "declaration version twice",
            Prolog,
            r#"<?xml version="1.0" version="1.0"?>"#,
            20,
        ),
        bad(
            "declaration unquoted version",
            Prolog,
            "<?xml version=1.0?>",
            14,
        ),
        bad(
            "declaration after whitespace",
            Prolog,
            " <?xml version=\"1.0\"?>",
            1,
        )
        .tokenize(Expected::Ok),
        bad(
            "declaration after a comment",
            Prolog,
            r#"<!-- c --><?xml version="1.0"?>"#,
            10,
        )
        .tokenize(Expected::Ok),
        bad(
            "declaration twice",
            Prolog,
            r#"<?xml version="1.0"?><?xml version="1.0"?>"#,
            21,
        )
        .tokenize(Expected::Ok),
        bad(
            "declaration between commands",
            Body,
            r#"<?xml version="1.0"?>"#,
            0,
        )
        .tokenize(Expected::Ok),
        bad(
            "declaration inside Data",
            Data,
            r#"<?xml version="1.0"?>"#,
            0,
        )
        .tokenize(Expected::Ok),
        bad(
            "declaration inside LocURI",
            Loc,
            r#"<?xml version="1.0"?>"#,
            0,
        )
        .tokenize(Expected::Ok),
        bad(
            "declaration in the epilog",
            Epilog,
            r#"<?xml version="1.0"?>"#,
            0,
        )
        .tokenize(Expected::Ok),
        Case {
            decode: Expected::Err(21),
            tokenize: Expected::Ok,
            ..bad("declaration alone", Whole, r#"<?xml version="1.0"?>"#, 21)
        },
        Case {
            decode: Expected::Err(0),
            tokenize: Expected::Ok,
            ..bad("empty document", Whole, "", 0)
        },
        Case {
            rox: Roxmltree::Skip,
            wf: true,
            decode: Expected::Err(0),
            tokenize: Expected::Ok,
            ..bad("DOCTYPE", Prolog, "<!DOCTYPE SyncML>", 0)
        },
        Case {
            rox: Roxmltree::Skip,
            wf: true,
            decode: Expected::Err(21),
            tokenize: Expected::ErrAny,
            ..bad(
                "DOCTYPE with internal subset",
                Prolog,
                r#"<?xml version="1.0"?><!DOCTYPE SyncML [<!ENTITY e "x">]>"#,
                21,
            )
        },
        bad("DOCTYPE inside Data", Data, "<!DOCTYPE x>", 0).tokenize(Expected::Ok),
        bad("<!ELEMENT outside a DTD", Body, "<!ELEMENT x ANY>", 0),
    ]
}

fn start_tag_cases() -> Vec<Case> {
    vec![
        ok("empty element", Elem, "<a/>"),
        ok("empty element with space", Elem, "<a />"),
        ok("start and end tag", Elem, "<a></a>"),
        ok("spaces around =", Elem, "<a b = \"1\" ></a>"),
        ok(
            "tab and newline between attributes",
            Elem,
            "<a\tb=\"1\"\nc='2'\r\n/>",
        ),
        ok(
            "attribute value with references",
            Elem,
            "<a b=\"&amp;&#60;&#x3E;\"/>",
        ),
        ok("attribute value ending in /", Elem, "<a b=\"x/\"></a>"),
        ok("empty element, value ending in /", Elem, "<a b=\"x/\"/>"),
        ok("prefixed declared name", Elem, "<p:a p:b='1'/>"),
        ok("nested unknown elements", Elem, "<a><b c='1'><c/></b>t</a>"),
        ok("markup inside Data", Data, "<a b='1'><c/></a>"),
        bad("/ then space in an empty-element tag", Elem, "<a/ >", 0),
        bad("space after <", Elem, "< a/>", 0),
        bad("attributes not separated", Elem, "<a b='1'c='2'/>", 8),
        bad("/ in the middle of a tag", Elem, "<a b='1' / >", 9),
        bad("/ then space after an attribute", Elem, "<a b='1'/ >", 8),
        bad("duplicate attribute", Elem, "<a b=\"1\" b=\"2\"/>", 9),
        bad("unquoted attribute value", Elem, "<a b=1/>", 5),
        bad("attribute without a value", Elem, "<a b/>", 3),
        bad("< in an attribute value", Elem, "<a b=\"x<y\"/>", 7),
        bad("< in an attribute value (Attr)", Attr, "<", 0),
        bad("unclosed attribute value", Elem, "<a b=\"x/>", 5),
        bad(
            "attribute name starting with a digit",
            Elem,
            "<a 1b='x'/>",
            3,
        ),
        bad("attribute name with a quote", Elem, "<a b\"c\"='x'/>", 3),
        bad("element name with <", Elem, "<a<b/>", 0),
        bad("element name with a quote", Elem, "<a\"x\"/>", 0),
        bad("element name starting with a digit", Elem, "<1a/>", 0),
        bad("element name starting with -", Elem, "<-a/>", 0),
        bad("element name starting with .", Elem, "<.a/>", 0),
        bad("element name starting with U+00B7", Elem, "<\u{B7}a/>", 0),
        bad("element name starting with U+0300", Elem, "<\u{300}a/>", 0),
        bad("element name with U+00D7", Elem, "<a\u{D7}/>", 0),
        bad("element name with U+00F7", Data, "<a\u{F7}/>", 0),
        bad("< at the end of input", Whole, "<", 0).tokenize(Expected::ErrAny),
        ok(
            "names with non-ASCII letters",
            Elem,
            "<Donn\u{E9}es \u{E9}t\u{E9}='1'/>",
        ),
        ok("CJK name", Data, "<\u{65E5}\u{672C}/>"),
        ok(
            "name with U+00B7 and U+0300 inside",
            Elem,
            "<a\u{B7}\u{300}b/>",
        ),
        ok("name with . - _ and digits", Elem, "<_a.b-c9/>"),
        // Names XML 1.0 allows but Namespaces in XML 1.0 does not (not QNames), and a
        // prefix bound nowhere: rejected at the tag (roxmltree accepts `<:a/>`).
        ns_bad("element name a:b:c", Elem, "<a:b:c/>", 0),
        ns_bad("element name :a", Elem, "<:a/>", 0).rox(Roxmltree::Same),
        ns_bad("element name a:", Elem, "<a:/>", 0),
        ns_bad("undeclared prefix", Elem, "<q:a/>", 0),
        ns_bad(
            "undeclared prefix deep in Data",
            Data,
            "<a><b><q:c/></b></a>",
            6,
        ),
        ns_bad("undeclared attribute prefix", Elem, "<a q:b='1'/>", 3),
        ns_bad(
            "prefix out of scope after its element",
            Elem,
            "<a xmlns:q='u'/><q:b/>",
            16,
        ),
        ns_bad(
            "prefix of an empty element out of scope at its sibling",
            Elem,
            "<q:a xmlns:q='u'/><q:a/>",
            18,
        ),
        ok(
            "prefix declared on the element itself",
            Elem,
            "<q:a xmlns:q='u' q:b='1'/>",
        ),
        ok(
            "prefix declared on an ancestor",
            Data,
            "<a xmlns:q='u'><b><q:c/></b></a>",
        ),
        ok(
            "prefix redeclared inside",
            Elem,
            "<q:a xmlns:q='u'><q:b xmlns:q='v'/></q:a>",
        ),
        ok("xml prefix without declaration", Elem, "<a xml:lang='en'/>"),
        ok(
            "xml prefix declared as itself",
            Elem,
            "<a xmlns:xml='http://www.w3.org/XML/1998/namespace'/>",
        ),
        ns_bad(
            "xml prefix bound elsewhere",
            Elem,
            "<a xmlns:xml='urn:x'/>",
            3,
        ),
        ns_bad("xmlns prefix declared", Elem, "<a xmlns:xmlns='urn:x'/>", 3).rox(Roxmltree::Same),
        ns_bad(
            "XML namespace bound to another prefix",
            Elem,
            "<a xmlns:x='http://www.w3.org/XML/1998/namespace'/>",
            3,
        ),
        ns_bad(
            "xmlns namespace bound to a prefix",
            Elem,
            "<a xmlns:x='http://www.w3.org/2000/xmlns/'/>",
            3,
        ),
        ns_bad(
            "prefix undeclared with an empty value",
            Elem,
            "<a xmlns:q=''/>",
            3,
        )
        .rox(Roxmltree::Same),
        ns_bad("xmlns as an element prefix", Elem, "<xmlns:a/>", 0),
        ns_bad(
            "two prefixes bound to one namespace, same attribute",
            Elem,
            "<a xmlns:q='u' xmlns:r='u' q:b='1' r:b='2'/>",
            35,
        ),
    ]
}

fn end_tag_cases() -> Vec<Case> {
    vec![
        ok("space before > in an end tag", Elem, "<a></a >"),
        ok("newline before > in an end tag", Elem, "<a b='1'></a\n>"),
        ok("end tag of a prefixed element", Elem, "<p:a></p:a>"),
        ok(
            "end tag of an element that declares its prefix",
            Elem,
            "<q:a xmlns:q='u'></q:a>",
        ),
        bad("space after </", Elem, "<a></ a>", 3),
        bad("attribute in an end tag", Elem, "<a></a b>", 3),
        bad("mismatched end tag", Elem, "<a></b>", 3),
        bad("end tag longer than the open name", Elem, "<a></ab>", 3),
        bad("end tag differing in case", Elem, "<a></A>", 3),
        bad("empty end tag", Elem, "<a></>", 3),
        bad("extra end tag between commands", Body, "</x>", 0),
        bad("extra end tag after the root", Epilog, "</SyncML>", 0),
        bad("extra end tag in Data", Data, "x</y>", 1),
        bad("unclosed end tag", Epilog, "</", 0),
    ]
}

fn reference_cases() -> Vec<Case> {
    let mut v = Vec::new();
    for ctx in [Loc, Data, Attr] {
        v.extend([
            ok("&amp;", ctx, "&amp;"),
            ok("&#x41;", ctx, "&#x41;"),
            ok("&#65;", ctx, "&#65;"),
            ok("&#x0041; (leading zeros)", ctx, "&#x0041;"),
            ok("&#0000000000065; (13 digits)", ctx, "&#0000000000065;"),
            ok("&#x000000041; (9 hex digits)", ctx, "&#x000000041;"),
            ok(
                "&#x0000000000000000000000041; (many zeros)",
                ctx,
                "&#x0000000000000000000000041;",
            ),
            ok("&#x9; &#xA; &#xD;", ctx, "&#x9;&#xA;&#xD;"),
            ok("&#x10FFFF;", ctx, "&#x10FFFF;"),
            ok("&#xFFFD;", ctx, "&#xFFFD;"),
            bad("&#0;", ctx, "a&#0;", 1),
            bad("&#x1;", ctx, "a&#x1;", 1),
            bad("&#xD800;", ctx, "a&#xD800;", 1).rox(Roxmltree::Lenient),
            bad("&#xDFFF;", ctx, "a&#xDFFF;", 1).rox(Roxmltree::Lenient),
            bad("&#x110000;", ctx, "a&#x110000;", 1).rox(Roxmltree::Lenient),
            bad("&#xFFFE;", ctx, "a&#xFFFE;", 1),
            bad("&#xFFFF;", ctx, "a&#xFFFF;", 1),
            bad("&#99999999999; (overflow)", ctx, "a&#99999999999;", 1),
            bad("&#x;", ctx, "a&#x;", 1),
            bad("&#;", ctx, "a&#;", 1),
            bad("&#X41; (capital X)", ctx, "a&#X41;", 1),
            bad("&#x4G;", ctx, "a&#x4G;", 1),
            bad("&#-65;", ctx, "a&#-65;", 1),
            bad("&#+65;", ctx, "a&#+65;", 1),
            bad("&#x+41;", ctx, "a&#x+41;", 1),
            bad("&#65 ;", ctx, "a&#65 ;", 1),
            bad("&unknown;", ctx, "a&unknown;", 1),
            bad("&AMP;", ctx, "a&AMP;", 1),
            bad("&amp without ;", ctx, "a&amp b", 1),
            bad("& ;", ctx, "a& ;", 1),
            bad("lone &", ctx, "a & b", 2),
            bad("&;", ctx, "a&;", 1),
        ]);
    }
    v.extend([
        ok("&#32; between commands is character data", Body, "&#32;").decode(Expected::Err(0)),
        bad("&#32; in the prolog", Prolog, "&#32;", 0).tokenize(Expected::Ok),
        bad("&amp; in the epilog", Epilog, "&amp;", 0).tokenize(Expected::Ok),
        bad(
            "&unknown; inside an unknown element",
            Elem,
            "<a>&unknown;</a>",
            3,
        ),
        bad("&unknown; inside Data markup", Data, "<a>&unknown;</a>", 3),
        bad(
            "&unknown; in an attribute inside Data",
            Data,
            "<a b='&unknown;'/>",
            6,
        ),
    ]);
    v
}

fn char_cases() -> Vec<Case> {
    let mut v = Vec::new();
    // (name, fragment, offset of the forbidden character in it)
    let places: [(Placement, &str, &str, usize); 8] = [
        (Data, "text", "a\u{1}b", 1),
        (Loc, "LocURI", "a\u{1}b", 1),
        (Attr, "attribute", "a\u{1}b", 1),
        (Body, "comment", "<!-- \u{1} -->", 5),
        (Data, "CDATA", "<![CDATA[\u{1}]]>", 9),
        (Body, "PI", "<?pi \u{1}?>", 5),
        (Prolog, "prolog comment", "<!--\u{1}-->", 4),
        (Epilog, "epilog PI", "<?pi \u{1}?>", 5),
    ];
    for (ctx, _, frag, at) in places {
        v.push(bad("U+0001", ctx, frag, at));
    }
    for (c, name) in [
        ('\u{0}', "U+0000"),
        ('\u{8}', "U+0008"),
        ('\u{B}', "U+000B"),
        ('\u{C}', "U+000C"),
        ('\u{1F}', "U+001F"),
        ('\u{FFFE}', "U+FFFE"),
        ('\u{FFFF}', "U+FFFF"),
    ] {
        for (ctx, _, frag, at) in places {
            let f: &'static str = Box::leak(frag.replace('\u{1}', &c.to_string()).into_boxed_str());
            v.push(bad(name, ctx, f, at));
        }
    }
    v.extend([
        bad("U+FFFF in an element name", Elem, "<a\u{FFFF}/>", 2),
        bad("U+0001 in an element name", Elem, "<a\u{1}/>", 2),
        bad("U+0001 between commands", Body, "\u{1}", 0),
        bad("U+0001 at the start", Prolog, "\u{1}", 0),
        bad("U+0001 at the end", Epilog, "\u{1}", 0),
    ]);
    v
}

#[test]
fn text_and_markup_in_text() {
    assert_cases(&text_cases());
}

#[test]
fn comments() {
    assert_cases(&comment_cases());
}

#[test]
fn cdata_sections() {
    assert_cases(&cdata_cases());
}

#[test]
fn processing_instructions() {
    assert_cases(&pi_cases());
}

#[test]
fn declarations() {
    assert_cases(&decl_cases());
}

#[test]
fn start_tags() {
    assert_cases(&start_tag_cases());
}

#[test]
fn end_tags() {
    assert_cases(&end_tag_cases());
}

#[test]
fn references() {
    assert_cases(&reference_cases());
}

#[test]
fn forbidden_characters() {
    assert_cases(&char_cases());
}

// ----- values the model keeps ---------------------------------------------------------------

fn item_data<'m>(m: &'m SyncML<'_>) -> &'m winmdm_syncml::Data<'m> {
    let Command::Replace(r) = &m.body.commands[0] else {
        panic!("a Replace")
    };
    r.items[0].data.as_ref().expect("Data")
}

fn item_loc<'m>(m: &'m SyncML<'_>) -> &'m str {
    let Command::Replace(r) = &m.body.commands[0] else {
        panic!("a Replace")
    };
    r.items[0]
        .target
        .as_ref()
        .and_then(|t| t.loc_uri.as_deref())
        .expect("LocURI")
}

#[test]
fn references_in_values_are_replaced() {
    let (doc, _) = wrap(Loc, "./a&amp;b&#x41;&#66;&lt;");
    let m = decode(doc.as_bytes()).unwrap();
    assert_eq!(item_loc(&m), "./a&bAB<");
    assert_eq!(roxmltree_loc(&doc), "./a&bAB<");

    let (doc, _) = wrap(Data, "&lt;a/&gt;&#10;");
    let m = decode(doc.as_bytes()).unwrap();
    assert_eq!(
        item_data(&m).content,
        DataContent::Text(Cow::Borrowed("<a/>\n"))
    );
}

fn roxmltree_loc(doc: &str) -> String {
    let d = roxmltree::Document::parse(doc).unwrap();
    d.descendants()
        .filter(|n| n.has_tag_name(("SYNCML:SYNCML1.2", "LocURI")))
        .nth(2)
        .and_then(|n| n.text().map(str::to_owned))
        .unwrap()
}

#[test]
fn cdata_values() {
    for (frag, want) in [
        ("<![CDATA[]]>", ""),
        ("<![CDATA[a]]b]]>", "a]]b"),
        ("<![CDATA[a]]]>", "a]"),
        ("<![CDATA[<a>&amp;]]>", "<a>&amp;"),
    ] {
        let (doc, _) = wrap(Data, frag);
        let m = decode(doc.as_bytes()).unwrap();
        assert_eq!(
            item_data(&m).content,
            DataContent::CData(Cow::Borrowed(want)),
            "{frag}"
        );
    }
}

/// XML 1.0 section 3.3.3: literal tab, CR, LF and CR LF in an attribute value each become one
/// space (CR LF is one line end, section 2.11); the same characters written as references
/// are kept.
#[test]
fn attribute_values_are_normalized() {
    let raw = "x\ty\nz\r\nw\rv&#9;&#10;&#13;&#32;u";
    let want = "x y z w v\t\n\r u";
    // On Data (kept in `Data::attrs`).
    let (doc, _) = wrap(Data, "d");
    let doc = doc.replacen("<Data>d", &format!("<Data a=\"{raw}\">d"), 1);
    let m = decode(doc.as_bytes()).unwrap();
    let attrs = &item_data(&m).attrs;
    assert_eq!(attrs.len(), 1);
    assert_eq!(attrs[0].value, want);
    let rox = roxmltree::Document::parse(&doc).unwrap();
    let rox_data = rox
        .descendants()
        .find(|n| n.has_tag_name(("SYNCML:SYNCML1.2", "Data")) && n.attribute("a").is_some())
        .unwrap();
    assert_eq!(rox_data.attribute("a"), Some(want));

    // On the root (kept in `SyncML::attrs`).
    let doc = wrap(Data, "d").0.replacen(
        ROOT,
        &format!("{} foo='{raw}'>", &ROOT[..ROOT.len() - 1]),
        1,
    );
    let m = decode(doc.as_bytes()).unwrap();
    let foo = m.attrs.iter().find(|a| a.name == "foo").unwrap();
    assert_eq!(foo.value, want);
}

/// `docs/quirks.md`, `WhitespaceAroundValues`: literal whitespace around a value is trimmed,
/// whitespace written as a reference is kept.
#[test]
fn whitespace_trimming_keeps_references() {
    for (msg_id, want) in [
        (" &#32;1 ", " 1"),
        ("1&#32; \n", "1 "),
        ("&#32;", " "),
        (" \n 1 \t", "1"),
        ("\n<!-- c -->1 ", "1"),
        (" a <!-- c --> b ", "a  b"),
        (" <![CDATA[ x ]]> ", " x "),
    ] {
        let doc =
            wrap(Data, "d")
                .0
                .replacen("<MsgID>1</MsgID>", &format!("<MsgID>{msg_id}</MsgID>"), 1);
        let m = decode(doc.as_bytes()).unwrap();
        assert_eq!(m.hdr.msg_id.as_deref(), Some(want), "{msg_id:?}");
    }
}

#[test]
fn depth_limit() {
    let mut opts = DecodeOptions::default();
    opts.limits.max_depth = 10;
    // SyncML, SyncBody, Replace, Item, Data: 5 levels; 5 more fit, the 6th does not.
    for tag in ["<a>", "<a b='1'>", "<a/>"] {
        let deep_ok = "<a>".repeat(4) + "<a/>" + &"</a>".repeat(4);
        let (doc, _) = wrap(Data, Box::leak(deep_ok.into_boxed_str()));
        opts.decode(doc.as_bytes()).unwrap();

        let frag = "<a>".repeat(5) + tag + "</a>".repeat(5).as_str();
        let frag = if tag == "<a/>" {
            frag
        } else {
            "<a>".repeat(5) + tag + "</a>".repeat(6).as_str()
        };
        let (doc, base) = wrap(Data, Box::leak(frag.into_boxed_str()));
        let e = opts.decode(doc.as_bytes()).unwrap_err();
        assert_eq!(
            e.kind,
            DecodeErrorKind::LimitExceeded(Limit::Depth(10)),
            "{tag}"
        );
        assert_eq!(e.offset, base + 15, "{tag}");
    }
    // The tokenizer alone: the default limit, 64.
    let ok = "<a>".repeat(64) + &"</a>".repeat(64);
    assert!(tokenize(&ok).is_ok());
    let deep = "<a>".repeat(65) + &"</a>".repeat(65);
    let e = tokenize(&deep).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::LimitExceeded(Limit::Depth(64)));
    assert_eq!(e.offset, 64 * 3);
}

// ----- once divergences, fixed after the review ----------------------------------------------

/// `docs/quirks.md`, `WhitespaceAroundValues`: whitespace *around* a value is trimmed, also
/// when a comment or processing instruction stands between it and the value.
#[test]
fn whitespace_trimming_across_comments() {
    for (msg_id, want) in [
        (" <!-- c --> 1", "1"),
        ("1 <!-- c --> ", "1"),
        (" <?pi?> 1 <!-- c --> ", "1"),
    ] {
        let doc =
            wrap(Data, "d")
                .0
                .replacen("<MsgID>1</MsgID>", &format!("<MsgID>{msg_id}</MsgID>"), 1);
        let m = decode(doc.as_bytes()).unwrap();
        assert_eq!(m.hdr.msg_id.as_deref(), Some(want), "{msg_id:?}");
    }
}

/// XML 1.0 section 2.11: a parser passes CR LF and lone CR in character data on as LF
/// (roxmltree does), in text and CDATA alike; a `&#13;` reference stays a CR.
#[test]
fn line_ends_are_normalized_in_text() {
    let (doc, _) = wrap(Loc, "./a\r\nb\rc");
    let m = decode(doc.as_bytes()).unwrap();
    assert_eq!(item_loc(&m), roxmltree_loc(&doc));
    assert_eq!(item_loc(&m), "./a\nb\nc");
    // A reference is not a line end: `&#13;` stays a CR, the literal CR LF after it is LF.
    let (doc, _) = wrap(Loc, "a&#13;\r\nb");
    let m = decode(doc.as_bytes()).unwrap();
    assert_eq!(item_loc(&m), "a\r\nb");
    assert_eq!(item_loc(&m), roxmltree_loc(&doc));
    for (frag, want) in [
        ("a\r\nb\rc", DataContent::Text(Cow::Borrowed("a\nb\nc"))),
        (
            "<![CDATA[a\r\nb]]>",
            DataContent::CData(Cow::Borrowed("a\nb")),
        ),
    ] {
        let (doc, _) = wrap(Data, frag);
        let m = decode(doc.as_bytes()).unwrap();
        assert_eq!(item_data(&m).content, want, "{frag:?}");
    }
}

/// Offsets count bytes of the input as given: after a UTF-8 BOM, and in UTF-16 input (BOM
/// plus two bytes per code unit); line and column point at the same byte.
#[test]
fn error_offsets_in_input_bytes() {
    let (doc, base) = wrap(Loc, "./\u{E9}\n&#X41;");
    let e = decode(doc.as_bytes()).unwrap_err();
    assert_eq!(e.offset, base + 5);
    assert_eq!((e.line, e.column), (2, 1));

    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(doc.as_bytes());
    let e = decode(&bom).unwrap_err();
    assert_eq!(e.offset, 3 + base + 5);

    let (doc, _) = wrap(Prolog, r#"<?xml version="2.0"?>"#);
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(doc.as_bytes());
    assert_eq!(decode(&bom).unwrap_err().offset, 3 + 6);

    // UTF-16LE with a BOM: the forbidden U+0001 after "./é" (3 code units before it).
    let (doc, base) = wrap(Loc, "./\u{E9}\u{1}");
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(doc.encode_utf16().flat_map(u16::to_le_bytes));
    let e = decode(&utf16).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::InvalidChar(1));
    let units_before = doc[..base].encode_utf16().count() + 3;
    assert_eq!(e.offset, 2 + 2 * units_before);

    // An element left open by the next end tag: that end tag.
    let (doc, base) = wrap(Data, "<a>");
    let e = decode(doc.as_bytes()).unwrap_err();
    assert_eq!(e.offset, base + 3);
    assert_eq!(tokenize(&doc).unwrap_err().offset, base + 3);

    // Input that ends inside elements: the end of the input.
    let (doc, base) = wrap(Data, "x");
    let cut = &doc[..base + 1];
    assert_eq!(decode(cut.as_bytes()).unwrap_err().offset, cut.len());
    assert_eq!(tokenize(cut).unwrap_err().offset, cut.len());
}

/// A CR cannot stand inside a CDATA section (every parser reads it as LF). The encoder
/// writes it as `&#13;` between two sections, which any parser reads as a CR, and the
/// decoder joins such sections back into one CDATA value: the round trip is exact, and a
/// conforming parser (roxmltree) reads the same text.
#[test]
fn cdata_holding_a_cr_round_trips() {
    for value in ["a\r\nb", "\r", "x\r", "\ry", "a]]>\rb", "\r\r\n\r"] {
        let (doc, _) = wrap(Data, "<![CDATA[placeholder]]>");
        let mut m = decode(doc.as_bytes()).unwrap().into_owned();
        let Command::Replace(r) = &mut m.body.commands[0] else {
            panic!("a Replace")
        };
        r.items[0].data.as_mut().expect("Data").content =
            DataContent::CData(Cow::Owned(value.to_owned()));
        let wire = m.to_xml().unwrap();
        assert!(wire.contains("]]>&#13;<![CDATA["), "{wire}");
        assert_eq!(wire.len(), m.encoded_len());
        let back = decode(wire.as_bytes()).unwrap();
        assert_eq!(back, m, "{value:?}");
        let rox = roxmltree::Document::parse(&wire).unwrap();
        let data = rox
            .descendants()
            .find(|n| n.has_tag_name("Data"))
            .expect("Data");
        let text: String = data.children().filter_map(|n| n.text()).collect();
        assert_eq!(text, value, "roxmltree reads {value:?}");
    }
    // Whitespace or other text next to the references is not the encoder's form: kept as
    // markup, verbatim.
    let (doc, _) = wrap(Data, "<![CDATA[a]]> &#13;<![CDATA[b]]>");
    let m = decode(doc.as_bytes()).unwrap();
    assert!(matches!(item_data(&m).content, DataContent::Xml(_)));
}

/// Error kinds a user sees for references and DOCTYPEs.
#[test]
fn error_kinds_for_references_and_doctype() {
    let kind = |frag: &str| {
        let (doc, _) = wrap(Data, frag);
        decode(doc.as_bytes()).unwrap_err().kind
    };
    // A code point XML forbids is an invalid character; a number beyond Unicode is not a
    // character at all.
    assert_eq!(kind("&#0;"), DecodeErrorKind::InvalidChar(0));
    assert_eq!(kind("&#xFFFE;"), DecodeErrorKind::InvalidChar(0xFFFE));
    assert!(matches!(
        kind("&#x110000;"),
        DecodeErrorKind::Syntax(SyntaxError::CharReferenceBeyondUnicode(_))
    ));
    assert!(matches!(
        kind("&#99999999999;"),
        DecodeErrorKind::Syntax(SyntaxError::CharReferenceBeyondUnicode(_))
    ));
    assert_eq!(
        kind("&nbsp;"),
        DecodeErrorKind::UnknownEntity("nbsp".into())
    );
    // `<!doctype` in any case is reported as the DOCTYPE it was meant to be.
    for d in ["<!DOCTYPE", "<!doctype", "<!DocType"] {
        let doc = format!("{d} SyncML [<!ENTITY a \"b\">]><SyncML/>");
        assert_eq!(
            decode(doc.as_bytes()).unwrap_err().kind,
            DecodeErrorKind::DocType,
            "{d}"
        );
    }
}

/// Syntax errors are typed: the variant names the mistake and carries the names the
/// message shows.
#[test]
fn syntax_errors_name_the_mistake() {
    let kind = |frag: &str| {
        let (doc, _) = wrap(Data, frag);
        decode(doc.as_bytes()).unwrap_err().kind
    };
    let mismatched = kind("<a></b>");
    assert_eq!(
        mismatched,
        DecodeErrorKind::Syntax(SyntaxError::MismatchedEndTag {
            end: "b".into(),
            open: "a".into(),
        })
    );
    assert_eq!(
        mismatched.to_string(),
        "malformed XML: end tag </b> does not match the open <a>"
    );
    assert_eq!(
        kind("<a x='1' x='2'/>"),
        DecodeErrorKind::Syntax(SyntaxError::DuplicateAttribute("x".into()))
    );
    assert_eq!(
        kind("<a x/>"),
        DecodeErrorKind::Syntax(SyntaxError::AttributeWithoutValue("x".into()))
    );
    assert_eq!(
        kind("<!-- a -- b -->"),
        DecodeErrorKind::Syntax(SyntaxError::DoubleHyphenInComment)
    );
    assert_eq!(
        kind("&#xZ;"),
        DecodeErrorKind::Syntax(SyntaxError::InvalidCharReference("#xZ".into()))
    );
    assert_eq!(
        kind("&#xZ;").to_string(),
        "malformed XML: invalid character reference &#xZ;"
    );
}
