//! A URL in a query argument that points at another site: the classic
//! remote file inclusion `?page=http://evil.example/shell.txt` (CRS rule
//! 931130). Not a regex: it compares the URL's authority with the request's
//! own `Host`, so it runs only where both are known. The gateway's API takes
//! no URLs in its query, and payload bodies (where URLs are data) are left
//! to the signature tables.

/// Whether `value` (a normalised query value) is an absolute URL whose
/// authority is neither `host` nor a subdomain of it. A port counts: a
/// different port on the same name is another server.
pub fn points_off_site(value: &str, host: &str) -> bool {
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return false;
    }
    match url_authority(value) {
        Some(authority) if !authority.is_empty() => {
            let authority = authority.trim_end_matches('.');
            let same = authority == host
                || authority.strip_suffix(host.as_str()).is_some_and(|head| head.ends_with('.'));
            !same
        }
        _ => false,
    }
}

/// Schemes an include or a fetch on the server follows.
const FETCHED_SCHEMES: [&str; 5] = ["http", "https", "ftp", "ftps", "file"];

/// The host and port of `scheme://[userinfo@]authority/...`, after an
/// optional `url:` or `jar:` wrapper; `None` when the value is no such URL.
fn url_authority(value: &str) -> Option<&str> {
    let value = value.trim_start();
    let value = value.strip_prefix("url:").or_else(|| value.strip_prefix("jar:")).unwrap_or(value);
    let (scheme, rest) = value.split_once("://")?;
    if !FETCHED_SCHEMES.contains(&scheme) {
        return None;
    }
    let end = rest.find(['/', '?', '#', '\\', ' ']).unwrap_or(rest.len());
    let authority = rest.get(..end)?;
    Some(authority.rsplit_once('@').map_or(authority, |(_, host)| host))
}

#[cfg(test)]
mod tests {
    use super::points_off_site;

    #[test]
    fn other_hosts_and_ports_are_off_site() {
        assert!(points_off_site("https://evil.example/x.txt", "localhost"));
        assert!(points_off_site("ftp://foo.bar", "localhost"));
        assert!(points_off_site("https://example.com.evil.com/", "example.com"));
        assert!(points_off_site("https://example.com:1234/", "example.com"));
        assert!(points_off_site("http://example.com@evil.com/", "example.com"));
        assert!(points_off_site("url:file://foo.bar", "localhost"));
    }

    #[test]
    fn the_site_itself_and_non_urls_are_not() {
        assert!(!points_off_site("https://example.com/", "example.com"));
        assert!(!points_off_site("http://www.example.com/some/path", "example.com"));
        assert!(!points_off_site("http://foo:bar@example.com/", "Example.com"));
        assert!(!points_off_site("https://evilexample.com.example.com/", "example.com"));
        assert!(!points_off_site("file:///etc/passwd", "example.com"));
        assert!(!points_off_site("see https://evil.example/", "example.com"));
        assert!(!points_off_site("a plain value", "example.com"));
        assert!(!points_off_site("https://evil.example/", ""));
        assert!(!points_off_site("lz77://some_file.lz", "example.com"));
        assert!(!points_off_site("data://text/plain;base64,eA==", "example.com"));
    }
}
