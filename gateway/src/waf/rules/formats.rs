//! Injections into data formats that a downstream program evaluates rather
//! than stores: spreadsheet formulas (CSV injection), YAML tags that build
//! objects on load, TeX commands that run programs, XPath predicates,
//! server- and edge-side include directives, pickles that import a command
//! runner, .NET's and Ruby's serialized gadgets, XSLT extensions that run
//! code, and PostgreSQL's `COPY ... TO PROGRAM`. Each is a sign no
//! ordinary value carries; none of them appears in the benign sources
//! (corpus, npm READMEs, Google API descriptions, boto3 shapes, the
//! held-out webhook and OpenAPI sets) when they were written.

use super::{CRITICAL, Rule, View::Norm, View::Raw, View::Sql, rule};
use crate::waf::Class::{Generic, Rce, Sqli};

/// Classes that .NET's and Ruby's deserialization chains instantiate, as
/// they are written in a serialized stream.
const SERIALIZED_GADGETS: &[&str] = &[
    "ObjectDataProvider",
    "System.Diagnostics.Process",
    "TypeConfuseDelegate",
    "TextFormattingRunProperties",
    "System.Windows.Forms",
    "ActiveSupport::Deprecation",
    "Gem::Installer",
    "Gem::Requirement",
    "Gem::StubSpecification",
    "Net::BufferedIO",
    "Net::WriteAdapter",
];

pub fn rules() -> Vec<Rule> {
    vec![
        // A spreadsheet formula that leaves the sheet: a DDE call
        // (`=cmd|' /C calc'!A0`, anywhere in the cell, after `@SUM(1+1)*`),
        // or a value that starts as a formula fetching a URL.
        rule(
            9521,
            Generic,
            CRITICAL,
            Norm,
            r"\w\|\s*'[^']*'\s*!|^\s*[=+@-]\s*(hyperlink|dde|webservice|import(xml|data|html|feed|range))\s*\(",
        ),
        // YAML tags that construct objects when loaded (PyYAML, Ruby's Psych,
        // SnakeYAML): `!!python/object/apply:os.system`, `!ruby/object:Gem::`,
        // `!!javax.script.ScriptEngineManager`.
        rule(
            9522,
            Generic,
            CRITICAL,
            Norm,
            r"!!python/(object|name|module)\b|!ruby/(object|hash|struct|marshal)\b|!!(javax?|com\.sun|org\.(apache|springframework))\.[a-z]",
        ),
        // TeX's shell escape (`\immediate\write18{id}`).
        rule(9523, Rce, CRITICAL, Norm, r"\\(immediate\s*\\)?write18\s*\{"),
        // An XPath predicate closed by a quote and the path carried on
        // (`')] | //user/*`, `']/../*`, `')]/parent::*`), and node tests no
        // value needs (`//*[`, `contains(*,`), and XPath's and XSLT's fetches
        // of a remote document (`doc('//evil.example/')`, a remote
        // `<?xml-stylesheet href=`) or of the processor's name
        // (`system-property('xsl:vendor')`).
        rule(
            9524,
            Sqli,
            CRITICAL,
            Norm,
            r"['\x22]\s*\)*\s*\]\s*(\|\s*/|/\s*(\.\.|\*|[a-z-]+::))|\|\s*//\*|//\*\s*\[|\bcontains\s*\(\s*[*.]\s*,|\b(doc|document|unparsed-text)\s*\(\s*['\x22]([a-z]+:)?//|\bsystem-property\s*\(\s*['\x22]xsl:|<\?xml-stylesheet\b[^>]*\bhref\s*=\s*['\x22]?\s*([a-z]+:)?//",
        ),
        // Server-side and edge-side includes: an SSI directive
        // (`<!--#exec cmd="id" -->`) or an ESI tag (`<esi:include src=`),
        // which a server or CDN runs when it serves the stored value.
        rule(
            9525,
            Generic,
            CRITICAL,
            Norm,
            r"<!--\s*#\s*(exec|include|echo|printenv|config|set|fsize|flastmod|if|elif)\b|<\s*esi\s*:\s*(include|vars|inline|choose|when|otherwise|remove|comment|try|attempt|except|debug|assign|eval|text)\b",
        ),
        // A pickle (protocol 0) that imports a function able to run a
        // command (`cos\nsystem\n(S'id'\ntR.`): unpickling it calls it.
        rule(
            9526,
            Rce,
            CRITICAL,
            Raw,
            r"(?m)^c(os|posix|nt|subprocess|builtins|__builtin__|commands|pty|socket|runpy)\r?\n(system|popen|exec|eval|call|check_output|check_call|run|getoutput|getstatusoutput|spawnv?p?|execv?p?e?|_run_code)\r?$",
        ),
        // Objects built on load by Ruby's JSON (`json_class`, as a key or in
        // JSON text), and .NET's and
        // Ruby's serialized gadgets in base64: BinaryFormatter's stream
        // header, and the classes ysoserial.net's and Ruby's chains name.
        super::Rule {
            pattern: format!(
                r#"(?i:\bjson_class['"]?\s*:|^\s*json_class\s*$)|AAEAAAD/////|{}"#,
                super::java::base64_alternation(SERIALIZED_GADGETS)
            )
            .into(),
            ..rule(9528, Generic, CRITICAL, Raw, "")
        },
        // A document type whose definition is fetched from a URL
        // (`<!DOCTYPE r SYSTEM "http://evil.example/e.dtd">`, read from an
        // XML body as the declaration's inside): the parser makes the request.
        // A relative `note.dtd` or a public identifier is a schema's name.
        rule(
            9529,
            Generic,
            CRITICAL,
            Norm,
            r#"(^\s*|<!doctype\s+)[\w:.-]+\s+system\s+['"]\s*(https?|ftps?|file|gopher|jar|netdoc|php|expect|data)\s*:"#,
        ),
        // An XSLT stylesheet declaring an extension namespace that runs code
        // or writes files where the server applies it (XSLT injection):
        // Xalan's Java calls and `redirect:write`, Saxon's Java binding,
        // PHP's `php:function`, MSXML's `msxsl:script`. A namespace is a
        // whole attribute value; prose names these URIs in a sentence.
        rule(
            9532,
            Generic,
            CRITICAL,
            Norm,
            r"^\s*(https?://xml\.apache\.org/(xalan/(redirect|java)|xslt/java)\b\S*|xalan://\S+|java:[a-z_][\w.$]*|https?://saxon\.sf\.net/(java-type)?|https?://php\.net/xsl|urn:schemas-microsoft-com:xslt)\s*$",
        ),
        // PostgreSQL's `COPY ... TO PROGRAM 'id'`: a statement that runs a
        // shell command.
        rule(9527, Sqli, CRITICAL, Sql, r#"\bcopy\b[^;]{0,200}\b(to|from)\s+program\s*['"$]"#),
    ]
}
