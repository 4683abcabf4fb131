//! What web scanners send to find a flaw (wapiti's error probes, header
//! injection after a redirect target, script attributes): the probe blocks,
//! the text that looks like it passes. (A link then a `Name: value` line
//! is read as a header injected after a redirect target.)

use super::*;

#[test]
fn syntax_breaking_probes_block_and_quoted_calls_pass() {
    blocks(query("id=%27%22%28"), Class::Sqli);
    blocks(query("id=1%C2%BF%27%22%28"), Class::Sqli);
    blocks(message("1\"'("), Class::Sqli);
    messages_pass(&["print(\"'\")", "say \"it's\" (twice)", "f('', \"\")", "foo('')"]);
}

#[test]
fn headers_after_a_redirect_target_block_and_link_lists_pass() {
    blocks(query("next=http://www.example.fr%0D%0Awapiti:%203.2.3%20version"), Class::Protocol);
    blocks(message("//evil.example\nX-Anything: 1"), Class::Protocol);
    messages_pass(&[
        "https://secure.example.com/photos/1/in/photostream\r\nhttps://secure.example.com/photos/2/in/photostream",
        "https://example.com/docs\nsee the section on hooks",
    ]);
}

#[test]
fn a_script_address_as_an_attribute_blocks_and_links_pass() {
    blocks(query("x=42%20src=http://evil.example/w4p1t1xz.js"), Class::Xss);
    blocks(message("\" src=//evil.example/a.js x=\""), Class::Xss);
    messages_pass(&["Download from https://cdn.example.com/lib.js", "src=https://example.com/page"]);
}

#[test]
fn a_command_after_the_address_a_form_expects_blocks() {
    blocks(query("host=8.8.8.8%20%7Cps%20aux%7C%23"), Class::Rce);
    blocks(message("127.0.0.1 | dir |"), Class::Rce);
    blocks(message("10.0.0.1;set"), Class::Rce);
    messages_pass(&["10.0.0.1 | gateway | up", "192.168.1.1; the router", "1.2.3.4 and 5.6.7.8"]);
}
