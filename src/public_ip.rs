//! `${public_ip}`: the caller's public IPv4 address, looked up once per run over HTTPS (a
//! tampered answer would open the database to someone else, so plain HTTP is not the default).

use std::net::Ipv4Addr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};

use crate::error::{Error, Result};

pub const DEFAULT_URL: &str = "https://checkip.amazonaws.com/";

/// The lookup URL: `DEPLOY_PUBLIC_IP_URL`, else [`DEFAULT_URL`].
pub fn url() -> String {
    std::env::var("DEPLOY_PUBLIC_IP_URL").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

pub async fn lookup() -> Result<String> {
    let url = url();
    let fail = |why: String| {
        Error::User(format!(
            "cannot look up the public IP for ${{public_ip}} from {url}: {why} (set DEPLOY_PUBLIC_IP_URL to another service)"
        ))
    };
    let uri: hyper::Uri = url.parse().map_err(|e| fail(format!("bad URL: {e}")))?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| fail(format!("no TLS root certificates: {e}")))?
        .https_or_http()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Empty<Bytes>>(https);
    let get = async {
        let resp = client.get(uri).await.map_err(|e| fail(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fail(format!("HTTP {}", resp.status())));
        }
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| fail(e.to_string()))?
            .to_bytes();
        Ok(String::from_utf8_lossy(&body).to_string())
    };
    let body = tokio::time::timeout(Duration::from_secs(15), get)
        .await
        .map_err(|_| fail("timed out after 15s".into()))??;
    parse(&body).ok_or_else(|| {
        fail(format!(
            "the answer `{}` is not an IPv4 address",
            body.trim()
        ))
    })
}

/// The answer must be exactly one IPv4 address (whitespace around it is fine).
pub fn parse(body: &str) -> Option<String> {
    body.trim()
        .parse::<Ipv4Addr>()
        .ok()
        .map(|ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_only_an_ipv4_address() {
        assert_eq!(
            super::parse("203.0.113.10\n").as_deref(),
            Some("203.0.113.10")
        );
        assert_eq!(super::parse("<html>"), None);
        assert_eq!(super::parse("::1"), None);
    }
}
