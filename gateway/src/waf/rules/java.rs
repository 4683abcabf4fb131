//! Java injection: class names used by deserialization gadgets and
//! reflection, serialized-object magic (raw and base64), Log4Shell lookups
//! and OGNL/EL expressions.

use super::{CRITICAL, Rule, Scope, View::Norm, View::Raw, WARNING, rule};
use crate::waf::Class::Java;

/// Gadget-chain class names (Commons Collections and friends) and classes
/// whose presence in user data means code is being loaded or run.
const GADGETS: &[&str] = &[
    "runtime",
    "processbuilder",
    "clonetransformer",
    "forclosure",
    "instantiatefactory",
    "instantiatetransformer",
    "invokertransformer",
    "prototypeclonefactory",
    "prototypeserializationfactory",
    "whileclosure",
    "chainedtransformer",
    "constanttransformer",
    "templatesimpl",
];

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            let idx = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(B64.get(idx as usize).copied().unwrap_or(b'A')));
        }
    }
    out
}

/// The base64 spellings of `word` at the three byte alignments it can have
/// inside a longer encoded string, trimmed to the characters that do not
/// depend on the neighbouring bytes.
pub fn base64_fragments(word: &str) -> Vec<String> {
    (0..3usize)
        .map(|pad| {
            let mut data = vec![0u8; pad];
            data.extend_from_slice(word.as_bytes());
            let enc = base64(&data);
            // Skip chars touched by the padding; drop the last, partial one.
            let skip = if pad == 0 { 0 } else { (pad * 8).div_ceil(6) };
            let full = (pad + word.len()) * 8 / 6;
            enc.get(skip..full).unwrap_or_default().to_string()
        })
        .collect()
}

/// One alternation of the base64 spellings of `words`, regex-escaped.
pub fn base64_alternation(words: &[&str]) -> String {
    let frags: Vec<String> =
        words.iter().flat_map(|w| base64_fragments(w)).map(|f| regex::escape(&f)).collect();
    format!("({})", frags.join("|"))
}

