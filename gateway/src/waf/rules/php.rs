//! PHP injection: opening tags, superglobals, dangerous functions, stream
//! wrappers, serialized objects, configuration directives and uploads of
//! PHP files.

use super::{CRITICAL, Rule, Scope, View::Norm, View::Raw, View::Short, View::Sql, WARNING, rule};
use crate::waf::Class::Php;

/// PHP functions that run code or commands, touch files, sockets or the
/// environment, or decode payloads. Split in two:
///
/// Those that are also ordinary words or common in other languages
/// (`file`, `copy`, `extract`, `print_r`): read as calls only in short values.
const PHP_WORD_FUNCTIONS: &str = r"ini_get|array_map|array_filter|usort|uasort|ob_start|forward_static_call|func_get_args|get_defined_vars|extract|parse_str|iterator_apply|simplexml_load_\w+|var_dump|print_r|var_export|chr|ord|dirname|opendir|readdir|scandir|glob|file|unlink|rename|copy|mkdir|rmdir|chmod|chown|touch|tempnam|tmpfile|getenv|get_cfg_var|getcwd|getmyuid|php_uname|phpversion|error_reporting|set_time_limit|ignore_user_abort|header|setcookie|mail|serialize|hex2bin|bin2hex|strrev|convert_uudecode|str_replace|implode|explode|compact|constant|define|defined|function_exists|class_exists|method_exists|is_callable|reflectionfunction|pfsockopen|curl_init|curl_multi_exec|ldap_\w+|tidy_\w+|date_add|dl|apache_\w+|mysqli?_\w+|pg_\w+|ssh2_\w+|ftp_\w+|imap_\w+|socket_\w+|stream_\w+|gzopen|bzopen|finfo_\w+|get_\w+|set_\w+";

/// The others: calls of them are code wherever they appear.
const PHP_CODE_FUNCTIONS: &str = r"eval|assert|system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec|create_function|call_user_func(_array)?|preg_replace|base64_decode|gzinflate|gzuncompress|gzdecode|str_rot13|file_get_contents|file_put_contents|fopen|fwrite|fputs|readfile|phpinfo|unserialize|highlight_file|show_source|symlink|putenv|ini_set|move_uploaded_file|assert_options|register_shutdown_function|register_tick_function|mb_ereg_replace|posix_\w+|escapeshellcmd|proc_\w+|stream_socket_client|fsockopen|curl_exec";

/// A call of one of `functions` with code-like arguments: a string, a
/// variable, another call, `name);`, or cut off after `(`; after `before`.
fn php_call(before: &str, functions: &str) -> String {
    format!(
        r#"{before}({functions})\s*(/\*.*\*/\s*)*\(\s*(['"`$\[]|\)\s*([;)\[]|\.\s*[a-z$(])|[a-z_0-9]+\s*\(|[a-z_0-9]{{2,}}\s*\)\s*[;.]|[0-9]+\s*\)\s*[.;]|$)"#
    )
}

/// A break-out (a quote or `;`), a call, `;` and a comment opening: the
/// rest of the line commented out after injected code.
const PHP_CALL_COMMENTED: &str = r#"[;'"]\s*[.;]?\s*[a-z_]\w*\s*\(.{0,200}\)\s*;\s*(//|#|--)"#;

/// Before a word function: not a method's `.` or `->` after a name
/// (`os.getenv("X")`, `r.get_subreddit('x')`, `$this->file('x')`). PHP
/// calls its functions bare, and other languages' methods share their
/// names; PHP's `.` joins strings (`'a'.chr(98)`), after a quote or `)`.
const NOT_A_METHOD: &str = r"(^|[^.>\w]|[^\w]\.|[^-]>)";

