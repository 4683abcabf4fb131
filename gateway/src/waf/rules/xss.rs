//! Cross-site scripting: script-capable tags, event handlers, script URIs,
//! DOM sinks, legacy CSS/VML/UTF-7 vectors and client-side template
//! expressions.

use super::{CRITICAL, NOTICE, Rule, View::Norm, View::Raw, WARNING, rule};
use crate::waf::Class::Xss;

pub fn rules() -> Vec<Rule> {
    vec![
        rule(2001, Xss, CRITICAL, Norm, r"<\s*/?\s*([a-z0-9_-]+:)?script\b"),
        // Event handler attribute inside a tag.
        rule(2002, Xss, CRITICAL, Norm, r#"<[^>]*[\s/"'`]on[a-z]{3,40}\s*="#),
        // Event handler without the tag (attribute-context injection).
        rule(
            2003,
            Xss,
            CRITICAL,
            Norm,
            r#"(^|[\s"'`;/])on(error|load|click|dblclick|mouse\w+|focus\w*|blur|key\w+|submit|change|input|toggle|begin|end|animation\w+|transition\w+|pointer\w+|wheel|scroll|resize|unload|beforeunload|hashchange|message|pageshow|popstate|drag\w*|drop|copy|cut|paste|select|play\w*|pause|auriga\w*|afterprint|beforeprint|contextmenu|readystatechange|show|start|finish|bounce|repeat|invalid|search|abort|canplay\w*|zoom|webkit\w+|auxclick|formdata|touch\w+|seek\w*|volumechange|timeupdate|loadstart|loadeddata|loadedmetadata|progress|emptied|ratechange|stalled|suspend|waiting|durationchange|playing|ended)\s*="#,
        ),
        // A script URL: the scheme then code (`javascript:alert(1)`,
        // `javascript: void(0)`) or nothing; a title's colon before words is prose
        // ("JavaScript: The Good Parts").
        rule(
            2004,
            Xss,
            CRITICAL,
            Norm,
            r#"(javascript|vbscript|livescript|mocha|jscript)\s*:(\S|\s*$|\s+\S*[(.=\[`'"/;:&%\\])|(javascript|vbscript)\s*:\s*(alert|eval|prompt|confirm|document|window|this)\b"#,
        ),
        rule(
            2005,
            Xss,
            WARNING,
            Norm,
            r"\b(alert|prompt|confirm|eval|settimeout|setinterval|execscript|msgbox)\s*(\(|`|&#)|\b(alert|prompt|confirm)\s*\[",
        ),
        // Tags that load or frame content, after a namespace prefix
        // (`<x:iframe>`) or within a longer name (a filter probe's); not a
        // path of code's (`Option<rust_embed::File>`: a tag name is not
        // followed by `::`), nor `<blink>`, an element of its own.
        // Elements whose content HTML parsers read as raw text (`noscript`,
        // `noembed`, `noframes`) hide markup from a sanitizer that parses it
        // otherwise (mutation XSS).
        rule(
            2006,
            Xss,
            CRITICAL,
            Norm,
            r"<\s*/?\s*[\w-]*:?(iframe|frame|frameset|object|embed|applet|meta|base|style|math|xss|isindex|vmlframe|handler|import|xml|x:|image|bgsound|layer|ilayer|marquee|template|portal|noscript|noframes|listener)\b([^:]|:[^:]|$)|<\s*/?\s*([\w-]*:|[\w-]*[ac-z0-9_-])?link\b([^:]|:[^:]|$)",
        ),
        rule(
            2007,
            Xss,
            WARNING,
            Norm,
            r"<\s*/?\s*(img|video|audio|source|body|form|input|button|textarea|select|details|a|div|span|table|td|animate|set|title|html|keygen|track|object|picture|blink|plaintext|xmp|textarea|option|iframe)\b[^>]*",
        ),
        rule(
            2008,
            Xss,
            CRITICAL,
            Norm,
            r#"\b(src|href|data|action|formaction|xlink:href|background|dynsrc|lowsrc|poster|codebase|srcdoc|values|to|from|by)\s*=\s*['"`]?\s*(javascript|vbscript|data\s*:\s*text/html|data\s*:\s*(text/|application/|image/svg|[^a-z])[^,]*;base64)"#,
        ),
        rule(
            2009,
            Xss,
            CRITICAL,
            Norm,
            r"document\s*\.\s*(cookie|write|writeln|location|domain|body|forms|referrer)\b|window\s*\.\s*(location|open|name|eval)\b|\.innerhtml\s*=|\.outerhtml\s*=|fromcharcode|constructor\s*\.\s*constructor|\[\s*['`]constructor['`]\s*\]|new\s+function\s*\(|\bimportscripts\s*\(|\blocation\s*(\.href)?\s*=\s*['`]?\s*(javascript|data|https?:)",
        ),
        rule(
            2010,
            Xss,
            CRITICAL,
            Norm,
            r"expression\s*\(|-moz-binding|behavio(u)?r\s*:\s*url|@import\b|url\s*\(\s*['`\x22]?\s*(javascript|vbscript|data\s*:)",
        ),
        // AngularJS and other client-side template sandboxes.
        rule(
            2011,
            Xss,
            CRITICAL,
            Norm,
            r"\{\{.*(constructor|\$on|\$eval|\$new|alert|tostring|call\s*\(|\$parent|\$root|__proto__|charat|fromcharcode).*\}\}",
        ),
        // UTF-7 encoded markup (`+ADw-`).
        rule(2012, Xss, CRITICAL, Norm, r"\+ad[w4]-"),
        // Markup's comments, CDATA and declarations; not a longer arrow
        // (`---->`, a traceback's pointer).
        rule(2013, Xss, NOTICE, Norm, r"<!--|(^|[^-])-->|<!\[cdata\[|<!doctype|<!entity"),
        rule(
            2014,
            Xss,
            CRITICAL,
            Norm,
            r"<[a-z][^>]*\bstyle\s*=[^>]*(expression|javascript|behavior|-moz-binding)|<[^>]*\s(xmlns|xlink)\b[^>]*>",
        ),
        // A link or image to another host, a form posting to one, and
        // dangling markup: a quoted address left open at the value's end
        // takes the page's text after it along (`<img src="//evil/?c=`).
        rule(
            2015,
            Xss,
            WARNING,
            Norm,
            r#"\b(src|href|action)\s*=\s*['`]?\s*(https?:)?//|\b(srcdoc|formaction)\s*=|<form\b[^>]*\baction\s*=\s*["']?\s*(https?:)?//|\b(src|href|action|background|poster)\s*=\s*["']\s*(https?:)?//[^"'<>]*$"#,
        ),
        // A script from another host as an attribute (`42 src=//evil/x.js`,
        // written into a tag the page opens): the link alone is a warning
        // (2015), a script address is what runs.
        rule(2030, Xss, CRITICAL, Norm, r#"\bsrc\s*=\s*['"`]?\s*(https?:)?//[^\s'"`<>]+\.js\b"#),
        rule(2016, Xss, WARNING, Norm, r#"(^|[\s"'`;/])on[a-z]{3,40}\s*=\s*\S"#),
        rule(
            2017,
            Xss,
            CRITICAL,
            Norm,
            r#"!entity\s+%?\s*\w+\s+(system|public)\b|<\?import\b|j\s*a\s*v\s*a\s*s\s*c\s*r\s*i\s*p\s*t\s*:(\S|\s*$|\s+\S*[(.=\[`'"/;:&%\\])|\(!\[\]\+\[\]\)|\[\]\[\(|\b(window|self|top|parent|globalthis|frames|document)\s*\[\s*['\x22`]"#,
        ),
        // Tagged templates calling a sink: `[].sort.call`${alert}1``.
        rule(
            2018,
            Xss,
            CRITICAL,
            Norm,
            r"\$\{\s*(alert|eval|prompt|confirm|atob|fetch|import)\s*\}|\.\s*call\s*`",
        ),
        rule(
            2019,
            Xss,
            CRITICAL,
            Norm,
            r#"\(\s*document\s*\)\s*\[|\bdocument\s*\[\s*['"`](cookie|domain|write|location)|\bdocument\s*\.\s*queryselector(all)?\s*\([^)]*\)\s*\.\s*(textcontent|innerhtml|outerhtml)\s*="#,
        ),
        // `script` between bytes a legacy charset turns into `<` and `>`.
        rule(2020, Xss, CRITICAL, Raw, r"(?i)[^\x00-\x7f]\s*/?\s*script\s*[^\x00-\x7f]"),
        // Keywords and tag names spelled out with spaces (`v b s c r i p t:`,
        // `<f o r m`), which some parsers and filters collapse.
        rule(
            2021,
            Xss,
            CRITICAL,
            Norm,
            r"\b(j\s+a\s+v\s+a|v\s+b)\s+s\s+c\s+r\s+i\s+p\s+t\s*:|<\s*/?\s*(f\s+o\s+r\s+m|s\s+c\s+r\s+i\s+p\s+t|d\s+i\s+a\s+l\s+o\s+g|i\s+f\s+r\s+a\s+m\s+e|s\s+v\s+g|i\s+m\s+g|o\s+b\s+j\s+e\s+c\s+t|e\s+m\s+b\s+e\s+d)\b",
        ),
        // A value that is nothing but a call to a script sink: `alert()`.
        rule(
            2022,
            Xss,
            CRITICAL,
            Norm,
            r"^\W{0,3}(alert|prompt|confirm|eval|setinterval|settimeout|atob|btoa|fetch)\s*\([^()]*\)\s*;?\s*(//.*)?$",
        ),
        // JSFuck's building blocks: `(![]+[])`, `!![]`, `[+!+[]]` (a form's
        // `+` may have become a space).
        rule(
            2023,
            Xss,
            CRITICAL,
            Norm,
            r"\(\s*!\s*\[\s*\]\s*\+?\s*\[\s*\]\s*\)|!\s*!\s*\[\s*\]|\[\s*\+?\s*!\s*\+?\s*\[\s*\]\s*\]",
        ),
        // A comment closer as the whole value or a form key: it ends an
        // HTML comment the page opened around reflected input.
        rule(2024, Xss, CRITICAL, Norm, r"^\s*-->\s*$|^\s*-->\s*=|=\s*-->\s*$"),
        // A value that opens by closing what the page put it in: an
        // attribute (`"><h1>`) or a raw-text element (`</textarea><`,
        // `</title>`), then markup of its own; and `<plaintext>`, which
        // turns the rest of a page into text.
        rule(
            2029,
            Xss,
            CRITICAL,
            Norm,
            r#"^\W{0,2}['"]\s*/?>\s*<\s*[a-z!/]|^\s*</\s*(textarea|title|style|script|noscript|xmp|iframe|noembed|noframes|option|select)\s*>\s*<|<\s*plaintext\b"#,
        ),
        // Breaking out of a string into a call and commenting out the rest
        // (`x";settimeout(name, 1)//`), or into an expression whose other
        // operand is a dialog (`\"-alert(1)}//`).
        rule(
            2025,
            Xss,
            CRITICAL,
            Norm,
            r#"['"]\s*;\s*(settimeout|setinterval|alert|eval|prompt|confirm|fetch)\s*\(.*//|['"]\s*[-+*/|&^]\s*(alert|prompt|confirm)\s*\([^()]*\)\s*([-+*/|&^;}]|//)"#,
        ),
        // A JavaScript module import as the whole value.
        rule(
            2026,
            Xss,
            CRITICAL,
            Norm,
            r#"^\s*import\s*\{[^}]*\}\s*from\s*['"]|^\s*import\s+\*\s+as\s+[a-z0-9_$]+\s+from\s+['"]"#,
        ),
        // An event-handler attribute name alone (`onmouseover=`).
        rule(2027, Xss, CRITICAL, Norm, r"^\s*on[a-z]{3,30}\s*=\s*$"),
        // A dialog called as a tagged template (`alert`1``), the call
        // written without parentheses. (Markdown's `alert` quotes the name
        // itself, so a backtick or a word before it is left to rule 2005.)
        rule(2028, Xss, CRITICAL, Norm, r"(^|[^\x60\w.])(alert|prompt|confirm|eval)\x60[^\x60\s]{0,20}\x60"),
    ]
}
