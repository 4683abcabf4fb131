//! Remote command execution: Unix and Windows commands after a shell
//! separator, command substitution, shell paths, reverse shells and the
//! cmd.exe batch language. Read over the `Cmd` view, where shell quoting
//! (`c'a't`, `c\at`, `c^at`, `$IFS`) is already undone.

use super::{
    CRITICAL, Rule, Scope, View::Cmd, View::Norm, View::Raw, View::RawShort, View::Short, View::Spliced,
    WARNING, rule,
};
use crate::waf::Class::Rce;

/// Command names that are not English words: seeing one after a separator
/// is enough.
const STRONG: &str = r"(whoami|uname|ifconfig|ipconfig|wget|curl|ncat|netcat|nc\.traditional|nc\.openbsd|bash|zsh|ksh|csh|tcsh|dash|sh|nmap|chmod|chown|chgrp|nslookup|telnet|base64|xxd|gawk|awk|sed|crontab|sudo|useradd|usermod|busybox|powershell|pwsh|certutil|bitsadmin|mshta|rundll32|regsvr32|wmic|systeminfo|tasklist|taskkill|netstat|socat|xterm|nohup|printenv|jrunscript|iptables|lsof|pkill|killall|mkfifo|tcpdump|traceroute|getent|sshpass|ssh-keygen|sftp|scp|rsync|smbclient|sqlite3|redis-cli|cpulimit|chattr|dmesg|modprobe|insmod|visudo|chpasswd|kubectl|cscli|strace|ltrace|gdb|objdump|readelf|hexdump|openssl|nc|cmd(\.exe)?|ansible[\w-]*|chef-(client|solo|shell|apply|run|zero|vault|server-ctl|backend-ctl|automate|cli|analyze|exec)|crictl|virsh|g\+\+|gunzip|bzip2|7z|zcat|zgrep|bzcat|lzcat|egrep|fgrep|xargs|mkdir|rmdir|chroot|nsenter|setcap|getcap|systemctl|journalctl|launchctl|osascript|apt-get|jshell|jjs|php-cgi|rlogin|rsh|rexec|aria2c|rmt-tar|findstr|icacls|cacls|takeown|nltest|dsquery|cmdkey|qwinsta|quser|esentutl|msiexec|installutil|regasm|regsvcs|cmstp|msbuild|odbcconf|diskshadow|ntdsutil|certreq)";
/// Commands whose names are also words, names or languages ("ruby",
/// "ping", "cat"): after a separator they need a shell-looking argument.
const WEAK: &str = r"(python[23]?(\.\d+)?|perl|ruby|php\d?|mysql|psql|node|nodejs|lua|tftp|ftp|ssh|ls|cat|id|pwd|rm|env|ps|wc|tac|nl|knife|terraform|vagrant|docker|podman|gcc|unzip|gzip|vim|nano|emacs|dpkg|rpm|yum|dnf|apk|npm|npx|pip\d?|irb|groovy|lynx|finger|uptime|hostname|passwd|printf|sleep|echo|ping|whois|dig|host|ip|arp|route|cp|mv|ln|cd|su|vi|ed|ex|dd|od|rev|uniq|diff|tar|zip|rmt|shutdown|reboot|poweroff|halt)";

/// Commands that are also English words ("time", "more", "find"): only an
/// argument that looks like a shell argument makes them suspicious.
const ENGLISH: &str = r"(time|type|copy|move|set|source|export|alias|history|find|more|less|head|tail|sort|cut|paste|join|split|look|fold|comm|watch|screen|script|free|top|last|who|make|mail|kill|touch|strings|mount|df|du|at|batch|exec|eval|timeout|unset|column|expand|bridge|service|java|links|fetch|go|grep|locate|tee|del|ren|dir|ver|net|reg|start|call|read|test|trap|wait|logout|exit|file|stat|less|view|open|write|run|print)";
/// The subset of [`STRONG`] that is safe to match at the very start of a
/// value: no English words. With [`AT_START_TOPICS`], all of them.
const AT_START_TOOLS: &str = r"(whoami|uname|ifconfig|ipconfig|ncat|netcat|ksh|tcsh|xxd|gawk|useradd|usermod|certutil|bitsadmin|mshta|rundll32|regsvr32|wmic|systeminfo|tasklist|taskkill|socat|nohup|printenv|jrunscript|lsof|pkill|killall|mkfifo|getent|sshpass|sftp|smbclient|cpulimit|chattr|dmesg|modprobe|insmod|visudo|chpasswd|cscli|ltrace|readelf|ansible-[\w-]+|chef-(client|solo|shell|apply|run|zero|vault|server-ctl|backend-ctl|automate|cli|analyze|exec)|crictl|virsh|aria2c|osascript|launchctl|nsenter|setcap|getcap|update-alternatives|rmt-tar|php-cgi|jshell|jjs|cmd\.exe)";
/// The commands of [`AT_START_TOOLS`]'s kind whose names are also what
/// people write and search about: languages, shells and well-known tools.
/// A line of plain words after one is a title or a query as often as a
/// command ("python web framework", "curl examples", "bash scripting
/// guide"), so rule 3023 wants an argument there that a shell takes and
/// prose does not ([`SHELL_ARGUMENT`]).
const AT_START_TOPICS: &str = r"(wget|curl|apt-get|nslookup|bash|zsh|python[23]?|perl|nmap|chmod|chown|chgrp|telnet|base64|crontab|sudo|busybox|powershell|pwsh|netstat|xterm|iptables|tcpdump|traceroute|ssh-keygen|rsync|redis-cli|kubectl|strace|objdump|hexdump|ansible|knife|vagrant|systemctl|journalctl|shutdown)";
/// A word a command line takes and a sentence rarely holds: a file or host
/// name (`exploit.py`, `evil.com/x.sh`, `site.yml`), an IPv4 address, a
/// `host:port` or a `user@host`. Version numbers (`python 3.12`) are none.
const SHELL_ARGUMENT: &str = r"([\w-]+(\.[\w-]+)*\.[a-z][a-z0-9]{0,11}(:\d+)?(/\S*)?|\d{1,3}(\.\d{1,3}){3}(:\d+)?(/\S*)?|[\w.-]+:\d{2,5}|[\w.-]+@[\w.-]+)";

