//! Server-side template injection, Node.js/Perl/Ruby code injection, SSRF
//! targets, prototype pollution, and protocol attacks carried inside values
//! (CRLF header injection, request smuggling, NUL bytes, LDAP filters).

use super::{CRITICAL, Rule, Scope, View::Norm, View::Raw, View::RawShort, WARNING, rule};
use crate::waf::Class::{Generic, Ldap, Protocol, Template};

pub fn rules() -> Vec<Rule> {
    vec![
        // Arithmetic probes: `{{7*7}}`, `${7*7}`, `<%= 7*7 %>`, `#{7*7}`,
        // doT's `{{= }}`, EJS's unescaped `<%- %>`, and Thymeleaf's other
        // expressions (`*{7*7}`, `@{..}`, `~{..}`).
        rule(
            8001,
            Template,
            CRITICAL,
            Norm,
            r#"(\{\{=?|\$\{|[#*@~]\{|<%[=-]?|\{%|\$\{\{|@\()\s*['"]?\d+['"]?\s*[*+/-]\s*['"]?\d+['"]?\s*(\}\}|\}|%>|%\}|\))"#,
        ),
        // Jinja2/Twig/Freemarker/Velocity sandbox escapes, Django's and
        // Jinja's `{% debug %}`, and Handlebars's (`{{#with split as
        // |conslist|}}{{this.pop}}`, a string literal as the context to
        // reach String's prototype); Freemarker's
        // directives and data model, Smarty's `{$smarty.`, Django's secret,
        // Twig's `dump(app)` and a filter that runs a command, Razor's code
        // blocks and .NET's process class.
        rule(
            8002,
            Template,
            CRITICAL,
            Norm,
            r"__(class|mro|subclasses|globals|builtins|import|base|bases|dict|getattribute|reduce)__|\{\{.*\b(config|self|request|lipsum|cycler|joiner|namespace|url_for|get_flashed_messages|range)\b.*\}\}|\{%.*\b(import|include|set|for|if|macro|extends|debug)\b.*%\}|<#assign\b|\?new\s*\(|freemarker\.template|\#set\s*\(\s*\$|\$class\.inspect|#foreach\s*\(|\b_self\s*\.\s*env\b|\bregisterundefinedfiltercallback\b|\{\{#with\s+(split|['\x22][^'\x22]*['\x22])\s+as\b|\bstring\.sub\.apply\b|\{\{\s*this\.(pop|push)\s*\}\}|<#(list|include|import|attempt|macro|function|setting)\b|\.data_model\b|\{\$smarty\.|\bsettings\.secret_key\b|\bdump\s*\(\s*app\b|\bapp\.request\.server\b|\{\{[^}]*\|\s*(system|exec|passthru|shell_exec|popen|proc_open)\s*(\}\}|\()|\bsystem\.diagnostics\.process\b|(^|\s)@\{\s*var\s",
        ),
        // Template delimiters of different engines run together
        // (`${{<%[%'"}}%\.`): the polyglot that probes which engine renders a
        // value. No template writes two openers with nothing between them.
        rule(8004, Template, CRITICAL, Norm, r"(\$\{|\{\{|<%|\[%|#\{)[^\w\s]{0,3}(<%|\[%|#\{|\$\{)"),
        rule(
            8003,
            Template,
            WARNING,
            Norm,
            r"\{\{[^}]*[(\[.|][^}]*\}\}|\$\{[^}]*[(\[][^}]*\}|#\{[^}]*[(\[.][^}]*\}",
        ),
        // Out-of-band interaction hosts that scanners plant to see whether a
        // value is fetched, resolved or logged (`x.oastify.com`).
        rule(
            9531,
            Generic,
            CRITICAL,
            Norm,
            r"[./@]?\b(burpcollaborator\.net|oastify\.com|interact\.sh|oast\.(pro|live|site|online|fun|me)|dnslog\.cn|ceye\.io|canarytokens\.com)\b",
        ),
        // Node.js code injection.
        rule(
            9501,
            Generic,
            CRITICAL,
            Norm,
            r"\brequire\s*\(\s*['\x22`]?(child_process|fs|net|http|vm|os)|\bchild_process\b|\bprocess\s*\.\s*(mainmodule|binding|env|exit|kill|dlopen|stdout|cwd)\b|\brequire\s*\.\s*main\b|\.constructor\s*\.\s*_load\b|\bglobal\s*\.\s*process\b|\bmodule\s*\.\s*(constructor|require)\b|\b(execsync|spawnsync|execfilesync|readfilesync|writefilesync|readdirsync)\s*\(|\bnew\s+function\s*\(|\bfunction\s*\(\s*\)\s*\{|\beval\s*\(",
        ),
        // Prototype pollution, also as JSON text inside a value, where the
        // body walker's `constructor.prototype` path does not reach.
        rule(
            9502,
            Generic,
            CRITICAL,
            Norm,
            r"__proto__|\bconstructor\s*(\.\s*|\[\s*['\x22]?)prototype\b|\[\s*['\x22]?constructor['\x22]?\s*\]|['\x22]constructor['\x22]\s*:\s*\{\s*['\x22]prototype['\x22]\s*:",
        ),
        // Perl and Ruby code execution.
        rule(
            9503,
            Generic,
            CRITICAL,
            Norm,
            r"@\{\s*\[|\bsystem\s*\(\s*['\x22]|\b(kernel|io)\s*\.\s*(exec|system|popen|open)\b|%x\{|\bopen3\b|\bsyscall\s*\(|\binstance_eval\b|\bclass_eval\b|\bmodule_eval\b|\bsend\s*\(\s*:",
        ),
        // SSRF: schemes only a forged fetch uses, metadata names and addresses.
        Rule {
            scope: Scope::NotHeader,
            ..rule(
                9504,
                Generic,
                CRITICAL,
                Norm,
                // The hosts of URLs are `waf::ssrf`'s (rule 9530); these are
                // the schemes and names that need no URL around them.
                r"^\s*(gopher|dict|ldap|tftp|jar|netdoc)://|\bhost\.docker\.internal\b|\bkubernetes\.default\b|\bmetadata\.google\.internal\b|\binstance-data\b|169\.254\.169\.254",
            )
        },
        // Endless loops, base64 `data:` URLs of text or code (not raster
        // images, which payloads carry as data), `localhost/`. (A 32-bit hex
        // literal is rule 1022's notice alone: counted here too, `0xabad1dea`
        // and a log's pointers blocked on their own.)
        Rule {
            scope: Scope::NotHeader,
            ..rule(
                9505,
                Generic,
                WARNING,
                Norm,
                r"\bwhile\s*\(\s*(true|1)\s*\)|\bfor\s*\(\s*;\s*;\s*\)|\bdata\s*:\s*((text|application|image/svg\+xml)[a-z0-9/+.-]*)?\s*;\s*base64\s*,|\blocalhost/",
            )
        },
        // A request line or headers smuggled into a value. Not in prose: a
        // document (an issue body, a forum post) pastes HTTP transcripts and
        // writes "Location: New York" on a line of its own; paths and
        // headers are never prose, and short values are read.
        // Mail headers count after an address (`a@example.com\nBcc: b@evil`),
        // any header after an address a redirect takes (`//x.example\r\nX: 1`).
        rule(
            9001,
            Protocol,
            CRITICAL,
            RawShort,
            r"(?i)(^|[\r\n])\s*(get|post|head|put|delete|options|connect|trace|patch|propfind)\s+\S+\s+http/\d(\.\d)?|[\r\n]\s*(set-cookie|location|content-(type|length|disposition)|transfer-encoding|refresh|host|x-[\w-]+|access-control-[\w-]+|remote-addr|cookie)\s*:\s*\S|@[\w.-]+\.[a-z]{2,}\s*[\r\n]\s*(cc|bcc|to|from|reply-to|subject)\s*:\s*\S|^\s*(https?:)?//\S*[\r\n]+\s*[\w-]+\s*:\s*[^/\s]",
        ),
        // The same header after a character whose low byte is a line
        // break (`嘊嘍`, U+560A U+560D, `%E5%98%8A%E5%98%8D`): HTTP stacks
        // that write header values as Latin-1 keep only that byte. In UTF-8
        // (the engine matches bytes) those are the two- and three-byte
        // sequences whose code point ends in 0x0A or 0x0D.
        rule(
            9009,
            Protocol,
            CRITICAL,
            RawShort,
            r"(?i)([\xE0-\xEF][\x80\x84\x88\x8C\x90\x94\x98\x9C\xA0\xA4\xA8\xAC\xB0\xB4\xB8\xBC][\x8A\x8D]|[\xC4\xC8\xCC\xD0\xD4\xD8\xDC][\x8A\x8D]){1,2}\s*(set-cookie|location|content-(type|length|disposition)|transfer-encoding|refresh|x-[\w-]+)\s*:",
        ),
        // A status or request line's version then a line break; in prose
        // only as HTTP writes it, with CR LF (9011): documentation pastes
        // transcripts with a bare LF ("Example:\n```\nGET /vehicles
        // HTTP/1.1\n..."), a smuggled request keeps the wire's endings.
        rule(9008, Protocol, CRITICAL, RawShort, r"(?i)http/\d\.\d\s*[\r\n]"),
        rule(9011, Protocol, CRITICAL, Raw, r"(?i)http/\d\.\d\r\n"),
        // A blank line then a page: a response body smuggled after headers.
        rule(9010, Protocol, CRITICAL, Raw, r"(?i)[\r\n]\s*[\r\n]\s*<\s*(html|script|body)"),
        rule(9002, Protocol, CRITICAL, Raw, r"\x00"),
        // LDAP filter injection: `*)(uid=*`, `)!(sn=*`, `)(&)`, `*(|(mail=*))`.
        // (A whole well-formed filter is data; a value that closes one is not.
        // C's function pointer `long (*)()` closes nothing.)
        rule(
            9003,
            Ldap,
            CRITICAL,
            Norm,
            r"^[^(]*\)\s*[!|&]?\s*\(\s*[|&!]?\s*[\w-]+\s*[<>~]?=|(^|[^(\s])\s*\*\s*\)\s*\(|^[^(]*\)\s*\(\s*[|&!]\s*\)?|^\s*\*\s*\(\s*[|&!]\s*\(",
        ),
        // A filter closed and another opened around an attribute test
        // anywhere in the value (`admin*)((|userPassword=*)`, `x)(cn=*`),
        // an empty filter joined to another (`*()|&'`, `*)(&`), or a
        // wildcard closing filters before a NUL or the end (`*))%00`).
        rule(
            9007,
            Ldap,
            CRITICAL,
            Norm,
            r"\)\s*\(+\s*[|&!]\s*\(*\s*[\w-]+\s*[<>~]?=|\)\s*\(\s*[\w-]+\s*[<>~]?=\s*\*|\*\s*\(\s*\)\s*[|&]|\*\s*\)\s*\(\s*[|&!]|\*\s*\)\s*\)+\s*(\x00|$)",
        ),
        // A line break still encoded after decoding (`%250d%250a`): sent to
        // pass a filter that decodes once. (Decoded line breaks before a
        // header name are rule 9001; any `word:` after one is ordinary text.)
        rule(9004, Protocol, WARNING, Raw, r"%0[ad]"),
        // Node's globals by index (`process['env']`, `global[x]`; a space
        // before an unquoted index is prose: "Wireless Module [AR9271]"),
        // and loops that never end: `while(1)`, `while(!0)`, not C's
        // `while (!queue.empty())`.
        rule(
            9506,
            Generic,
            CRITICAL,
            Norm,
            r"_\$\$nd_func\$\$_|\b(process|console|global|require|module|globalthis)(\s*\[\s*['\x22`][a-z]|\[[a-z])|\bwhile\s*\(\s*(!\s*(!|0|false|null|undefined|nan|\[|\{|\x22\x22|''|``)|\+|-|\[|\{|`|\x22\x22|true|1\b|infinity|\(|new\b)[^)]{0,20}\)+\s*(;|\{|$)",
        ),
        Rule {
            pattern: super::java::base64_alternation(&["_$$ND_FUNC$$_"]).into(),
            ..rule(9507, Generic, CRITICAL, Raw, "")
        },
        // React Server Components payload references into prototypes
        // (`$1:constructor:constructor`).
        rule(
            9508,
            Generic,
            CRITICAL,
            Norm,
            r"\$[a-z0-9_]*:\s*(constructor|__proto__|prototype)\s*:|\$[a-z0-9_]*:(module|constructor|__proto__)\s*:\s*(prototype|constructor)\b",
        ),
        rule(9509, Generic, CRITICAL, Norm, r"\bprocess\s*\.\s*(spawn|exec|execfile|fork)\s*\("),
        // A URL whose host is an IP address in a disguise no one types:
        // one integer, octal or hex parts, IPv4-mapped IPv6. Without `//`
        // only the schemes a WHATWG parser reads a host after
        // (`http:2130706433`); `after:84300550` is a cursor.
        Rule {
            scope: Scope::NotHeader,
            ..rule(
                9510,
                Generic,
                CRITICAL,
                Norm,
                r"^([a-z][a-z0-9+.-]{1,10}://|(https?|ftp|wss?|file):)([^/\s@]*@)?(\[::ffff:[0-9a-f:.]+\]|0x[0-9a-f]{8,}|[0-9]{8,10}|0[0-9]{1,3}(\.0*[0-9]{1,3}){3}|0[0-9]{9,}|[0-9]{1,3}\.[0-9]{5,8})([:/]|$)",
            )
        },
        // Names that resolve to this host or its container runtime.
        rule(
            9511,
            Generic,
            CRITICAL,
            Norm,
            r"^(https?://)?(localhost\.localdomain|localhost4(\.localdomain4)?|ip6-(loopback|localhost)|ipv6-localhost|(host|gateway|kubernetes)\.docker\.internal|host\.containers\.internal|localtest\.me|lvh\.me)\b",
        ),
        // ORM lookups (Django style) in parameter names: sensitive fields
        // filtered character by character, or long relation walks.
        rule(
            9512,
            Generic,
            CRITICAL,
            Norm,
            r"__(password|passwd|username|email|is_staff|is_superuser|is_admin|token|secret|profile|metadata)(__[a-z0-9_]+)*__(i?startswith|i?endswith|i?contains|i?regex|i?exact|gte?|lte?|has_keys?|contained_by|isnull)\b|^(password|passwd|username|email|secret|token)__(i?startswith|i?endswith|i?contains|i?regex|gte?|lte?|isnull)\b|__(has_keys?|has_any_keys|contained_by)$|^[a-z][a-z0-9]*(_[a-z0-9]+)*(__[a-z][a-z0-9]*(_[a-z0-9]+)*){3,}$",
        ),
        rule(9513, Template, CRITICAL, Norm, r"<%=?\s*(if|for|while|end[a-z]*|each)\b[^%]*%>"),
        // URL parser confusion: a scheme with no slashes before a local
        // host, or an `@` that moves the real host past a decoy.
        Rule {
            scope: Scope::NotHeader,
            ..rule(
                9514,
                Generic,
                CRITICAL,
                Norm,
                r"^(https?|ftp|gopher|dict|ldap)\s*:\s*(127\.|0\.0\.0\.0|169\.254\.|localhost\b|\[)|@\s*(127\.[0-9]|169\.254\.|0\.0\.0\.0|localhost\b)",
            )
        },
        // A value that is nothing but a loop: a denial of service for
        // whatever evaluates it.
        rule(9515, Generic, CRITICAL, Norm, r"^\s*while\s*\([^)]*\)\s*;?\s*$"),
        // Node.js probes as the whole value (`console.info(1)`,
        // `module.exports=`).
        rule(
            9516,
            Generic,
            CRITICAL,
            Norm,
            r"^\s*console\s*\.\s*[a-z]+\s*(\.\s*(call|apply|bind)\s*)?\(|^\s*module\s*\.\s*exports\s*=|\b__js_function\b",
        ),
        // Loopback in any URL scheme (`irc://localhost`, `acap://127.0.0.1`),
        // and a host spelled with backslash escapes.
        Rule {
            scope: Scope::NotHeader,
            ..rule(
                9517,
                Generic,
                CRITICAL,
                Norm,
                r"^\s*[a-z][a-z0-9+.-]{1,15}://([^/\s@]*@)?(localhost|127\.[0-9]+\.[0-9]+\.[0-9]+|0\.0\.0\.0|\[::1?\])([:/]|$)|^\s*[a-z]+://(\\+[a-z0-9.]){4,}",
            )
        },
        // A bare `localhost/` path and a `data:` URL of text or code as the
        // whole value (images, the common case in payloads, are left alone).
        rule(
            9518,
            Generic,
            CRITICAL,
            Norm,
            r"^\s*localhost(:[0-9]+)?/|^\s*data:(text|application)/[a-z0-9.+-]+\s*(;|,|$)",
        ),
        // A Django ORM lookup as a field name (`balance__gte`).
        rule(
            9519,
            Generic,
            CRITICAL,
            Norm,
            r"^\s*[a-z][a-z0-9_]*__(i?startswith|i?endswith|i?contains|i?regex|i?exact|gte?|lte?|isnull|range)\s*$",
        ),
        // A Referer or other header URL whose host is one integer.
        Rule {
            scope: Scope::Header,
            ..rule(9520, Generic, CRITICAL, Norm, r"^\s*[a-z]+://([0-9]{8,10}|0x[0-9a-f]{8})([:/]|$)")
        },
    ]
}
