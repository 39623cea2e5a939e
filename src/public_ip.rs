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
        Error::user(format!(
            "cannot look up the public IP for ${{public_ip}} from {url}: {why} (set DEPLOY_PUBLIC_IP_URL to another service)"
        ))
    };
    let uri: hyper::Uri = url.parse().map_err(|e| fail(format!("bad URL: {e}")))?;
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    // The root store (the system's certificates, parsed) only for a lookup that uses TLS: it is
    // most of the lookup's own time, and the SDK's client parses its own copy meanwhile.
    let builder = if uri.scheme_str() == Some("https") {
        builder
            .with_native_roots()
            .map_err(|e| fail(format!("no TLS root certificates: {e}")))?
    } else {
        builder.with_tls_config(
            rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| fail(format!("TLS setup: {e}")))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        )
    };
    let https = builder.https_or_http().enable_http1().build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Empty<Bytes>>(https);
    let get = async {
        let resp = client.get(uri).await.map_err(|e| fail(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fail(format!("HTTP {}", resp.status())));
        }
        read_limited(resp.into_body()).await.map_err(fail)
    };
    let body = tokio::time::timeout(TIMEOUT, get)
        .await
        .map_err(|_| fail(format!("no answer within {}s", TIMEOUT.as_secs())))??;
    // The answer is never echoed: a misconfigured URL can return a whole page (or anything else
    // the user should not see pasted into a terminal or a CI log); say what is wrong with it.
    parse(&body).ok_or_else(|| {
        fail(format!(
            "the answer ({} bytes) is not one IPv4 address",
            body.len()
        ))
    })
}

/// An IPv4 address with a newline is 16 bytes; anything much longer is not an address.
const MAX_ANSWER: usize = 256;
const TIMEOUT: Duration = Duration::from_secs(10);

/// Reads at most [`MAX_ANSWER`] bytes: a server that keeps talking is refused as soon as it has
/// said too much, without holding what it sent.
async fn read_limited<B>(mut body: B) -> std::result::Result<String, String>
where
    B: hyper::body::Body<Data = bytes::Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Some(data) = frame.data_ref() {
            if buf.len() + data.len() > MAX_ANSWER {
                return Err(format!(
                    "the answer is longer than {MAX_ANSWER} bytes, so it is not an IPv4 address"
                ));
            }
            buf.extend_from_slice(data);
        }
    }
    Ok(String::from_utf8_lossy(&buf).to_string())
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

    #[tokio::test]
    async fn reads_at_most_a_few_hundred_bytes() {
        use bytes::Bytes;
        use http_body_util::{StreamBody, combinators::BoxBody};
        let ok = http_body_util::Full::new(Bytes::from_static(b"203.0.113.7\n"));
        assert_eq!(super::read_limited(ok).await.unwrap(), "203.0.113.7\n");
        // An endless answer: the reader must stop by itself after the limit.
        let endless = futures::stream::repeat_with(|| {
            Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(Bytes::from_static(
                &[b'7'; 64],
            )))
        });
        let body = BoxBody::new(StreamBody::new(endless));
        let err = super::read_limited(body).await.unwrap_err();
        assert!(err.contains("longer than 256 bytes"), "{err}");
        assert!(
            !err.contains("7777"),
            "the answer must not be echoed: {err}"
        );
    }
}