/// What makes a word command's name after a separator a command: a call's
/// parenthesis, an option, a path, a variable, a home, a count or an
/// address, a cmd.exe variable, a file name, a dotfile, a quote.
const WORD_ARGUMENT: &str = r#"\s+\(|\s+(-{1,2}[a-z]|/|\$|~|\.{1,2}/|\.[a-z]|\d+(\s|$|[;&|<>)]|(\.\d+){2,})|%[a-z_]\w*%|[\w.-]+\.[a-z]{2,4}\b|['"])"#;

/// What makes an English word's command after a separator a command (see
/// [`ENGLISH`]): an option, a path, a variable, a home, a script's or a
/// system file's name, or input redirected from one (`touch</tmp/x`).
const ENGLISH_ARGUMENT: &str = r"(\s+(-{1,2}[a-z]|/|\$|~|\.{1,2}/|\S+\.(sh|txt|php|py|pl|gz|tar|zip|conf|log|ini|exe|bat)\b)|<\s*(/|~|\$))";

/// A word of a command line between the command and its argument: not one
/// of letters closed by `.`, `,`, `:`, `!` or `?`, as prose's are (`.`,
/// `..` and `a.b` are paths and names; `foo;` ends a shell command).
const WORD_NOT_ENDING_A_SENTENCE: &str = r"(\.+|[^\s(\d](\S*[^\s.,:!?]|\S*[^a-z\s][.,:!?])?)";

/// Wrappers that may precede a command, and a directory glued to it
/// (`/bin/id`; a comment's `// Base64 the secret` is no path).
const PREFIX: &str =
    r"((time|nohup|sudo|env|exec|nice|timeout\s+\d+|watch|xargs|busybox|command|builtin|eval)\s*|\S*/)*";