pub fn rules() -> Vec<Rule> {
    vec![
        // PHP's open tags (`[php]` not before `(`: a Markdown link's text).
        rule(
            6001,
            Php,
            CRITICAL,
            Norm,
            r"<\?\s*php\b|<\?=|<\?\s*$|<\?\s+[a-z_$][\w$]*\s*[($;\x22'\[]|<\?\s*(echo|print|system|eval|exec|include|require|passthru)\b|\[\?php\b|\[/?php\]([^(]|$)|\{/?php\}",
        ),
        rule(
            6002,
            Php,
            CRITICAL,
            Norm,
            r"\$_(get|post|cookie|request|server|files|env|session)\b|\$globals\b|\$http_(get|post|cookie|server|env|session|post_files|raw_post_data)_?\w*|\bphp://(input|filter|stdin|memory|temp|fd)\b",
        ),
        // Functions that execute code or commands, or read and write files,
        // called with code-like arguments: a string, a variable, another
        // call, `name);`, or cut off after `(`. Many of these names are
        // words (`file (1)`, `header (thanks, ...)`, `system (Linux)`), and
        // prose follows them with a bracketed aside instead.
        Rule { pattern: php_call(r"\b", PHP_CODE_FUNCTIONS).into(), ..rule(6003, Php, CRITICAL, Norm, "") },
        // `include` and `require` of what a server would load: a variable, a
        // path from the root, up or on a drive, or a PHP file. A bare name is
        // JavaScript's module (`require('axios')`, in every Node.js README),
        // and `#include "../x.h"` is C's; URLs are 5002's.
        rule(
            6027,
            Php,
            CRITICAL,
            Norm,
            r#"(^|[^#\w])(include|require)(_once)?\s*\(?\s*(\$|['"`]\s*(/|\.\.|[a-z]:[/\\]|[^'"`]*\.(php\d?|phtml|inc)\b))"#,
        ),
        Rule { pattern: php_call(NOT_A_METHOD, PHP_WORD_FUNCTIONS).into(), ..rule(6024, Php, CRITICAL, Short, "") },
        // A value that is nothing but one of those calls: `system(whoami)`.
        Rule {
            pattern: format!(r"^\s*({PHP_CODE_FUNCTIONS}|{PHP_WORD_FUNCTIONS})\s*\(\s*[^()]*\)\s*(\[\s*[0-9]+\s*\]\s*)?;?\s*$").into(),
            ..rule(6018, Php, CRITICAL, Norm, "")
        },
        // Code injected into a string or a statement, the rest of the line
        // commented out: `';exit(md5('x'));//`, `'.die(phpinfo());#`. A
        // break-out (a quote or `;`), a call, `;`, and a comment that ends
        // the value: what makes the injected call the last thing that runs.
        // Read in prose too: a sentence before it does not disarm it.
        Rule { pattern: format!(r"{PHP_CALL_COMMENTED}\s*$").into(), ..rule(6026, Php, CRITICAL, Norm, "") },
        // The same with the words the comment hides after it (not code:
        // `;`, braces and calls go on); prose ends code snippets so.
        Rule {
            pattern: format!(r"{PHP_CALL_COMMENTED}[^;{{}}()\n]{{1,200}}$").into(),
            ..rule(6025, Php, CRITICAL, Short, "")
        },
        // A call concatenated into the string it breaks out of, as the whole
        // value (`'.print(md5(1)).'`): PHP's and Perl's `.` joins strings.
        rule(6030, Php, CRITICAL, Short, r#"^\s*(['"])\s*\.\s*[a-z_]\w*\s*\(.{0,200}\)\s*\.\s*['"]\s*$"#),
        // A line comment between a function (or a variable) and its call:
        // `exec //x⏎ (ls)`, `$a #x⏎ ()`, with a code-like argument. Read over
        // the raw view, where the line break that ends the comment is still there.
        Rule {
            pattern: format!(r#"(?is)(\b({PHP_CODE_FUNCTIONS}|{PHP_WORD_FUNCTIONS})|\$[a-z_][a-z0-9_]*)\s*((//|#)[^\n]*\n\s*|/\*.*?\*/\s*)+\(\s*(['"$\[]|\)|[a-z_0-9]+\s*\))"#).into(),
            ..rule(6019, Php, CRITICAL, Raw, "")
        },
        // Serialized PHP objects and arrays (`O:8:"stdClass":1:{`).
        rule(6004, Php, CRITICAL, Raw, r#"(?i)\b[oc]:\d+:"[^"]+":\d+:\{|\ba:\d+:\{[si]:\d+"#),
        rule(
            6005,
            Php,
            CRITICAL,
            Norm,
            r"\b(php|phar|zlib|glob|expect|zip|compress\.zlib|compress\.bzip2|ogg|rar|ssh2\.(shell|exec|tunnel|sftp|scp))://",
        ),
        // Variable functions: `$a(1)`, `$O0O (16)`, `$_[...](...)`,
        // `(system)(ls)`; not a variable named in prose, "`$PATH` (the search
        // path)", nor a call left open or followed by a name, as PHP would
        // refuse it (random passwords: `Hj(n$A(cHmG&5X`, `$YWPX(I)q08cq`).
        rule(
            6006,
            Php,
            CRITICAL,
            Norm,
            r"\$[a-z_]\w*(\[[^\]]*\]\s*)*\([^)]*\)(\s|$|[;).,\]}+*/&|^?:=<>'\x22`-])|\$[a-z_]\w*\s+(\[[^\]]*\]\s*)*\(\s*['\x22$)\d]|\$_\s*\[|\(\s*['\x22]?\s*(system|exec|passthru|shell_exec|eval|assert|phpinfo|popen)\s*['\x22]?\s*\)\s*\(|\$\{\s*['\x22]?\w+['\x22]?\s*\}\s*\(",
        ),
        rule(
            6007,
            Php,
            CRITICAL,
            Norm,
            r"\b(allow_url_include|allow_url_fopen|auto_prepend_file|auto_append_file|disable_functions|open_basedir|safe_mode|register_globals|enable_dl|suhosin\.\w+|opcache\.\w+|mbstring\.\w+|memory_limit|extension_dir|zend_extension|unserialize_max_depth|upload_tmp_dir|max_execution_time|cgi\.force_redirect|file_uploads|expose_php|display_errors|error_log|sendmail_path|session\.save_path|mail\.add_x_header)\s*=",
        ),
        // Uploads of executable PHP files (headers, multipart file names).
        Rule {
            scope: Scope::FileName,
            ..rule(
                6008,
                Php,
                CRITICAL,
                Norm,
                r"^[^/:?=]*\.\s*(php\d*|phpt|phtml|phar|pht|phps|pgif|shtml|htaccess|inc|user\.ini)[\d.\s]*(\.\w+)?\s*$",
            )
        },
        // The same, with directories before it: a browser sends the base
        // name alone, a client writing `uploads/../shell.php` or
        // `x/dangerous.php` hopes the server keeps the path.
        Rule {
            scope: Scope::Upload,
            ..rule(
                6028,
                Php,
                CRITICAL,
                Norm,
                r"[/\\][^/\\]*\.\s*(php\d*|phpt|phtml|phar|pht|phps|pgif|shtml|htaccess|inc|user\.ini)[\d.\s]*(\.\w+)?\s*$",
            )
        },
        // `echo`/`print` as a PHP statement: a string or variable, then
        // its end (`;`, `?>`, the value's end) or more of the expression.
        // A shell's `echo "..." && exit 1` (npm's default test script)
        // goes on as a command line.
        rule(
            6009,
            Php,
            WARNING,
            Norm,
            r"\b(echo|print)\s+('[^']*('|$)|\x22[^\x22]*(\x22|$)|\$\w+)\s*([;.,\[)]|\?>|$)|\bnew\s+(reflectionfunction|splfileobject|directoryiterator|globiterator|simplexmlelement|pdo)\b",
        ),
        rule(
            6010,
            Php,
            CRITICAL,
            Norm,
            r"\$\w+\s*=\s*['\x22]?(system|exec|passthru|shell_exec|assert|eval|base64_decode|create_function|str_rot13)['\x22]?\s*;",
        ),
        rule(6011, Php, CRITICAL, Norm, r"\$\s+\{|\$\{\s*['\x22]|\$\{\s*[a-z_]\w*\s*\}\s*\(|\$\{\s*@\s*[a-z_]\w*\s*\("),
        // Function names as strings or array items, called: `"system"(ls)`,
        // `[system][0](ls)`, `($y)('uname')`, `(sy.(st).em)(...)`. Read over
        // the comment-free view: PHP drops `/* */` as SQL does.
        rule(
            6012,
            Php,
            CRITICAL,
            Sql,
            r#"['"\[]\s*(system|exec|passthru|shell_exec|eval|assert|phpinfo|popen|proc_open)\s*['"\]]\s*(\[\s*\d+\s*\]\s*|\{\s*\d+\s*\}\s*|[)}]\s*)*\(|\(\s*['"]?\s*(system|exec|passthru|shell_exec|eval|assert|phpinfo|popen)\s*['"]?\s*\)\s*\("#,
        ),
        rule(
            6013,
            Php,
            CRITICAL,
            Sql,
            r#"\(\s*\$[a-z0-9_]+\s*\)\s*\(|\(\s*[a-z0-9_]+\s*\.\s*\(\s*[a-z0-9_]+\s*\)\s*\.\s*[a-z0-9_]+\s*\)\s*\(|['"][a-z0-9_]+['"]\s*\.\s*['"][a-z0-9_]+['"]\s*;"#,
        ),
        // Variable variables called: `${@a}(10)`, `$o{0}(15)`, `$_[_]{_}(25)`.
        rule(
            6014,
            Php,
            CRITICAL,
            Sql,
            r"\$\{[^}]+\}\s*(\[[^\]]*\]\s*)*\(|\$[a-z0-9_]+\s*(\{[^}]*\}\s*|\[[^\]]*\]\s*)+\(",
        ),
        rule(6015, Php, CRITICAL, Norm, r"<\?[a-z]*\s*:\s*(echo|print|system|eval|\$|[a-z0-9_]+\s*\()"),
        // An uploaded PHP session file (`sess_<id>`) plants a session.
        Rule {
            scope: Scope::NotPath,
            ..rule(6016, Php, CRITICAL, Norm, r"(^|[/\\])sess_[a-z0-9_,-]{16,}\s*$")
        },
        // Dangerous functions glued to a prefix (`foocall_user_func()`).
        rule(
            6017,
            Php,
            CRITICAL,
            Norm,
            r"(call_user_func(_array)?|fsockopen|gzinflate|gzdecode|gzuncompress|bzdecompress|zlib_decode|shell_exec|proc_open|pcntl_exec|create_function)\s*(\(|=\s*\()",
        ),
        // php.ini directives set to a switch or a module
        // (`engine=true`, `extension=x.so`).
        rule(
            6020,
            Php,
            CRITICAL,
            Norm,
            r"^\s*(engine|extension|precision|smtp|smtp_port|short_open_tag|asp_tags|include_path|doc_root|user_dir|sendmail_from|output_handler|variables_order|auto_detect_line_endings|default_socket_timeout|log_errors|html_errors)\s*=\s*(on|off|true|false|yes|no|0|1|[a-z0-9_./-]+\.(so|dll|php|ini))\s*$",
        ),
        // Superglobals spelled with spaces (`$_s erver['x']`).
        rule(
            6021,
            Php,
            CRITICAL,
            Norm,
            r#"\$_\s*(s\s*e\s*r\s*v\s*e\s*r|g\s*e\s*t|p\s*o\s*s\s*t|c\s*o\s*o\s*k\s*i\s*e|r\s*e\s*q\s*u\s*e\s*s\s*t|f\s*i\s*l\s*e\s*s|e\s*n\s*v|s\s*e\s*s\s*s\s*i\s*o\s*n)\s*\[\s*['"]"#,
        ),
        // A value or path segment that is nothing but a call to a PHP
        // function that probes the host or the runtime (`gethostbyname(`,
        // `/unpack()`). A manual-page reference (`printf(3)`) is prose.
        rule(
            6022,
            Php,
            CRITICAL,
            Norm,
            r"(^\s*|/)(file_exists|is_array|array_diff[a-z_]*|gethostbyname|gethostbyaddr|substr|unpack|strip_tags|s?printf|intval|crypt|chroot|filegroup|fileowner|fileperms|checkdate|odbc_[a-z0-9_]+|sodium_crypto_[a-z0-9_]+|zend_[a-z0-9_]+)\s*\(\s*(\)|[^()0-9][^()]*\))?\s*;?\s*$",
        ),
        // A PHP file name with trailing dots in a header, which Windows
        // strips on save (`x.php....`), and `.phtml`.
        Rule {
            scope: Scope::FileName,
            ..rule(6023, Php, CRITICAL, Norm, r"\.(php[0-9]*|phtml|phar|pht)\.{2,}\s*$|\.phtml\s*$")
        },
    ]
}
