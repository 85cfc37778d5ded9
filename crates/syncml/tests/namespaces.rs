//! Element names read by namespace (Namespaces in XML 1.0), not by local name alone: an
//! element of another namespace is an unknown element wherever it stands, and a prefix bound
//! nowhere is an error with its position and element path. Two readers that disagree about
//! which command a message holds (this decoder and a namespace-aware proxy in front of it)
//! are how request smuggling starts.

use winmdm_syncml::{
    Command, DecodeErrorKind, DecodeOptions, Limit, Limits, Quirk, SyntaxError, decode,
    decode_commands, decode_str,
};

const HDR: &str = "<SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID>\
<MsgID>1</MsgID><Target><LocURI>https://mdm.example/omadm</LocURI></Target>\
<Source><LocURI>dev</LocURI></Source></SyncHdr>";

/// A message whose `SyncBody` holds `body`, the root's attributes being `root_attrs`.
fn msg_with(root_attrs: &str, body: &str) -> String {
    format!(
        r#"<SyncML xmlns="SYNCML:SYNCML1.2"{root_attrs}>{HDR}<SyncBody>{body}<Final/></SyncBody></SyncML>"#
    )
}

fn msg(body: &str) -> String {
    msg_with("", body)
}

const REPLACE: &str = "<CmdID>2</CmdID><Item><Target><LocURI>./Vendor/MSFT/X</LocURI></Target>\
<Data>1</Data></Item>";

fn strict() -> DecodeOptions {
    DecodeOptions::strict()
}

#[test]
fn unbound_prefix_on_a_command_is_an_error_with_position_and_path() {
    let input = msg(&format!("<q:Replace>{REPLACE}</q:Replace>"));
    for opts in [DecodeOptions::default(), strict()] {
        let e = opts.decode(input.as_bytes()).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::UnboundPrefix("q".into()), "{e}");
        assert_eq!(e.offset, input.find("<q:Replace>").unwrap(), "{e}");
        assert_eq!(e.path, "SyncML/SyncBody/q:Replace", "{e}");
        assert!(
            e.to_string().contains("prefix \"q\" is not declared"),
            "{e}"
        );
    }
}

#[test]
fn a_command_in_another_namespace_is_an_unknown_element() {
    let foreign = format!(r#"<Replace xmlns="urn:other">{REPLACE}</Replace>"#);
    let input = msg(&foreign);
    let m = decode_str(&input).unwrap();
    assert_eq!(m.body.commands.len(), 1);
    match &m.body.commands[0] {
        Command::Unknown(raw) => {
            assert_eq!(raw.name, "Replace");
            assert_eq!(raw.xml, foreign, "kept verbatim");
        }
        other => panic!("decoded as {}", other.name()),
    }
    let e = strict().decode(input.as_bytes()).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::UnknownElement("Replace".into()),
        "{e}"
    );
    assert_eq!(e.offset, input.find("<Replace").unwrap(), "{e}");
    // The same under a prefix bound to another namespace.
    let input = msg_with(
        r#" xmlns:o="urn:other""#,
        &format!("<o:Replace>{REPLACE}</o:Replace>"),
    );
    let m = decode_str(&input).unwrap();
    assert!(matches!(&m.body.commands[0], Command::Unknown(r) if r.name == "o:Replace"));
}

