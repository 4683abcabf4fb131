//! What records an API stores hold (faker's kinds: file paths, placeholder
//! avatars as SVG data URLs): they pass; the attack each resembles blocks.

use super::*;

#[test]
fn files_under_bin_directories_pass_and_programs_there_block() {
    passes(json(r#"{"path":"/usr/bin/atop.3g2","dir":"/usr/bin","name":"last.mpg4"}"#));
    passes(query("path=/usr/local/bin/cow_over_yuck.html"));
    blocks(query("path=/usr/bin/python3.10%20-c%20x"), Class::Rce);
    blocks(query("cmd=/bin/c%3Ft%20/etc/passwd"), Class::Rce);
    blocks(json(r#"{"cmd":"/bin/cat /etc/passwd"}"#), Class::Rce);
    blocks(query("x=;/sbin/reboot"), Class::Rce);
}

#[test]
fn svg_avatars_as_data_urls_pass_and_svg_that_runs_blocks() {
    let avatar = "data:image/svg+xml;charset=UTF-8,%3Csvg%20xmlns%3D%22http%3A%2F%2Fwww.w3.org%2F2000%2Fsvg%22%20version%3D%221.1%22%20baseProfile%3D%22full%22%20width%3D%221041%22%20height%3D%22897%22%3E%3Crect%20width%3D%22100%25%22%20height%3D%22100%25%22%20fill%3D%22%23ccde5d%22%2F%3E%3Ctext%20x%3D%22520.5%22%20y%3D%22448.5%22%20font-size%3D%2220%22%20fill%3D%22white%22%3E1041x897%3C%2Ftext%3E%3C%2Fsvg%3E";
    passes(json(&format!(r#"{{"svg":"{avatar}"}}"#)));
    passes(query(&format!("avatar={}", percent_encoded(avatar))));
    blocks(
        json(
            r#"{"svg":"data:image/svg+xml,<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>"}"#,
        ),
        Class::Xss,
    );
    blocks(json(r#"{"svg":"data:image/svg+xml,<svg><script>alert(1)</script></svg>"}"#), Class::Xss);
}

#[test]
fn api_documentation_and_examples_pass_and_the_attacks_they_resemble_block() {
    // From APIs.guru's OpenAPI documents: .NET's JSON dates, an HTTP
    // transcript in a fenced example, path globs in quotes, a module name.
    passes(json(r#"{"DateTimeUTC":"\/Date(1573516185258)\/","StartDate":"/Date(1573171200000+0000)/"}"#));
    messages_pass(&[
        "A token is obtained via the OAuth 2.0 grant.\n\nWhen accessing protected resources, the token should be provided in a Bearer authorization header.\n\nExample:\n```\nGET /vehicles HTTP/1.1\nAuthorization: Bearer yQ89j3LAnqBx42gWGUl4v\n```\n",
        "For example: 'pods' means pods. 'pods/log' means the log subresource of pods. '*' means all resources, but not subresources. 'pods/*' means all subresources of pods. '*/scale' means all scale subresources.",
        "Microsoft.Powershell.DSC",
        "PowerShell Desired State Configuration",
        "The Save-AzureRmProfile cmdlet saves the current authentication information for use in other PowerShell sessions.",
    ]);
    blocks(query("d=/Date(now())/%20or%201=1"), Class::Sqli);
    blocks(
        text(
            "barGET /a.html HTTP/1.1\r\nSomething: GET /b.html HTTP/1.1\r\nHost: foo.com\r\nUser-Agent: foo\r\nAccept: */*\r\n\r\n",
        ),
        Class::Protocol,
    );
    blocks(query("q=x%0D%0AGET%20/admin%20HTTP/1.1%0D%0AHost:%20a"), Class::Protocol);
    blocks(query("id=1%20UN/**/ION%20SEL/*x*/ECT%20password%20FROM%20users"), Class::Sqli);
    blocks(query("c=powershell%20-enc%20SQBFAFgA"), Class::Rce);
    blocks(query("c=x;powershell"), Class::Rce);
    blocks(query("c=powershell.exe%20whoami"), Class::Rce);
    blocks(query("c=x|powershell%20Get-Process"), Class::Rce);
}
