//! Turning stored entries and upstream answers into client responses: header filtering in both
//! directions, `X-Cache`, per-requester ETags, client conditionals and TCP-mode URL rewriting.

use crate::handler::ListenerKind;
use crate::rewrite;
use crate::stats::Mode;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use entry::{StoredResponse, etags_match};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use std::sync::Arc;

/// What a read produced: the entry to answer from, and how it was obtained.
#[derive(Debug)]
pub struct Fetched {
    pub entry: Arc<StoredResponse>,
    pub mode: Mode,
}

/// Headers that describe one hop or one encoding, never replayed or forwarded.
fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
            | "content-encoding"
    )
}

/// Response headers worth storing and replaying.
pub fn stored_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(k, _)| !hop_by_hop(k.as_str()) && *k != header::SET_COOKIE)
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect()
}

/// Client request headers to send upstream. Conditionals are ours to set; `Host` and
/// `Accept-Encoding` are set by the upstream client.
pub fn forward_headers(client: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(client.len());
    for (k, v) in client {
        let name = k.as_str();
        if hop_by_hop(name)
            || matches!(
                name,
                "host" | "accept-encoding" | "if-none-match" | "if-modified-since" | "expect"
            )
        {
            continue;
        }
        out.append(k.clone(), v.clone());
    }
    out
}

/// The answer to send, before the per-listener finishing touches.
pub struct Answer {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub mode: Mode,
    /// Replaces the stored `ETag` (the entry was fetched with another token).
    pub etag: Option<String>,
}

impl Answer {
    pub fn from_entry(entry: &StoredResponse, mode: Mode, etag: Option<String>) -> Self {
        Answer {
            status: StatusCode::from_u16(entry.status).unwrap_or(StatusCode::BAD_GATEWAY),
            headers: entry.headers.clone(),
            body: entry.body.clone(),
            mode,
            etag,
        }
    }
}

/// Per-request facts that shape the response.
pub struct Finish<'a> {
    pub head: bool,
    pub if_none_match: Option<&'a str>,
    /// `http://HOST` as the client addressed us (TCP mode only).
    pub proxy_base: Option<String>,
    pub upstream_base: &'a str,
}

pub fn build(answer: Answer, finish: &Finish<'_>) -> Response {
    let mut headers = HeaderMap::with_capacity(answer.headers.len() + 2);
    let mut etag_sent = None;
    for (k, v) in &answer.headers {
        let Ok(name) = HeaderName::from_bytes(k.as_bytes()) else {
            continue;
        };
        if name == header::ETAG && answer.etag.is_some() {
            continue;
        }
        let value = match (&finish.proxy_base, name == header::LINK) {
            (Some(base), true) => v.replace(finish.upstream_base, base),
            _ => v.clone(),
        };
        if name == header::ETAG {
            etag_sent = Some(value.clone());
        }
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.append(name, v);
        }
    }
    if let Some(etag) = &answer.etag
        && let Ok(v) = HeaderValue::from_str(etag)
    {
        headers.insert(header::ETAG, v);
        etag_sent = Some(etag.clone());
    }
    headers.insert("x-cache", HeaderValue::from_static(answer.mode.as_str()));
    if answer.mode == Mode::Stale {
        // RFC 7234 warn-codes: the copy is stale because revalidation failed.
        headers.append(
            header::WARNING,
            HeaderValue::from_static("110 gh-p2p-cache \"Response is Stale\""),
        );
        headers.append(
            header::WARNING,
            HeaderValue::from_static("111 gh-p2p-cache \"Revalidation Failed\""),
        );
    }

    // The client's own conditional request, answered from what we are about to send.
    let not_modified = answer.status == StatusCode::OK
        && matches!((finish.if_none_match, &etag_sent), (Some(inm), Some(sent)) if inm.split(',').any(|t| etags_match(t, sent)));
    let (status, body) = if not_modified {
        (StatusCode::NOT_MODIFIED, Bytes::new())
    } else if finish.head {
        (answer.status, Bytes::new())
    } else {
        let body = match &finish.proxy_base {
            Some(base) => rewrite::rewrite_body(&answer.body, finish.upstream_base, base),
            None => answer.body,
        };
        (answer.status, body)
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

/// `ListenerKind` decides whether URLs are rewritten; Unix-socket clients (gh) address
/// `api.github.com` and must see GitHub's own URLs.
pub fn proxy_base(kind: ListenerKind, host: Option<&str>) -> Option<String> {
    match kind {
        ListenerKind::Unix => None,
        ListenerKind::Tcp => host.map(|h| format!("http://{h}")),
    }
}