#[test]
fn a_prefix_bound_to_syncml_reads_as_syncml() {
    let input = msg_with(
        r#" xmlns:s="SYNCML:SYNCML1.2""#,
        "<s:Replace><s:CmdID>2</s:CmdID><Item><Target><LocURI>./X</LocURI></Target><s:Data>1</s:Data></Item></s:Replace>",
    );
    let m = strict().decode(input.as_bytes()).unwrap();
    let Command::Replace(r) = &m.body.commands[0] else {
        panic!("not a Replace");
    };
    assert_eq!(r.cmd_id.as_deref(), Some("2"));
    assert_eq!(r.items[0].data.as_ref().unwrap().as_str(), "1");
    // A prefixed root.
    let input = r#"<s:SyncML xmlns:s="SYNCML:SYNCML1.2"><s:SyncHdr><s:VerDTD>1.2</s:VerDTD></s:SyncHdr><s:SyncBody><s:Final/></s:SyncBody></s:SyncML>"#;
    let m = strict().decode(input.as_bytes()).unwrap();
    assert_eq!(m.hdr.ver_dtd.as_deref(), Some("1.2"));
    assert!(m.body.r#final);
}

#[test]
fn a_default_namespace_goes_out_of_scope_with_its_element() {
    // The first Item is in another namespace (kept as unknown), the second is SyncML's
    // again; an empty element declaring a namespace does not leak it to its sibling.
    let input = msg("<Replace><CmdID>2</CmdID>\
         <Item xmlns=\"urn:x\"><Target><LocURI>./A</LocURI></Target></Item>\
         <Item><Target><LocURI>./B</LocURI></Target></Item>\
         <NoResp xmlns=\"urn:x\"/><Item><Data>c</Data></Item></Replace>");
    let m = decode_str(&input).unwrap();
    let Command::Replace(r) = &m.body.commands[0] else {
        panic!("not a Replace");
    };
    assert_eq!(r.items.len(), 2);
    assert_eq!(
        r.items[0].target.as_ref().unwrap().loc_uri.as_deref(),
        Some("./B")
    );
    assert_eq!(r.items[1].data.as_ref().unwrap().as_str(), "c");
    assert!(
        !r.no_resp,
        "a NoResp of another namespace is not SyncML's NoResp"
    );
    let names: Vec<&str> = r.extra.iter().map(|x| x.name.as_ref()).collect();
    assert_eq!(names, ["Item", "NoResp"]);
}

#[test]
fn meta_children_by_namespace() {
    let item = |meta: &str| {
        msg(&format!(
            "<Replace><CmdID>2</CmdID><Item><Target><LocURI>./X</LocURI></Target>\
             <Meta{meta}</Meta><Data>1</Data></Item></Replace>"
        ))
    };
    let meta_of = |input: &str, opts: DecodeOptions| {
        let m = opts.decode(input.as_bytes()).map_err(|e| e.kind)?;
        let Some(Command::Replace(r)) = m.body.commands.into_iter().next() else {
            panic!("not a Replace");
        };
        Ok::<_, DecodeErrorKind>(
            r.items
                .into_iter()
                .next()
                .unwrap()
                .meta
                .unwrap()
                .into_owned(),
        )
    };
    // In syncml:metinf: by default namespace on the child, or by a prefix.
    for meta in [
        r#"><Format xmlns="syncml:metinf">int</Format>"#,
        r#" xmlns:A="syncml:metinf"><A:Format>int</A:Format>"#,
        r#"><A:Format xmlns:A="syncml:metinf">int</A:Format>"#,
    ] {
        let m = meta_of(&item(meta), strict()).unwrap_or_else(|e| panic!("{meta}: {e}"));
        assert_eq!(m.format.as_deref(), Some("int"), "{meta}");
    }
    // In SyncML's namespace or a misspelt metinf: MetInfNamespace, off in strict mode.
    for meta in [
        "><Format>int</Format>",
        r#"><Format xmlns="syncml:metinfo">int</Format>"#,
    ] {
        let input = item(meta);
        let m = meta_of(&input, DecodeOptions::default()).unwrap();
        assert_eq!(m.format.as_deref(), Some("int"), "{meta}");
        assert_eq!(
            meta_of(&input, strict()).unwrap_err(),
            DecodeErrorKind::QuirkDisabled(Quirk::MetInfNamespace),
            "{meta}"
        );
    }
    // In another namespace: not a Format at all, kept as unknown.
    for meta in [
        r#"><Format xmlns="urn:other">int</Format>"#,
        r#" xmlns:A="syncml:metinf"><A:Format xmlns:A="urn:other">int</A:Format>"#,
    ] {
        let m = meta_of(&item(meta), DecodeOptions::default()).unwrap();
        assert_eq!(m.format, None, "{meta}");
        assert_eq!(m.extra.len(), 1, "{meta}");
    }
    // `Meta` itself is SyncML's: declared in syncml:metinf it is not `Meta` (nobody sends
    // this; a namespace-aware reader sees an unknown element too).
    let input = item(r#" xmlns="syncml:metinf"><Format>int</Format>"#);
    let m = decode_str(&input).unwrap();
    let Some(Command::Replace(r)) = m.body.commands.first() else {
        panic!("not a Replace");
    };
    assert!(r.items[0].meta.is_none());
    assert_eq!(r.items[0].extra[0].name, "Meta");
}

#[test]
fn fragments_without_their_envelope() {
    // Profiles are written without the envelope's declarations: `msft:` attributes and
    // `<A:Format>` in Meta (Fleet's profiles; MetInfNamespace) are accepted...
    let frag = "<Add><CmdID>1</CmdID><Item><Target><LocURI>./X</LocURI></Target>\
                <Meta><A:Format>int</A:Format></Meta><Data msft:x=\"1\">0</Data></Item></Add>";
    let cmds = decode_commands(frag.as_bytes()).unwrap();
    let Command::Add(a) = &cmds[0] else {
        panic!("not an Add");
    };
    assert_eq!(
        a.items[0].meta.as_ref().unwrap().format.as_deref(),
        Some("int")
    );
    assert_eq!(a.items[0].data.as_ref().unwrap().attr("msft:x"), Some("1"));
    let e = DecodeOptions::default()
        .with_quirks(winmdm_syncml::Quirks::all().without(Quirk::MetInfNamespace))
        .decode_commands_report(frag.as_bytes())
        .unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::QuirkDisabled(Quirk::MetInfNamespace)
    );
    // ...but an unbound prefix on a command, or anywhere outside Meta, is not.
    for (frag, at) in [
        (format!("<q:Replace>{REPLACE}</q:Replace>"), 0),
        (
            "<Add><CmdID>1</CmdID><q:Item/></Add>".to_owned(),
            "<Add><CmdID>1</CmdID>".len(),
        ),
    ] {
        let e = decode_commands(frag.as_bytes()).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::UnboundPrefix("q".into()), "{frag}");
        assert_eq!(e.offset, at, "{frag}");
    }
}

