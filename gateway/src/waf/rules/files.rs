//! Local and remote file inclusion: path traversal, well-known sensitive
//! files, restricted paths, and URLs that point the server at attacker
//! content.

use super::{CRITICAL, Rule, Scope, View::Norm, View::Short, WARNING, rule};
use crate::waf::Class::{Lfi, Rfi};

/// Application and user files holding secrets or configuration.
const SECRET_FILES: &str = r"(\.ssh[/\\](id_[a-z0-9]+($|[^\w.]|\.[^p])|authorized_keys|known_hosts)|\.htaccess|\.htpasswd|\.bash_history|\.bashrc|\.aws[/\\]credentials|\.docker[/\\]config|\.kube[/\\]config|\.git[/\\](config|head|index)|\.svn[/\\]|wp-config\.php|web\.config|web-inf[/\\]|localsettings\.php|\.npmrc|\.pgpass|\.netrc|\.git-credentials|\.env(\.\w+)?$)";

pub fn rules() -> Vec<Rule> {
    vec![
        // Two traversal steps (`../../`, `..\..\`, `.../.../`, `....\/`); one step alone
        // is common in prose about relative paths, so it only warns.
        rule(4001, Lfi, CRITICAL, Short, r"(^|[/\\=\s:;,'`|])\.{2,4}[/\\]+(\.{1,4}[/\\]+)*\.{2,4}([/\\]|$)"),
        // The same steps with the separator or the dots written as hex text
        // (`..0x2f..0x2f`, `0x2e0x2e/0x2e0x2e/`), which some decoders expand.
        rule(
            4010,
            Lfi,
            CRITICAL,
            Short,
            r"(\.\.|0x2e0x2e)(0x2f|0x5c|[/\\])(\.\.|0x2e0x2e)(0x2f|0x5c|[/\\])|(\.\.|0x2e0x2e)(0x2f|0x5c)",
        ),
        // Of those, what no text for people writes (hex text, runs of three
        // or four dots as steps, five steps up) is read in prose too: a
        // value padded with sentences is no less a path.
        rule(
            4013,
            Lfi,
            CRITICAL,
            Norm,
            r"(\.\.|0x2e0x2e)(0x2f|0x5c)|0x2e0x2e[/\\]|(^|[/\\=\s])\.{3,4}[/\\]+\.{3,4}[/\\]|(^|[/\\=\s])(\.\.[/\\]+){5}",
        ),
        rule(4002, Lfi, WARNING, Short, r"(^|[/\\=\s:;,'`|])\.{2,3}[/\\]|[/\\]\.\.$|0x2e0x2e|0x5c|0x2f"),
        // Traversal to a dotfile (`../.history`), Tomcat's `..;` path
        // parameter, and a Windows traversal opening the value (`..\\x`).
        rule(4008, Lfi, CRITICAL, Norm, r"\.\.[/\\]+\.[a-z]|\.\.;[/\\.]|^\.\.\\"),
        // System files, `/etc/./passwd` and `/etc//passwd` as a kernel
        // resolves them.
        rule(
            4003,
            Lfi,
            CRITICAL,
            Norm,
            r"(^|[/\\\s=:])(etc[/\\]+(\.[/\\]+)*(passwd|shadow|group|gshadow|hosts|issue|sudoers|master\.passwd|crontab|fstab|profile|bashrc|motd|resolv\.conf|hostname|ssh/|mysql/|apache2?/|nginx/|security/)|proc[/\\](self|\d+)[/\\](environ|cmdline|maps|fd|status|mem|exe|cwd|root)|boot\.ini|win\.ini|system\.ini|(windows|winnt)[/\\](system32|win\.ini|repair))",
        ),
        // Files of secrets and configuration by name (`.git/config`,
        // `~/.netrc`, a private key by path: `~/.ssh/id_rsa`, not a key
        // pair's bare name nor its `.pub`). Prose names them ("in my
        // .git/config", "credentials from ~/.netrc") and opens nothing; a
        // command reading one after a separator is 3022's (a dotfile is a
        // shell argument).
        super::Rule {
            pattern: format!(
                r"(^|[/\\\s=:]){SECRET_FILES}|[/\\~]id_(rsa|dsa|ecdsa|ed25519)($|[^\w.]|\.[^p])"
            )
            .into(),
            ..rule(4012, Lfi, CRITICAL, Short, "")
        },
        // Dotfiles and tool directories that must never be served.
        Rule {
            scope: Scope::Path,
            ..rule(
                4004,
                Lfi,
                CRITICAL,
                Norm,
                r"/(\.env|\.git|\.svn|\.hg|\.bzr|\.aws|\.ssh|\.docker|\.kube|\.fabric|\.vscode|\.idea|\.ds_store|\.htaccess|\.htpasswd|\.npmrc|\.pypirc|\.bash_history|\.config|\.terraform|\.circleci|\.travis\.yml|@fs/|\.well-known/\.\.)",
            )
        },
        // A file URL names a path (`file:///etc/passwd`, `file:/etc`,
        // `file://host/share`); `file://mappingfile.json` is a command-line
        // tool's "read this local file" argument, not a URL a server follows,
        // and "Corrupted file: /libs/x.h" is English.
        rule(
            4005,
            Lfi,
            CRITICAL,
            Norm,
            r"\b(file|netdoc):/[^/\s]|\b(file|netdoc)\s*:\s*//[^/\\\s?#]*[/\\]|\bjar\s*:\s*//|\b(c|d):[/\\]+(windows|winnt|boot\.ini|inetpub|users[/\\][^/\\]+[/\\]ntuser)",
        ),
        // A bare IP-literal URL as a whole value.
        rule(5001, Rfi, CRITICAL, Norm, r"^\s*(https?|ftps?|file)\s*:\s*//\s*\[?\d{1,3}(\.\d{1,3}){3}"),
        rule(
            5002,
            Rfi,
            CRITICAL,
            Norm,
            r"\b(include|require|include_once|require_once)\s*\(?\s*['`\x22]?\s*(https?|ftps?|php|data|expect|zip|phar)\s*:\s*//",
        ),
        // A URL whose query ends in `?`: the classic `?file=http://evil/x.txt?`.
        // In a query argument only: API payloads carry such URLs as data
        // (GitHub's avatar URLs end in `?`).
        Rule {
            scope: Scope::Query,
            ..rule(
                5003,
                Rfi,
                CRITICAL,
                Norm,
                r"^\s*(https?|ftps?)\s*:\s*//[^?#\s]*\?+$|(https?|ftps?)\s*:\s*//[^\s]*\.(txt|php|sh|pl|py)\?+$",
            )
        },
        // Userinfo tricks that make the host differ from what it looks like
        // (two `@` before the path; npm's scoped tarballs,
        // `/@scope/pkg/-/@scope/pkg-1.0.0.tgz`, have theirs in it), and Java's `url:` prefix (`url:file:///etc/passwd`; "URL: https://"
        // with a space is a label in text).
        rule(
            5004,
            Rfi,
            CRITICAL,
            Norm,
            r"^\s*(https?|ftps?)\s*:\s*//[^\s@/]*@[^\s@/]*@|^\s*(https?|ftps?)\s*:\s*//[^/\s]*/[^\s]*:[^\s]*@|^\s*url:[a-z]+://",
        ),
        // Dot-directories and backup/data files requested as paths
        // (`.well-known` is the one legitimate dot-directory), and YAML
        // files named for configuration or secrets (`database.yml`,
        // `docker-compose.yml`): APIs name workflows and manifests by their
        // files (`/actions/workflows/ci.yml`).
        Rule {
            scope: Scope::Path,
            ..rule(
                4006,
                Lfi,
                CRITICAL,
                Norm,
                r"/\.(w[a-df-z0-9_-]|we[a-km-z0-9_-]|[a-vx-z0-9_-])[\w.-]*(/|$)|\.(sql|bak|old|orig|swp|save|tar|tgz|gz|zip|7z|rar|log|ini|conf|cfg|env|pem|key|db|sqlite3?|mdb|dump)$|/[\w.-]*(compose|database|secret|config|setting|application|credential|parameter|values|env|passw|private|key)[\w.-]*\.ya?ml$",
            )
        },
        Rule { scope: Scope::Path, ..rule(5006, Rfi, CRITICAL, Norm, r"/(https?|ftps?|file)\s*:\s*//") },
        Rule {
            scope: Scope::Query,
            ..rule(5007, Rfi, CRITICAL, Norm, r"^\s*(https?|ftps?)\s*(:\s*//)?[^\s?]*\?+\s*$")
        },
        // Java's archive and Python's local-file URL schemes: a fetch of
        // them reads a remote archive or a local file.
        rule(5008, Rfi, CRITICAL, Norm, r"^\s*(jar\s*:\s*(https?|ftps?|file)\s*:|local_file\s*:|netdoc\s*:)"),
        rule(
            4007,
            Lfi,
            CRITICAL,
            Norm,
            r"(^|[/\\\s=:])(sys[/\\](class|kernel|devices|power|module|firmware)|proc[/\\](version|cpuinfo|meminfo|net|mounts|sched_debug|self))\b",
        ),
        // More files an attacker reads or plants: Docker secrets, database
        // dumps in archives, kernel tables under /proc, Vite's `/@id/`
        // module loader, a redirection into a system directory, a server
        // log as the whole value (the file a log-poisoning include reads) and
        // Windows's system directories by variable (`%SYSTEMROOT%\\`).
        rule(
            4009,
            Lfi,
            CRITICAL,
            Norm,
            r"\.docker[/\\]secrets|^[^/\s]*\.(sql|db|sqlite3?|dump|bak)\.(zip|gz|tgz|tar|7z|rar|bz2|xz)\s*$|(^|/)proc/(interrupts|ioports|iomem|kallsyms|modules|partitions|swaps|devices|filesystems|kcore|vmstat|zoneinfo|slabinfo|diskstats|stat)\b|/@id/__x00__|^\s*>\s*/(tmp|etc|var|dev)/|^\s*/var/log/(apache2?|httpd|nginx|auth\.log|syslog|messages|secure|mail\.log|lastlog|wtmp|btmp)\b|%(systemroot|windir|comspec|systemdrive)%",
        ),
        // A script's name with `;` and an image's extension after it
        // (`shell.asp;.jpg`): IIS runs it as the script, an upload filter
        // sees an image.
        Rule {
            scope: Scope::NotPath,
            ..rule(
                4011,
                Lfi,
                CRITICAL,
                Norm,
                r"^[^/:?=]*\.(asp|aspx|asa|cer|cdx|ashx|php\d?|phtml|jsp)\s*;[^/]*\.[a-z0-9]{2,5}\s*$",
            )
        },
        // A URL whose host is a bare IPv6 address, and a `file?` probe.
        rule(
            5009,
            Rfi,
            CRITICAL,
            Norm,
            r"^\s*(https?|ftps?|file)\s*:\s*//\s*\[?[0-9a-f]{1,4}(:[0-9a-f]{0,4}){2,7}\]?([/:]|$)|^\s*file\s*\?+\s*$",
        ),
    ]
}
