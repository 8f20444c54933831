//! Shared by the integration tests: a real HTTP/1.1 client (hyper) and small helpers.

#![allow(dead_code, unused_imports)] // each test binary uses a different subset

use std::io::Read;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub use ghsim::{TOKEN_ALICE, TOKEN_BOB, TOKEN_CAROL};

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// As received (still gzipped if the server compressed it).
    pub body: Bytes,
}

impl Resp {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no header {name}"))
    }

    pub fn opt_header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body, gunzipped when `Content-Encoding: gzip`.
    pub fn bytes(&self) -> Vec<u8> {
        if self.opt_header("content-encoding") == Some("gzip") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&self.body[..])
                .read_to_end(&mut out)
                .expect("valid gzip");
            out
        } else {
            self.body.to_vec()
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes()).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.bytes())
            )
        })
    }

    pub fn rate(&self, what: &str) -> u64 {
        self.header(&format!("x-ratelimit-{what}"))
            .parse()
            .expect("numeric rate-limit header")
    }
}

/// A fresh client per request: no pooled connection can hide a reset from the next test step.
pub async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Resp, hyper_util::client::legacy::Error> {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(Bytes::copy_from_slice(body.unwrap_or_default())))
        .expect("valid request");
    let resp = client.request(req).await?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Ok(Resp {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

pub fn auth(token: &str) -> String {
    format!("token {token}")
}

pub async fn get(url: &str, token: Option<&str>) -> Resp {
    let a = token.map(auth);
    let headers: Vec<(&str, &str)> = a.as_deref().map(|a| vec![("authorization", a)]).unwrap_or_default();
    send(Method::GET, url, &headers, None).await.expect("request succeeds")
}

pub async fn get_with(url: &str, headers: &[(&str, &str)]) -> Resp {
    send(Method::GET, url, headers, None).await.expect("request succeeds")
}

pub async fn post_json(url: &str, token: &str, body: &Value) -> Resp {
    let a = auth(token);
    let b = serde_json::to_vec(body).unwrap();
    send(
        Method::POST,
        url,
        &[("authorization", &a), ("content-type", "application/json")],
        Some(&b),
    )
    .await
    .expect("request succeeds")
}

pub async fn graphql(url: &str, token: &str, query: &str, variables: Value) -> Resp {
    post_json(
        url,
        token,
        &serde_json::json!({ "query": query, "variables": variables }),
    )
    .await
}