#[test]
fn original_error_needs_its_declaration_in_a_message() {
    let body = "<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>2</CmdRef><Cmd>Get</Cmd>\
                <Data msft:originalerror=\"0x86000002\">404</Data></Status>";
    let e = decode(msg(body).as_bytes()).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::UnboundPrefix("msft".into()), "{e}");
    let ok = msg_with(
        r#" xmlns:msft="http://schemas.microsoft.com/MobileDevice/MDM""#,
        body,
    );
    let m = decode(ok.as_bytes()).unwrap();
    let Command::Status(s) = &m.body.commands[0] else {
        panic!("not a Status");
    };
    assert_eq!(s.original_error(), Some("0x86000002"));
}

#[test]
fn hostile_declarations() {
    let cases: &[(&str, &str)] = &[
        (r#"<a xmlns:xmlns="urn:x"/>"#, "xmlns:xmlns"),
        (r#"<a xmlns:xml="urn:x"/>"#, "xmlns:xml elsewhere"),
        (
            r#"<a xmlns:p="http://www.w3.org/XML/1998/namespace"/>"#,
            "the XML namespace on another prefix",
        ),
        (
            r#"<a xmlns="http://www.w3.org/2000/xmlns/"/>"#,
            "the xmlns namespace as the default",
        ),
        (r#"<a xmlns:p=""/>"#, "a prefix undeclared"),
        ("<xmlns:a/>", "the xmlns prefix on an element"),
    ];
    for (frag, why) in cases {
        let input = msg(&format!("<Replace><CmdID>2</CmdID>{frag}</Replace>"));
        let e = decode(input.as_bytes()).unwrap_err();
        assert!(
            matches!(e.kind, DecodeErrorKind::InvalidNamespaceDeclaration(_)),
            "{why}: {e}"
        );
        let element = if frag.starts_with("<xmlns:") {
            "xmlns:a"
        } else {
            "a"
        };
        assert_eq!(
            e.path,
            format!("SyncML/SyncBody/Replace/{element}"),
            "{why}: {e}"
        );
    }
    // Re-declaring a prefix on one element is a duplicate attribute (XML 1.0 itself);
    // re-declaring it on a child rebinds it there and only there.
    let dup = msg(r#"<Replace xmlns:q="urn:a" xmlns:q="urn:b"><CmdID>2</CmdID></Replace>"#);
    assert!(matches!(
        decode(dup.as_bytes()).unwrap_err().kind,
        DecodeErrorKind::Syntax(SyntaxError::DuplicateAttribute(_))
    ));
    let rebound = msg_with(
        r#" xmlns:q="SYNCML:SYNCML1.2""#,
        r#"<q:Get xmlns:q="urn:other"><q:CmdID>2</q:CmdID></q:Get><q:Get><q:CmdID>3</q:CmdID></q:Get>"#,
    );
    let m = decode(rebound.as_bytes()).unwrap();
    assert!(matches!(&m.body.commands[0], Command::Unknown(_)));
    assert!(matches!(&m.body.commands[1], Command::Get(g) if g.cmd_id.as_deref() == Some("3")));
}

#[test]
fn prefix_floods_are_bounded() {
    // Many declarations on one element: Limits::max_namespace_declarations.
    let decls: String = (0..9)
        .map(|i| format!(r#" xmlns:p{i}="urn:{i}""#))
        .collect();
    let input = msg(&format!("<Replace{decls}><CmdID>2</CmdID></Replace>"));
    let e = decode(input.as_bytes()).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::LimitExceeded(Limit::NamespaceDeclarations(8)),
        "{e}"
    );
    // Declarations nested deep enough to pile up: Limits::max_namespaces_in_scope.
    let mut limits = Limits::default();
    limits.max_namespaces_in_scope = 10;
    let nested = |n: usize| {
        let open: String = (0..n)
            .map(|i| format!(r#"<a xmlns:p{i}="urn:{i}">"#))
            .collect();
        let close = "</a>".repeat(n);
        msg(&format!(
            "<Replace><CmdID>2</CmdID>{open}<p0:b/>{close}</Replace>"
        ))
    };
    let opts = DecodeOptions::default().with_limits(limits);
    // The root's default namespace is one of the ten.
    assert!(opts.decode(nested(9).as_bytes()).is_ok());
    let e = opts.decode(nested(10).as_bytes()).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::LimitExceeded(Limit::NamespacesInScope(10)),
        "{e}"
    );
    // The default allows what real messages hold many times over; siblings do not pile up.
    let siblings: String = (0..500)
        .map(|i| format!(r#"<a xmlns:p="urn:{i}"><p:b/></a>"#))
        .collect();
    let input = msg(&format!("<Replace><CmdID>2</CmdID>{siblings}</Replace>"));
    assert!(decode(input.as_bytes()).is_ok());
}

#[test]
fn original_error_is_read_by_namespace() {
    let status = |prefix: &str| {
        format!(
            "<Status><CmdID>1</CmdID><MsgRef>1</MsgRef><CmdRef>2</CmdRef><Cmd>Get</Cmd>\
             <Data {prefix}:originalerror=\"0x86000002\">404</Data></Status>"
        )
    };
    let original_error = |input: &str| {
        let m = decode(input.as_bytes()).unwrap();
        let Some(Command::Status(s)) = m.body.commands.first() else {
            panic!("not a Status");
        };
        let written = s.data.as_ref().unwrap().attrs[0].name.to_string();
        (s.original_error().map(str::to_owned), written)
    };
    // Windows's declaration on SyncBody; another prefix bound to the MDM namespace.
    for (decl, prefix) in [
        (
            r#"xmlns:msft="http://schemas.microsoft.com/MobileDevice/MDM""#,
            "msft",
        ),
        (
            r#"xmlns:m="http://schemas.microsoft.com/MobileDevice/MDM""#,
            "m",
        ),
    ] {
        let input = format!(
            r#"<SyncML xmlns="SYNCML:SYNCML1.2">{HDR}<SyncBody {decl}>{}<Final/></SyncBody></SyncML>"#,
            status(prefix)
        );
        let (e, written) = original_error(&input);
        assert_eq!(e.as_deref(), Some("0x86000002"), "{input}");
        assert_eq!(
            written,
            format!("{prefix}:originalerror"),
            "kept as written"
        );
    }
    // `msft` bound to something else is not Windows's attribute.
    let input = msg_with(r#" xmlns:msft="urn:not-mdm""#, &status("msft"));
    assert_eq!(original_error(&input).0, None);
    // A fragment binds msft as Windows's envelope does; a model built in code matches by
    // its qualified name.
    let frag = status("msft");
    let cmds = decode_commands(frag.as_bytes()).unwrap();
    let Command::Status(s) = &cmds[0] else {
        panic!("not a Status");
    };
    assert_eq!(s.original_error(), Some("0x86000002"));
    assert_eq!(
        s.data.as_ref().unwrap().attrs[0].ns.as_deref(),
        Some(winmdm_syncml::MDM_NAMESPACE)
    );
    let mut built = s.clone();
    built.data.as_mut().unwrap().attrs =
        vec![winmdm_syncml::Attr::new("msft:originalerror", "0x1")];
    assert_eq!(built.original_error(), Some("0x1"));
}
