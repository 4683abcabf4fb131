//! Injections into data formats that a downstream program evaluates rather
//! than stores: spreadsheet formulas (CSV injection), YAML tags that build
//! objects on load, TeX commands that run programs, and XPath predicates.
//! Each is a sign no ordinary value carries; none of them appears in the
//! benign sources (corpus, npm READMEs, Google API descriptions, boto3
//! shapes) when they were written.

use super::{CRITICAL, Rule, View::Norm, rule};
use crate::waf::Class::{Generic, Rce, Sqli};

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
        // of a remote document (`doc('//evil.example/')`).
        rule(
            9524,
            Sqli,
            CRITICAL,
            Norm,
            r"['\x22]\s*\)*\s*\]\s*(\|\s*/|/\s*(\.\.|\*|[a-z-]+::))|\|\s*//\*|//\*\s*\[|\bcontains\s*\(\s*[*.]\s*,|\b(doc|document|unparsed-text)\s*\(\s*['\x22]([a-z]+:)?//",
        ),
    ]
}
