//! http-01 (RFC 8555 §8.3): `GET http://{name}/.well-known/acme-challenge/{token}`
//! answers the key authorization. Redirects are followed (at most ten),
//! only to http and https on the validation ports; at most a few KiB are read.

use super::{Host, Validator, connection, tls};
use crate::acme::problem::{Kind, Problem};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use std::net::IpAddr;

const MAX_REDIRECTS: usize = 10;
/// More than a key authorization (about 90 octets) ever needs.
const MAX_BODY: usize = 4096;

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    https: bool,
    host: Host,
    port: u16,
    path: String,
}

enum Fetched {
    Body(Vec<u8>),
    Redirect(String),
}

fn unauthorized(detail: String) -> Problem {
    Problem::new(Kind::Unauthorized, detail)
}

pub async fn validate(v: &Validator, host: &Host, token: &str, expected: &str) -> Result<(), Problem> {
    let mut target = Target {
        https: false,
        host: host.clone(),
        port: v.config.http_port,
        path: format!("/.well-known/acme-challenge/{token}"),
    };
    for _ in 0..=MAX_REDIRECTS {
        match fetch(v, &target).await? {
            Fetched::Body(body) => return check(&body, expected),
            Fetched::Redirect(location) => target = redirected(v, &target, &location)?,
        }
    }
    Err(connection(format!("more than {MAX_REDIRECTS} redirects")))
}

fn check(body: &[u8], expected: &str) -> Result<(), Problem> {
    let text = String::from_utf8_lossy(body);
    if text.trim() == expected {
        return Ok(());
    }
    let shown: String = text.trim().chars().take(100).collect();
    Err(unauthorized(format!("the key authorization served is {shown:?}, not the expected one")))
}

/// Where a redirect from `from` to `location` leads, if validation may go there.
fn redirected(v: &Validator, from: &Target, location: &str) -> Result<Target, Problem> {
    let refuse = |why: &str| connection(format!("redirect to {location:?} refused: {why}"));
    if location.starts_with('/') && !location.starts_with("//") {
        return Ok(Target { path: location.to_owned(), ..from.clone() });
    }
    let uri: http::Uri = location.parse().map_err(|_| refuse("not a URL"))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(refuse("only http and https")),
    };
    let authority = uri.authority().ok_or_else(|| refuse("no host"))?;
    if authority.as_str().contains('@') {
        return Err(refuse("credentials in the URL"));
    }
    let name = authority.host().trim_start_matches('[').trim_end_matches(']');
    let host = match name.parse::<IpAddr>() {
        Ok(ip) => Host::Ip(ip),
        Err(_) if crate::profile::check::dns_name(&name.to_ascii_lowercase(), false) => {
            Host::Dns(name.to_ascii_lowercase())
        }
        Err(_) => return Err(refuse("not a DNS name or IP address")),
    };
    let allowed = if https { v.config.tls_port } else { v.config.http_port };
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    if port != allowed {
        return Err(refuse(&format!("only port {allowed} for {}", if https { "https" } else { "http" })));
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    Ok(Target { https, host, port, path })
}

async fn fetch(v: &Validator, target: &Target) -> Result<Fetched, Problem> {
    let stream = v.connect(&target.host, target.port).await?;
    let default_port = if target.https { 443 } else { 80 };
    let authority = target.host.authority(target.port, default_port);
    let request = http::Request::get(target.path.as_str())
        .header(http::header::HOST, authority.as_str())
        .header(http::header::USER_AGENT, "Cartorio-ACME-validation")
        .header(http::header::ACCEPT, "*/*")
        .body(Empty::<Bytes>::new())
        .map_err(|e| connection(format!("a request to {authority}: {e}")))?;
    let response = if target.https {
        let config = tls::client_config(&[b"http/1.1"]).map_err(|e| Problem::internal(&e))?;
        let name = tls::server_name(&target.host).ok_or_else(|| connection("a name TLS cannot carry"))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, stream)
            .await
            .map_err(|e| Problem::new(Kind::Tls, format!("TLS with {authority}: {e}")))?;
        send(TokioIo::new(tls), request, &authority).await?
    } else {
        send(TokioIo::new(stream), request, &authority).await?
    };
    let status = response.status();
    if status.is_redirection() {
        let location = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| connection(format!("{authority} redirected without a usable Location")))?;
        return Ok(Fetched::Redirect(location.to_owned()));
    }
    if status != http::StatusCode::OK {
        return Err(unauthorized(format!("{authority}{} answered HTTP {status}", target.path)));
    }
    let mut body = response.into_body();
    let mut read = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| connection(format!("reading from {authority}: {e}")))?;
        if let Some(data) = frame.data_ref() {
            read.extend_from_slice(data);
            if read.len() > MAX_BODY {
                return Err(unauthorized(format!("{authority} answered more than {MAX_BODY} octets")));
            }
        }
    }
    Ok(Fetched::Body(read))
}

async fn send<T>(
    io: TokioIo<T>,
    request: http::Request<Empty<Bytes>>,
    authority: &str,
) -> Result<http::Response<hyper::body::Incoming>, Problem>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| connection(format!("HTTP with {authority}: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(request).await.map_err(|e| connection(format!("HTTP with {authority}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validator() -> Validator {
        let config =
            crate::acme::config::ValidationConfig { http_port: 8080, tls_port: 8443, ..Default::default() };
        Validator::new(&config).expect("validator")
    }

    #[test]
    fn redirects_go_only_to_http_and_https_on_the_validation_ports() {
        let v = validator();
        let from =
            Target { https: false, host: Host::Dns("a.example".into()), port: 8080, path: "/x".into() };
        let same = redirected(&v, &from, "/y?z=1").expect("relative");
        assert_eq!((same.path.as_str(), same.port), ("/y?z=1", 8080));
        let tls = redirected(&v, &from, "https://B.example:8443/p").expect("https");
        assert_eq!((tls.https, tls.host, tls.port), (true, Host::Dns("b.example".into()), 8443));
        for refused in [
            "ftp://a.example/",
            "file:///etc/passwd",
            "http://a.example:22/",
            "https://a.example/",
            "http://user@a.example:8080/",
            "gopher://a.example:8080/",
            "//a.example/x",
        ] {
            assert!(redirected(&v, &from, refused).is_err(), "{refused}");
        }
        assert_eq!(
            redirected(&v, &from, "http://[::1]:8080/").expect("v6").host,
            Host::Ip("::1".parse().expect("ip"))
        );
    }

    #[test]
    fn the_body_must_be_the_key_authorization() {
        assert!(check(b"tok.thumb\n", "tok.thumb").is_ok());
        assert!(check(b"tok.other", "tok.thumb").is_err());
    }
}
