//! Unknown content is kept where it was found and survives a round trip exactly, even
//! when its name collides with a known element one level up.

use winmdm_enroll::*;

const ENV_START: &str = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:o="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><s:Header><a:Action>x</a:Action><x:Custom xmlns:x="urn:x" x:attr="1">keep<x:inner/></x:Custom><o:Security><o:UsernameToken><o:Username>u</o:Username><o:Password>p</o:Password><o:Nonce>bm9uY2U=</o:Nonce></o:UsernameToken></o:Security></s:Header><s:Body>"#;
const ENV_END: &str = "</s:Body></s:Envelope>";

fn round_trip(body: &str) -> Message {
    let xml = format!("{ENV_START}{body}{ENV_END}");
    let m = Message::decode(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let again = Message::decode(m.to_xml().as_bytes()).unwrap();
    assert_eq!(again, m, "{}", m.to_xml());
    m
}

#[test]
fn headers_keep_unknown_elements() {
    let m = round_trip(
        r#"<Discover xmlns="http://schemas.microsoft.com/windows/management/2012/01/enrollment"><request/></Discover>"#,
    );
    let Message::Discover(d) = m else { panic!() };
    assert_eq!(d.header.other.len(), 1);
    let c = &d.header.other[0];
    assert_eq!(
        (c.namespace.as_deref(), c.name.as_str()),
        (Some("urn:x"), "Custom")
    );
    assert_eq!(c.attributes[0].namespace.as_deref(), Some("urn:x"));
    let ut = d.header.security.unwrap().username_token.unwrap();
    assert_eq!(ut.other[0].name, "Nonce");
}

#[test]
fn discover_keeps_unknown_auth_policies_children() {
    let m = round_trip(
        r#"<Discover xmlns="http://schemas.microsoft.com/windows/management/2012/01/enrollment"><request><AuthPolicies><AuthPolicy>OnPremise</AuthPolicy><EmailAddress>inner</EmailAddress></AuthPolicies><EmailAddress>outer</EmailAddress></request></Discover>"#,
    );
    let Message::Discover(d) = m else { panic!() };
    assert_eq!(d.body.email_address.as_deref(), Some("outer"));
    assert_eq!(d.body.auth_policies_other[0].text(), "inner");
}

#[test]
fn xcep_keeps_unknown_content_per_container() {
    let m = round_trip(
        r#"<GetPoliciesResponse xmlns="http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy"><response><policies><policyID>in-policies</policyID></policies><extra/></response><oIDs><value>in-oids</value></oIDs><policies/></GetPoliciesResponse>"#,
    );
    let Message::GetPoliciesResponse(r) = m else {
        panic!()
    };
    assert_eq!(r.body.policy_id, None);
    assert_eq!(r.body.policies_other[0].text(), "in-policies");
    assert_eq!(r.body.response_other[0].name, "extra");
    assert_eq!(r.body.oids_other[0].text(), "in-oids");
    assert_eq!(r.body.other[0].name, "policies");
    let m = round_trip(
        r#"<GetPolicies xmlns="http://schemas.microsoft.com/windows/pki/2009/01/enrollmentpolicy"><Client><lastUpdate>0001-01-01T00:00:00</lastUpdate><requestFilter>in-client</requestFilter></Client></GetPolicies>"#,
    );
    let Message::GetPolicies(g) = m else { panic!() };
    assert_eq!(g.body.last_update.as_deref(), Some("0001-01-01T00:00:00"));
    assert_eq!(g.body.client_other[0].text(), "in-client");
    assert_eq!(g.body.request_filter, None);
}

#[test]
fn wstep_keeps_unknown_content_per_container() {
    let m = round_trip(
        r#"<wst:RequestSecurityToken xmlns:wst="http://docs.oasis-open.org/ws-sx/ws-trust/200512" xmlns:ac="http://schemas.xmlsoap.org/ws/2006/12/authorization"><wst:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Recovery</wst:RequestType><ac:AdditionalContext><ac:ContextItem Name="MAC"><ac:Value>1</ac:Value></ac:ContextItem><wst:TokenType>in-context</wst:TokenType><ac:ContextItem Name="MAC"><ac:Value>2</ac:Value></ac:ContextItem></ac:AdditionalContext></wst:RequestSecurityToken>"#,
    );
    let Message::RequestSecurityToken(r) = m else {
        panic!()
    };
    assert_eq!(r.body.request_type, Some(RequestType::RECOVERY));
    assert_eq!(r.body.token_type, None);
    assert_eq!(r.body.additional_context.mac_addresses(), vec!["1", "2"]);
    assert_eq!(r.body.additional_context.other[0].text(), "in-context");
    let m = round_trip(
        r#"<RequestSecurityTokenResponseCollection xmlns="http://docs.oasis-open.org/ws-sx/ws-trust/200512"><RequestSecurityTokenResponse><RequestedSecurityToken><RequestID>in-rst</RequestID></RequestedSecurityToken></RequestSecurityTokenResponse></RequestSecurityTokenResponseCollection>"#,
    );
    let Message::RequestSecurityTokenResponseCollection(c) = m else {
        panic!()
    };
    assert_eq!(c.body.responses[0].request_id, None);
    assert_eq!(c.body.responses[0].requested_other[0].text(), "in-rst");
}

#[test]
fn fault_codes_with_other_namespaces_round_trip() {
    let m = round_trip(
        r#"<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value xmlns:v="urn:vendor">v:Quota</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="de">x</s:Text></s:Reason><s:Detail><v:info xmlns:v="urn:vendor">1</v:info></s:Detail></s:Fault>"#,
    );
    let Message::Fault(f) = m else { panic!() };
    assert_eq!(f.body.code, FaultCode::SENDER);
    assert_eq!(f.http_status(), 400);
    let sub = f.body.subcode.unwrap();
    assert_eq!(sub.namespace, CodeNamespace::Other("urn:vendor".into()));
    assert_eq!(sub.name, "Quota");
    assert_eq!(sub.hresult(), None);
    assert_eq!(f.body.reason_lang.as_deref(), Some("de"));
    assert_eq!(f.body.detail_other[0].name, "info");
}

#[test]
fn escaped_whitespace_survives() {
    let m = round_trip(
        r#"<Discover xmlns="http://schemas.microsoft.com/windows/management/2012/01/enrollment"><request><X a="1&#10;2&#9;3&#13;4">line&#13;&#10;end &amp; &lt;more&gt;</X></request></Discover>"#,
    );
    let Message::Discover(d) = m else { panic!() };
    let x = &d.body.other[0];
    assert_eq!(x.attributes[0].value, "1\n2\t3\r4");
    assert_eq!(x.text(), "line\r\nend & <more>");
}

#[test]
fn namespace_names_are_unescaped() {
    // Found by fuzzing: the resolver hands out the raw attribute text of a declaration.
    let xml = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><x:h xmlns:x="urn:a&amp;b&#10;c"/></s:Header><s:Body><Discover xmlns="http://schemas.microsoft.com/windows/management/2012/01/enrollment"><request/></Discover></s:Body></s:Envelope>"#;
    let m = Message::decode(xml.as_bytes()).unwrap();
    let Message::Discover(d) = &m else { panic!() };
    assert_eq!(d.header.other[0].namespace.as_deref(), Some("urn:a&b\nc"));
    assert_eq!(Message::decode(m.to_xml().as_bytes()).unwrap(), m);
    // A namespace name with a character XML does not allow is refused.
    let bad = xml.replace("&#10;", "&#0;");
    assert!(Message::decode(bad.as_bytes()).is_err());
}