pub fn rules() -> Vec<Rule> {
    // Shell separators and openings of a substitution; the backquote apart
    // for the rule that reads it as Markdown's code span too (3064).
    let sep_but_backquote = r";|&&?|\|\|?|\$\(|<\(|>\(|\$\{";
    let sep = format!("({sep_but_backquote}|`)");
    let sep_but_pipe = r";|&&?|\$\(|<\(|>\(|\$\{|`";
    vec![
        // A command word spliced with quotes or escapes, alone or leading a
        // line: `'i'fconfig`, `'i'p a`, `\ls`, `c""at x`.
        super::Rule {
            pattern: format!(r"(?m)^\s*{PREFIX}({STRONG}|{WEAK}|{AT_START_TOOLS}|{AT_START_TOPICS})(\s|$|[;&|<>`)(])")
                .into(),
            ..rule(3061, Rce, CRITICAL, Spliced, "")
        },
        // Ruby's and Perl's command quotes: `%x(ls -al /)`, `%x{id}`,
        // `qx/whoami/`, running a command word.
        super::Rule {
            pattern: format!(r#"(%x|\bqx)\s*[(\[{{<|!/]\s*['"]?\s*({STRONG}|{WEAK})(\s|$|['")\]}}>|!/;])"#).into(),
            ..rule(3062, Rce, CRITICAL, Norm, "")
        },
        // A command after a separator: `;id`, `| cat x`, `&& wget`, and in
        // a substitution: `` `curl x|sh` ``, `` `whoami` ``. The name alone
        // between backquotes is a Markdown code span too ("Upgraded
        // `whoami` to v2."): read as a command where the span opens the
        // value, is glued to a word before it (`` a`whoami` ``) or is
        // followed by a shell operator or the end; with arguments, but a
        // version number alone (`base64 0.21`, a crate's), it is a command.
        super::Rule {
            pattern: format!(
                r"({sep_but_backquote})\s*{PREFIX}{STRONG}(\s|$|[;&|<>`)(])|`\s*{PREFIX}{STRONG}(\s+([^`\s\d]|\d[^`]*\s|\d+(\.\d+){{3}})|\s*[;&|<>)(]|\s*$)|(^|[^\s\[(])`\s*{PREFIX}{STRONG}\s*`|`\s*{PREFIX}{STRONG}\s*`\s*($|[;&|<>$`])"
            )
            .into(),
            ..rule(3001, Rce, CRITICAL, Cmd, "")
        },
        // A command on a line of its own after a value (`127.0.0.1%0awhoami`,
        // `%0aid`): a line break ends a shell command as `;` does. The
        // normalised views join lines, so this reads the value as decoded;
        // not prose, whose lines open with words. A word command needs a
        // shell's argument there, as after `;` (3022, 3014): `ping -n 10 x`,
        // `find / -perm -4000`.
        super::Rule {
            pattern: format!(r"(?i)[\r\n]\s*{PREFIX}({STRONG}(\s|$|[;&|<>`])|(id|ls|pwd)\s*$|sleep\s+\d+\s*$|{WEAK}({WORD_ARGUMENT})|{ENGLISH}{ENGLISH_ARGUMENT})").into(),
            ..rule(3067, Rce, CRITICAL, RawShort, "")
        },
        // A command in a subshell glued to a separator (`;(id)`,
        // `|(cat /etc/hosts)`); legal lists write "; (vi) You may" with a space.
        super::Rule {
            pattern: format!(r"[;&|]\(\s*{PREFIX}({STRONG}|{WEAK})(\s+[^)]*)?\s*\)").into(),
            ..rule(3068, Rce, CRITICAL, Cmd, "")
        },
        // A word command's name with `(` right after it is a call in C, PHP
        // or JavaScript (`; printf("%s", x)`), which a shell would refuse;
        // and a version after it is prose ("; Python 3.6 is the minimum"),
        // where an address or a count is an argument (`;ping 10.0.0.1`).
        // Between two pipes a word is a Markdown table's cell (`| id |`).
        super::Rule {
            pattern: format!(
                r#"({sep_but_pipe})\s*{PREFIX}{WEAK}(\s*$|\s*[;&|<>)]|{WORD_ARGUMENT})|\|\|?\s*{PREFIX}{WEAK}(\s*$|\s*[;&<>)]|{WORD_ARGUMENT})"#
            )
            .into(),
            ..rule(3022, Rce, CRITICAL, Cmd, "")
        },
        // A separator glued between a word and a command, or a substitution
        // glued to a word (`a|echo x`, `a&&id`, ``a`echo x` ``), in a value
        // that is not prose: text writes "R&D" and "A | B" with spaces.
        super::Rule {
            pattern: format!(r"[a-z0-9](&&?|\|\|?|;)({STRONG}|{WEAK})\s+\S|[a-z0-9]`\s*({STRONG}|{WEAK})\s+[^`]{{1,40}}`").into(),
            ..rule(3070, Rce, CRITICAL, Short, "")
        },
        // Closed by a backquote, the word alone (`` `id` ``) is command
        // substitution to a shell and a code span to Markdown, which prose
        // (issue bodies, comments) writes: read where the value is not prose,
        // and not as a span between spaces ("the field `id` is set"), unless
        // it ends the value or a shell operator follows.
        super::Rule {
            pattern: format!(
                r"({sep_but_backquote})\s*{PREFIX}{WEAK}\s*`|(^|\S)`\s*{PREFIX}{WEAK}\s*`|`\s*{PREFIX}{WEAK}\s*`\s*($|[;&|<>$`])"
            )
            .into(),
            ..rule(3064, Rce, CRITICAL, Short, "")
        },
        // The address a ping form expects, then a separator and any command
        // word (`8.8.8.8 |ps aux|#`, `127.0.0.1 | dir |`), a whole short
        // value: commix's shape. After an address no table cell or prose
        // word follows a pipe.
        super::Rule {
            pattern: format!(
                r"^\s*\d{{1,3}}(\.\d{{1,3}}){{3}}\s*(;|\|\|?|&&?|[\r\n])\s*{PREFIX}({STRONG}|{WEAK}|{ENGLISH})(\s|$|[;&|<>`#])"
            )
            .into(),
            ..rule(3074, Rce, CRITICAL, Short, "")
        },
        // A whole value that is a command line: the command then a separator
        // or a shell-looking argument (`-x`, `--flag`, a path, `$`, `~`, a URL;
        // not a line of dashes under a title). A bare
        // word could be a field name (`uname`), a sentence that opens with a
        // tool's name is prose ("Bash is distributed ...", `bash (5.2-1) unstable`),
        // and a log record opens with its program's name and a date
        // (`update-alternatives 2025-06-24 14:39:44: run with --install ...`),
        // and a word that ends a sentence or clause before the argument is
        // prose's ("Python 3.12 released: https://...", "Ansible module for
        // Docker. Note: ... see https://...").
        super::Rule {
            pattern: format!(
                r"^\s*{PREFIX}({AT_START_TOOLS}|{AT_START_TOPICS})(\s*[;&|<>`]\s*\S|(\s+({WORD_NOT_ENDING_A_SENTENCE}|\d+([^\d\s-]\S*)?))*\s+(-{{1,2}}[a-z0-9]|/|\$|~|\.{{1,2}}/|[a-z]+://))"
            )
            .into(),
            ..rule(3002, Rce, CRITICAL, Cmd, "")
        },
        // Or a short line (up to eight words, none opening with `(`) typed as
        // commands are, in lower case: "Python library implementing the full
        // Github API v3" is a description, `python -c ...` a command. After
        // a topic's name, one of the words must be a shell's argument.
        super::Rule {
            pattern: format!(
                r#"^\s*{PREFIX}['"]?{AT_START_TOOLS}['"]?(\s+[^\s(]\S*){{1,8}}\s*$|^\s*{PREFIX}['"]?{AT_START_TOPICS}['"]?(\s+[^\s(]\S*){{0,7}}\s+{SHELL_ARGUMENT}(\s+[^\s(]\S*){{0,7}}\s*$"#
            )
            .into(),
            ..rule(3023, Rce, CRITICAL, Raw, "")
        },
        // Command substitution and process substitution (not C++'s
        // `operator<<(std::ostream&`), closed as a shell needs it to run
        // (a random password holds `$(w5el` by chance). Case-sensitive:
        // commands are lower case, Makefile variables (`$(MAKE)`, `$(CC)`)
        // upper case.
        rule(3003, Rce, CRITICAL, Raw, r#"\$\(\s*['"\\`]*[a-z/.(][^)]*\)|(^|[^<])<\(\s*[a-z][^)]*\)"#),
        // Bash's ANSI-C quoting spelling a command's name (`$'\x6c\x73'`,
        // which the views decode to `$'ls'`) where a command starts. Scripts
        // quote separators that way (`IFS=$'\n'`), not a word they run.
        rule(3073, Rce, CRITICAL, Raw, r"(^|[;&|`(\r\n])\s*\$'[a-z][a-z0-9._-]{0,15}'(\s|$|[;&|`)<>])"),
        // Shells and binaries by absolute path, and /dev/tcp redirections.
        // A file with a media or document extension there (`/usr/bin/x.3g2`)
        // is a file's name, not a program (`/usr/bin/python3.10` and
        // `/sbin/x.sh` are).
        rule(
            3004,
            Rce,
            CRITICAL,
            Cmd,
            r"(^|[;&|`'\x22(=]|\$\()\s*/(usr/)?(local/)?s?bin/[a-z][\w-]*(\.\d+)*(\.(sh|bash|py|pl|rb|php|exe|elf|bin|run|out))?([^\w.-]|$)|/dev/(tcp|udp)/|\b(ba|z|k|c|tc|da)?sh\s+-[cieslx]+\b|\b(python[23]?|perl|ruby|php|node|lua)\s+-[cer]\b|>\s*&\s*/dev/|\d<&\d|\b(nc|ncat|netcat)\s+([^\s;|&]+\s+)*-[a-z]*[ec]\b|\bbash\s+-i\b|\bmkfifo\b",
        ),
        // A shell or binary path named in passing ("the default /bin/sh")
        // only warns; as the value's start or after a separator it is 3004.
        rule(3059, Rce, WARNING, Cmd, r"/(usr/)?(local/)?s?bin/[a-z]"),
        // Shellshock: a function definition with a short body, `() { :;};`
        // (not C++'s `f() {...} ... };` a class later).
        rule(3005, Rce, CRITICAL, Cmd, r"\(\s*\)\s*\{[^{}]{0,40};\s*\}\s*;"),
        // Windows: cmd and PowerShell verbs and LOLBins. PowerShell as a
        // program: `powershell.exe`, with an option, or alone as a
        // command; not the product prose names ("Windows PowerShell
        // sessions", the module `Microsoft.PowerShell.DSC`). After a
        // separator with arguments it is 3001's.
        rule(
            3006,
            Rce,
            CRITICAL,
            Cmd,
            r"\bcmd(\.exe)?\s*/[ckr]\b|\bpowershell\.exe\b|\bpowershell\s+-[a-z]|(^|[;&|`(])\s*powershell\s*($|[;&|`'\x22{(])|\binvoke-(expression|webrequest|command|restmethod|item|wmimethod)\b|\biex\s*\(|new-object\s+(system\.)?net\.webclient|\bdownload(string|file|data)\s*\(|\bstart-process\b|\bnet\s+(user|localgroup|share|view|use|group|accounts|session|start|stop)\b|\breg\s+(add|query|delete|save|export)\b|\bcertutil\s+-|\bvssadmin\b|\bwevtutil\b|\bbcdboot\b|\bbcdedit\b|\bschtasks\b|\bsc\s+(create|config|start|stop)\b|\bwscript\b|\bcscript\b|\bforfiles\b|\bnetsh\b|\battrib\s+[+-]",
        ),
        // The cmd.exe batch language: `for /f`, `if exist`, `if "a"=="b"`,
        // `if (%1)==()`; not C's `if (a == b)`, `#if defined X` or Python's
        // `if __name__ == '__main__':`, which issue bodies quote, nor a
        // subreddit's path (`page for /r/rust`).
        rule(
            3007,
            Rce,
            CRITICAL,
            Cmd,
            r"\bfor\s+(/[lfdr](\s|\x22|$)|%%?\w\s+in\s*\()|(^|[^#])\bif\s+(/i\s+)?(not\s+)?(exist|defined|errorlevel|cmdextversion)\s|(^|[^#])\bif\s+(/i\s+)?(not\s+)?([^\s(]\S*|\([^\s()]*\)|\x22[^\x22]*\x22)\s*==\s*[^\s:]+(\s|$)|(^|[^#])\bif\s+(/i\s+)?(not\s+)?\S+\s+(equ|neq|lss|leq|gtr|geq)\s+\S|%\w+:~-?\d+(,-?\d+)?%|\bgoto\s+:?\w+|\bcall\s+:\w+",
        ),
        // Reading sensitive files with a command.
        rule(
            3008,
            Rce,
            CRITICAL,
            Cmd,
            r"\b(cat|more|less|head|tail|nl|tac|strings|od|xxd|base64|sort|uniq|grep|vi|vim|nano|fold|comm|paste|cut|rev|diff|type|bridge|ed|ex|curl|wget|tar|zip|cp|mv)\s+(-\S+\s+)*\S*(/etc/|/proc/|/dev/|/tmp/|/var/|/root|/home/|~/|\$home|/bin/)",
        ),
        // Globbing used to spell commands: `/???/c?t`, `/bin/ca*`.
        // (A bare `*` component, `src/*/x`, is a glob in prose about files.)
        rule(
            3009,
            Rce,
            CRITICAL,
            Cmd,
            r"/([a-z\[\]*]*\?[a-z?*\[\]]*|[a-z\[\]]+\*[a-z?*\[\]]*|\*[a-z\[\]?]+[a-z?*\[\]]*)/[a-z?*\[\]]*|/\?\?\?|\$\{[a-z_]*(:[-=?+~]|[#%^,/])",
        ),
        // Brace expansion as argument separator: `{cat,/etc/passwd}`. A
        // space would split the word and stop the expansion; set notation in
        // prose (`{a, b}`) has one.
        // Lists of file names in prose (`debian/{changelog,control}`,
        // `build-{arch,indep}`) name no command and pass no path or option;
        // a command split around a list (`c{a,oun}t`) has a one- or two-letter head.
        // A list glued to a word makes words, not a command: `client_{id,secret}`
        // expands to `client_id client_secret`.
        super::Rule {
            pattern: format!(r"\{{[a-z/.]+,(-|/|\$|~)[^}}\s]*\}}|(^|\W)\{{\s*,?\s*({STRONG}|{WEAK})\s*,[^}}\s]*\}}|(^|\W)\{{\s*,\s*({STRONG}|{WEAK})\s*\}}|(^|[^a-z0-9_./-])[a-z]{{1,2}}\{{[a-z]*,[a-z]*\}}[a-z]")
                .into(),
            ..rule(3010, Rce, CRITICAL, Cmd, "")
        },
        // Redirection into or out of files, here-strings.
        rule(3011, Rce, WARNING, Cmd, r"\s(>>?|<)\s*(/(etc|tmp|dev|var|proc|home|root|bin|usr)\b|\$|~)|<<<|\s2>&1|>\s*/dev/null"),
        // A separator followed by a command-looking word with an option.
        rule(3012, Rce, WARNING, Cmd, r"(;|&&|\|\|?|`)\s*[a-z][\w.-]{1,20}\s+(-{1,2}[a-z][\w-]*)(\s|$)"),
        // An English-word command with a shell-looking argument: `; find / -perm`,
        // `;touch</tmp/x`,
        // or a cmd.exe command with a drive (`| dir c:\`, read without the
        // backslash).
        super::Rule {
            pattern: format!(
                r"{sep}\s*{PREFIX}({ENGLISH}{ENGLISH_ARGUMENT}|(dir|type|copy|move|del|ren|start|call|more|find|cd|tree|icacls|attrib)\s+[a-z]:(\s|$|/|\w))"
            )
            .into(),
            ..rule(3014, Rce, CRITICAL, Cmd, "")
        },
        // Variables expanding to commands: `a=nc&&$a`, `$0`, `${PATH}`.
        rule(3013, Rce, CRITICAL, Cmd, r"(&&|;|\|)\s*\$[a-z_]\w*\b|\$\{?(path|home|shell|user|ifs|0)\}?\s*[;/]|\$\{[a-z_]+\}[a-z]"),
        // Glob brackets inside a path or command: `/etc/pas[s]wd`, `[u]name`.
        // The path starts the value or a word, and a bracket holds a glob's
        // one letter, range or pair, or slashes: a URL's `/users/stale[bot]`
        // is neither.
        rule(
            3015,
            Rce,
            CRITICAL,
            Cmd,
            r"(^|[\s;|&<>`(=])(/[\w?*.-]*)*/[\w?*]*\[[!^]?([a-z](-[a-z])?|[a-z]{2}|[a-z/]*/[a-z/]*)\][\w?*]*|\b\[[!^]?[a-z]\][a-z]{2,}\b",
        ),
        // Mail protocol commands smuggled after a line break (SMTP, IMAP,
        // POP3 injection): the value itself starts a new protocol line.
        rule(
            3017,
            Rce,
            CRITICAL,
            Raw,
            r"(?i)^[\r\n]+\s*(mail\s+from\s*:|rcpt\s+to\s*:|data\s*$|helo\s|ehlo\s|help\b|quit\s*$|retr\s+\d|list\s+\d|top\s+\d|auth\s+\w+|user\s+\S+\s*$|apop\s+\S+|[a-z0-9]{1,6}\s+(examine|select|login|authenticate|uid|list|lsub|search|fetch|store|copy|move|expunge|logout|capability|quit|create|delete|rename|append|status|noop)\b)|[\r\n]\s*(mail\s+from\s*:\s*<|rcpt\s+to\s*:\s*<)",
        ),
        // Shell function definitions: fork bombs `:(){ :|:& };:` and
        // Shellshock's `() {`.
        // (A fork bomb's body pipes the function into itself in the background;
        // C and JavaScript bodies after `() {` are code, not attacks.)
        rule(3018, Rce, CRITICAL, Cmd, r"\(\s*\)\s*\{\s*[\w:.]+\s*\|\s*[\w:.]+\s*&\s*;?\s*\}|^\s*\(\s*\)\s*\{"),
        // Evasions with no use outside a shell: empty substitutions inside a
        // word, `$?`/`$_` splices, arithmetic expansions. (An empty `` ``
        // before a space is reStructuredText's inline literal closing.)
        // Splices are read case-sensitively, inside a lower-case word as
        // commands are written: random passwords hold `Y$_I`, `R$@j`,
        // `IeRs$@n` and `vdo$_o2UZ`, whose words around the splice are
        // not lower case from end to end.
        // One opening the value splices nothing before it (`$@id`); a
        // substitution inside a command after a separator (`;w`u`hoami`)
        // runs a word that prints nothing.
        rule(
            3019,
            Rce,
            CRITICAL,
            Raw,
            r"[a-z]``[a-z/+]|(^|[^a-zA-Z0-9_])[a-z]+(\$\(\)|<\(\)|\$@|\$\?|\$_)([a-z]+([^a-zA-Z0-9_]|$)|[/+ ])|^\s*(\$@|\$\*|\$\(\))[a-z]+(\s|$)|[;&|]\s*[a-z]+`[a-z0-9]{1,8}`[a-z]",
        ),
        // `$[...]` arithmetic, `${IFS}` braced, `${SHELL}` and friends run
        // as a command (after a separator, or with an option after them; in
        // prose "such as $HOME and ${PATH}" they are names), a substring of
        // a variable, and `$IFS` glued to a command word (`echo$IFS"x"`).
        rule(
            3066,
            Rce,
            CRITICAL,
            Norm,
            r"\$\[[^\]]*\]|\$\{ifs\}|(^|[;&|`(]\s*)\$\{(shell|path|home|user|cmd|pwd)\}|\$\{(shell|path|home|user|cmd|pwd)\}\s*(-[a-z]|[;&|])|\$\{[a-z_]\w*:\d+:\d+\}|[a-z]\$ifs\b",
        ),
        // Argument injection: an option smuggled into a command the
        // application runs: ssh's `-o ProxyCommand=`, git's `--upload-pack`,
        // tar's `--checkpoint-action=exec` and `--to-command`, or an option
        // writing a script into a web root (sendmail's `-X` log file,
        // `--output=/var/www/html/x.php`).
        rule(
            3071,
            Rce,
            CRITICAL,
            Norm,
            r"(^|\s)-o\s*['\x22]?proxycommand\s*=|--(upload|receive)-pack\s*[= ]\s*\S|--checkpoint-action\s*=\s*exec|--(use-compress-program|to-command|rsh)\s*=\s*\S|(^|\s)(-[a-z]|--[a-z][a-z-]*=?)\s*(/var/www|/srv/www|/usr/share/nginx/html|c:\\inetpub)\S*\.(php\d?|phtml|phar|jspx?|aspx?|ashx|cgi|pl)\b",
        ),
        // PowerShell's Verb-Noun cmdlets opening a value after a separator
        // (`|| Get-Process`, `; Invoke-Item x`), or after `;` and `&` within
        // it; a pipe inside a value is PowerShell's own (`| Select-Object`).
        rule(
            3072,
            Rce,
            CRITICAL,
            Cmd,
            r"(^\s*[;&|]+|[;&]|\$\()\s*(get|set|new|remove|invoke|start|stop|copy|move|out|add|clear|export|import|convertto|convertfrom|test|enable|disable|restart|expand|compress|register|resolve|send)-[a-z]{3,}\b",
        ),
        // A wrapper and a command as the whole value: `time ifconfig`.
        super::Rule {
            pattern: format!(r"^\s*(time|nohup|strace|ltrace|sudo|env|exec|nice|watch)\s+({STRONG}|{WEAK}|who|w|top)\s*$").into(),
            ..rule(3020, Rce, CRITICAL, Cmd, "")
        },
        // A whole value that is a command with an option or absolute path.
        super::Rule {
            pattern: format!(r"^\s*({STRONG}|{WEAK})\s+(--?[a-z][\w-]*|/[a-z])").into(),
            ..rule(3021, Rce, CRITICAL, Cmd, "")
        },
        rule(3016, Rce, CRITICAL, Cmd, r"\balias\s+[\w+-]+\s*=|\bfor\s+%\S*\s+in\s*\(.*\)\s*do\b|\b(iwr|irm|iex)\s+(https?:|-)|\bcurl\.exe\b"),
        // Globs standing in for system paths: `/etc/[m-z]asswd`.
        rule(3032, Rce, CRITICAL, Norm, r"/(etc|usr|bin|sbin|var|proc|dev|tmp|root|home)/[^\s;|&]*\[[a-z0-9-]{2,}\]"),
        // Bash's /dev/tcp reverse shell, however the /dev is spelled.
        rule(3033, Rce, CRITICAL, Norm, r"/(tcp|udp)/[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]"),
        // sqlite3 shell dot-commands after a statement separator (`.sh` with
        // its command: alone it is a file extension).
        rule(
            3024,
            Rce,
            CRITICAL,
            Norm,
            r"(^|[;\n&|]|\\n)\s*['\x22\\]*\.\s*['\x22\\]*(shell|system)\s+\S|(^|[;\n&|]|\\n)\s*\.(sh\s+\S|(databases|dump|import|output)\b)",
        ),
        rule(3035, Rce, CRITICAL, Cmd, r"\bfind\s+\S+.*\s-(exec|execdir|ok)\s"),
        rule(3036, Rce, CRITICAL, Cmd, r"(^|[;&|]\s*)cd\s+/?(etc|tmp|bin|usr|var|root|dev|proc)\b\s*[;&|]"),
        // vi/ex running a shell command.
        rule(
            3027,
            Rce,
            CRITICAL,
            Norm,
            r"\bsilent\s*\\*\s*\\?!\s*[a-z]",
        ),
        // Brace expansion building a command line: `{nc,-lvp,777}`, `{,id,}`;
        // not glued to a word (`client_{id,secret}` makes two words).
        rule(
            3028,
            Rce,
            CRITICAL,
            Cmd,
            r"\{[a-z0-9_./$\\]+,-[a-z0-9_-]+,|(^|\W)\{,?\$?['\x22]?(id|whoami|uname|cat|ls|nc|sh|bash)['\x22]?,",
        ),
        rule(
            3029,
            Rce,
            CRITICAL,
            Norm,
            r"\b(regedit|reg)(\.exe)?\s.*\bhk(ey_(current_user|local_machine|classes_root|users|current_config)|lm|cu|cr)\b|\b(iwmi|invoke-wmimethod|gwmi|get-wmiobject|invoke-cimmethod)\b.*\bwin32_[a-z]",
        ),
        // A command after a separator writing into a system directory
        // (`;echo x > /tmp/x`, `| cat key >> /root/.ssh/authorized_keys`).
        super::Rule {
            pattern: format!(r"{sep}\s*{PREFIX}({STRONG}|{WEAK}|{ENGLISH})\s[^;&|\n]{{0,80}}>>?\s*/(tmp|etc|var|dev|root|home)/").into(),
            ..rule(3069, Rce, CRITICAL, Cmd, "")
        },
        // A value that is only a separator and a reconnaissance command
        // (Unix's, or cmd.exe's: `& dir`, `| ver`).
        rule(
            3030,
            Rce,
            CRITICAL,
            Cmd,
            r"^\s*[;&|]+\s*(who|whoami|id|ls|top|htop|lastlog|last|set|env|printenv|uname|ps|aptitude|ifconfig|netstat|w|pwd|hostname|dir|ver|vol|ipconfig|systeminfo|tasklist)\s*$",
        ),
        // Process substitution and a variable run as a shell.
        rule(3041, Rce, CRITICAL, Norm, r"[<>]\(\s*(tee|cat|sh|bash|curl|wget|nc|ls|id)\b|\$[a-z_][a-z0-9_]*\s+-c\s+['\x22]"),
        // Compilers made to run a shell (`c89 -wrapper sh,-c,id`), a shell
        // name spliced with an empty variable (`sh$x -c`), and `trap` running
        // a command on a signal.
        rule(
            3042,
            Rce,
            CRITICAL,
            Cmd,
            r"-wrapper\s+\S*\b(sh|bash|zsh|dash),-c\b|\b(sh|bash|zsh|dash)\$[a-z_][a-z0-9_]*\s+-c\b|\btrap\s+\S.*\s(sig)?(exit|int|term|hup|err|debug|return)\s*$",
        ),
        // A value that opens with a command separator and a command with an
        // option. (A bare `;word` is not enough: `;performance`.)
        rule(3043, Rce, CRITICAL, Cmd, r"^\s*(;|&&|\|\|?)\s*[a-z][a-z0-9_.-]{1,20}\s+-{1,2}[a-z]"),
        // A whole value that is a command line for a tool that is not an
        // English word (`perf --version`, `zstdcat /var/log/x`, `kill -9 1`),
        // shell options and aliases (`set -o history`, `alias +m a=b`).
        rule(
            3044,
            Rce,
            CRITICAL,
            Cmd,
            r"^\s*((time|nohup|sudo|env|exec|nice)\s+)*(perf|ll|flock|bsdtar|zstdcat|zstd|xzcat|lz4cat|lzcat|bzcat|zcat|aa-[a-z-]+|ssh-copy-id|rmt-dump|python[23](\.[0-9]+)?|kill|alias|env)\s+(--?[a-z0-9][a-z0-9_-]*|/[a-z])|^\s*set\s+[-+]o\s+[a-z]+\s*$|^\s*alias\s+([-+]\S*\s+)*\S+=|^\s*python[23]\.[0-9]+\s+[a-z]+\s*$|^\s*(time|nohup|sudo|env|nice)\s+bsdtar\b|\bflock\s+-[a-z0-9_]+\s+\S+\s+[a-z0-9_]+",
        ),
        // Administration tools as the whole value (`chef-shell`,
        // `code=ansible-console`, `;ssh-copy-id user@server`: arguments with
        // a shell's punctuation), and package installs after a separator
        // (`; pip install x`). A package install as the value of its own
        // (`pip install x`) is what READMEs and issue bodies hold (78 of
        // 4,179 paragraphs of PyPI's package descriptions).
        rule(
            3045,
            Rce,
            CRITICAL,
            Cmd,
            r"(;|&&?|\|\|?|\$\(|`)\s*(sudo\s+)?(pip[x3]?|npm|gem|apt(-get)?|yum|dnf|apk|brew)\s+(install|add|i|remove|uninstall)\s+\S|(^|[=;&|])\s*(visudo|chef-(client|solo|shell|apply|run|zero|vault|server-ctl|backend-ctl|automate|cli|analyze|exec)|ansible-[a-z-]+|ssh-copy-id|rmt-dump|aa-(disable|enforce|complain|audit|exec|status|teardown|remove-unknown|autodep|genprof|logprof))(\s+-\S+)*(\s+[\w.~]*[-@/:][\w.@/:~-]*)*\s*$|^\s*chef\s+(report|exec|client|solo|shell|run|generate|install|push|env|gem)\b",
        ),
        // An unset variable spliced into a command name (`uname$u -a`,
        // `c$!at`), which the shell expands to nothing; case-sensitive, as
        // 3019 (`J$!BA4c` is a password).
        rule(3047, Rce, CRITICAL, Raw, r"[a-z]\$[a-z_][a-z0-9_]*\b\s+-[a-z]|[a-z]\$[!-][a-z]"),
        // cmd.exe comparisons with quoted operands or `/i` glued to `if`,
        // which the Cmd view has unquoted.
        rule(3049, Rce, CRITICAL, Norm, r#"\bif\s*/i\s+\S+\s*==|\bif\s+(not\s+)?"[^"]*"\s*==\s*""#),
        // A relative bin path to a shell or an administration tool.
        rule(
            3050,
            Rce,
            CRITICAL,
            Norm,
            r"^\s*/?(usr/)?(local/)?s?bin/(ansible[a-z0-9_-]*|chef[a-z0-9_-]*|cscli|visudo|whoami|uname|bash|sh|zsh|nc|ncat|curl|wget|python[23]?|perl|ruby|php|busybox|sudo)\s*$",
        ),
        // Credential and configuration files named in a header
        // (`X-Filename: .boto`).
        Rule {
            scope: Scope::Header,
            ..rule(
                3051,
                Rce,
                CRITICAL,
                Norm,
                r"^\s*(\.boto|\.env|wp-config[a-z0-9_.-]*|config\.ya?ml|\.htaccess|\.htpasswd|web\.config|\.user\.ini|\.git-credentials|\.npmrc|\.pypirc)\s*$",
            )
        },
        // A versioned compiler after a separator (`| gcc7.4`).
        rule(3052, Rce, CRITICAL, Cmd, r"([;&|`]|\$\(|\$\{[^}]*\})\s*(gcc|g\+\+|clang)[0-9.-]+\s*($|[;&|<>`])"),
        // Tilde expansion of the directory stack (`~+`, `~-1`).
        rule(3056, Rce, CRITICAL, Norm, r"^\s*~[+-][0-9]*\s*$"),
    ]
}
