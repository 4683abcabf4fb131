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