pub fn rules() -> Vec<Rule> {
    vec![
        // Classes a gadget chain or an expression reaches for: Runtime.exec
        // returns a java.lang.Process; Commons (Collections, BeanUtils,
        // FileUpload, Text) and Struts carry the known chains. Of java.io and
        // java.security, the classes that read, write and grant: their
        // system properties (`java.io.tmpdir`, `java.security.egd`) are
        // named in configuration and advisories.
        rule(
            7001,
            Java,
            CRITICAL,
            Norm,
            r"\bjava\.(lang\.(runtime|process|processbuilder|system|reflect|class|classloader|thread|object|integer|string|invoke|management)|io\.\w*(stream|reader|writer|file|console|serializ)\w*|net\.(url|socket|urlclassloader)\w*|beans\.\w+|rmi\.\w+|nio\.\w+|util\.(prefs|jar|zip|logging|concurrent\.executors)\b|security\.\w*(access|privileged|protection|classloader|codesource|permission)\w*|sql\.\w+)|\bjavax\.(script|naming|management|el|faces|xml\.transform|sql|crypto|imageio|swing)\b|\borg\.omg\.corba\b|\bsun\.(misc|reflect|rmi|tools)\b|\bcom\.sun\.(org\.apache|jndi|rowset|corba|jmx|net\.httpserver)\b|\borg\.apache\.(commons|struts2?|xalan|tomcat|catalina|naming|bcel)\b|\bbsh\.interpreter\b|\bgroovy\.(lang|util)\b|\borg\.springframework\.(beans|context)\b|\bcom\.mchange\.v2\b|\borg\.codehaus\.groovy\b",
        ),
        rule(
            7002,
            Java,
            CRITICAL,
            Norm,
            r"processbuilder|getruntime\s*\(|\bruntime\.(exec|getruntime)|\.exec\s*\(\s*['\x22]|\bclass\.forname\s*\(|\.getmethod\s*\(|\.getdeclaredmethod\s*\(|\.invoke\s*\(|\.newinstance\s*\(|\.getclassloader\s*\(|\bdefineclass\s*\(",
        ),
        Rule {
            pattern: format!(
                r"(^|[^a-z])({})\b",
                GADGETS.iter().skip(2).copied().collect::<Vec<_>>().join("|")
            )
            .into(),
            ..rule(7003, Java, CRITICAL, Norm, "")
        },
        rule(
            7004,
            Java,
            CRITICAL,
            Norm,
            r"(^|[^a-z])(runtime|java\.\w+)\.(\w+\.)*(processbuilder|exec|getruntime|clonetransformer|forclosure|instantiatefactory|instantiatetransformer|invokertransformer|prototypeclonefactory|prototypeserializationfactory|whileclosure)|\bjava\.(\w+\.)*(processbuilder|runtime)\b",
        ),
        // Serialized Java object magic AC ED 00 05, raw, base64 or hex.
        rule(7005, Java, CRITICAL, Raw, r"rO0AB|KztAAU|Cs7QAF|\b(?i:aced0005)"),
        Rule { pattern: base64_alternation(GADGETS).into(), ..rule(7006, Java, CRITICAL, Raw, "") },
        // Log4Shell: any `${...:` lookup, nested lookups used for obfuscation.
        rule(
            7007,
            Java,
            CRITICAL,
            Norm,
            r"\$\{[^}]{0,50}\$\{|\$\{\s*(jndi|lower|upper|env|sys|java|date|main|ctx|bundle|spring|k8s|docker|log4j|web|marker|sd|map|base64|event|jvmrunargs|script|dns|ldap|rmi|::-)\s*:|\bjndi\s*:\s*(ldaps?|rmi|dns|iiop|corba|nds|nis|https?)\s*:",
        ),
        // OGNL / Struts / EL expressions, and EL's implicit objects
        // (`${applicationScope}`, `#{facesContext.externalContext}`).
        rule(
            7008,
            Java,
            CRITICAL,
            Norm,
            r"#_?memberaccess|@java\.lang\.|ognlcontext|ognlutil|#context\s*\[|#attr\s*\[|#application\s*[\[.]|#request\s*[\[.]|#parameters\s*[\[.]|#session\s*[\[.]|\(#[a-z_]+\s*=|%\{\s*#|\bdefault_member_access\b|@ognl\.|xwork2?\.|\bcom\.opensymphony\b|\.getclass\s*\(\s*\)\s*\.\s*forname|\bclass\.module\.classloader|\bclass\.classloader\b|[$#]\{\s*(applicationscope|sessionscope|requestscope|pagescope|pagecontext|facescontext|initparam)\b",
        ),
        rule(7009, Java, WARNING, Norm, r"<%@?\s*(page|include|taglib)\b|<jsp:|\bjava\.lang\b|\bjavax\.\w+"),
        // A whole JSP directive, opened and closed: a page that imports
        // classes or includes files (`<%@ page import="java.io.*" %>`).
        rule(7012, Java, CRITICAL, Norm, r"<%@\s*(page|include|taglib|tag)\s+[a-z]+\s*=[^%]*%>"),
        rule(
            7010,
            Java,
            CRITICAL,
            Norm,
            r"<java\b[^>]*>|<object\s+class\s*=\s*['\x22]java\.|<void\s+(method|property)\s*=",
        ),
        // Uploads of JSP files (bare file names only, so routes and URLs pass).
        Rule {
            scope: Scope::NotPath,
            ..rule(7011, Java, CRITICAL, Norm, r"^[^/:?=]*\.\s*(jsp|jspx|jspf|jsw|jsv|jtml)[\d.\s]*$")
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_fragments_align() {
        assert_eq!(base64(b"runtime"), "cnVudGltZQ");
        for (i, frag) in base64_fragments("runtime").iter().enumerate() {
            let mut data = b"xyz".get(..i).unwrap_or_default().to_vec();
            data.extend_from_slice(b"runtime!");
            assert!(base64(&data).contains(frag.as_str()), "alignment {i}: {frag}");
            assert!(frag.len() >= 6);
        }
    }
}
