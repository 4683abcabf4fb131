//! URLs in query arguments: another site's is an inclusion only where it
//! has an inclusion's shape or field; in a field a browser follows (a
//! redirect target, a profile's site) only an internal address blocks.

use super::*;

#[test]
fn query_urls_to_other_sites_block() {
    let with_host = |q: &str, host: &str| {
        let headers = [("host", host)];
        inspect(&RequestView { query: Some(q), headers: &headers, ..RequestView::default() })
    };
    blocks(with_host("x=https://evil.example/shell.txt", "localhost"), Class::Rfi);
    blocks(with_host("x=https://example.com:1234/c99.php", "example.com"), Class::Rfi);
    passes(with_host("x=https://www.example.com/a", "example.com"));
    // A homepage is a link; a host dressed as the site's own is not.
    passes(with_host("website=https://www.weston.com/", "example.com"));
    blocks(with_host("x=https://example.com.evil.com/", "example.com"), Class::Rfi);
    // A link to another site is data; in a field naming a file, or cut
    // short by `?`, it is an inclusion.
    passes(with_host("url=https://lists.debian.org/debian-devel/2021/11/msg00176.html", "example.com"));
    blocks(with_host("_CONF%5Bpath%5D=https://foo.bar", "example.com"), Class::Rfi);
    blocks(with_host("page=https://evil.example/", "example.com"), Class::Rfi);
    blocks(with_host("x=https://evil.example/x?", "example.com"), Class::Rfi);
    // URLs in a body are data, and without a known host there is no site.
    passes(json(r#"{"link":"https://evil.example/shell.txt"}"#));
    passes(query("x=https://evil.example/shell.txt"));
    // Where a browser goes next is another site by design (RFC 6749's
    // authorization request), but only that field's value is exempt, and
    // an internal address there still blocks.
    let authorize =
        "response_type=code&client_id=abc&redirect_uri=https%3A%2F%2Fapp.example.org%2Fcb&state=xyz";
    passes(with_host(authorize, "auth.example.com"));
    passes(with_host("next=https://app.example.org/&RelayState=https://sp.example.net/x", "example.com"));
    blocks(
        with_host(&format!("{authorize}&page=https://evil.example/shell.txt"), "auth.example.com"),
        Class::Rfi,
    );
    blocks(with_host("redirect_uri=http://169.254.169.254/latest/meta-data/", "example.com"), Class::Generic);
    // So is a profile's site, whatever its page's extension.
    passes(with_host("name=Ann&website=http://www.woods-owens.com/tags/home.php", "example.com"));
    blocks(with_host("blog=http://10.0.0.1/x.php", "example.com"), Class::Ssrf);
}
