//! What happens around every API handler: counting, the in-flight gauge, caller lookup,
//! injected latency and faults, then GitHub's refusals (bad credentials, the secondary limit,
//! the primary limit), and after the handler the ETag, conditional 304s, standard headers,
//! rate-limit headers and gzip.

use std::io::Write;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;

use crate::auth::{self, Caller};
use crate::etag;
use crate::faults::Injected;
use crate::limits::{Resource, Snapshot};
use crate::render::Urls;
use crate::rest::{ApiError, Ctx, json_response};
use crate::state::{SimState, lock};
use crate::time::Timestamp;

/// Marks a response that must not be sent: the server closes the connection instead.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResetConnection;

/// Rate-limit units a handler charged itself (GraphQL, whose cost depends on the query).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Charged(pub u64);

/// How a route is charged against the primary limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charge {
    /// `/rate_limit`: headers show `core`, nothing is taken.
    Free,
    /// One unit, reserved before the handler runs and refunded for an authorized 304.
    Rest(Resource),
    /// The GraphQL handler computes the cost and charges it.
    Graphql,
}

impl Charge {
    fn resource(self) -> Resource {
        match self {
            Charge::Free => Resource::Core,
            Charge::Rest(r) => r,
            Charge::Graphql => Resource::Graphql,
        }
    }
}

/// `GET /repos/{owner}/{repo}`-style key for stats, independent of the prefix.
fn route_key(st: &SimState, method: &Method, matched: Option<&str>) -> String {
    let path = match matched {
        Some(p) if p == st.shared().graphql_path => "/graphql",
        Some(p) => p.strip_prefix(st.config().prefix.as_str()).unwrap_or(p),
        None => "(unmatched)",
    };
    format!("{method} {path}")
}

fn charge_for(route: &str) -> Charge {
    match route.split_once(' ').map_or(route, |(_, p)| p) {
        "/rate_limit" => Charge::Free,
        "/graphql" => Charge::Graphql,
        p if p.starts_with("/search/") => Charge::Rest(Resource::Search),
        _ => Charge::Rest(Resource::Core),
    }
}

pub(crate) async fn api(
    State(st): State<SimState>,
    matched: Option<MatchedPath>,
    mut req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let route = route_key(&st, &method, matched.as_ref().map(MatchedPath::as_str));
    lock(&st.shared().stats).record_request(&route);
    let (_in_flight, level) = st.enter();
    let request_id = st.next_request_id();
    let headers = req.headers().clone();
    let out = Outgoing {
        st: &st,
        headers: &headers,
        request_id: &request_id,
    };

    // Resolved before faults so that even an injected failure carries the caller's own
    // rate-limit headers (a proxy's governor must never mistake them for anonymous ones).
    let caller = auth::resolve(&headers, &st.config().tokens);
    let charge = charge_for(&route);
    let bucket = caller.as_ref().ok().map(|c| (c, charge.resource()));

    if let Some(resp) = inject_faults(&st, &route).await {
        return match resp {
            Some(resp) => out.finish(resp, bucket).await,
            None => reset_response(),
        };
    }
    let Ok(caller) = &caller else {
        return out.finish(ApiError::bad_credentials().into_response(), None).await;
    };
    if let Some(refused) = admit(&st, caller, charge, level, &request_id) {
        return out.finish(refused, bucket).await;
    }

    req.extensions_mut().insert(context(&st, &headers, caller));
    let resp = next.run(req).await;

    let (mut parts, body) = resp.into_parts();
    let mut body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let mut units = match charge {
        Charge::Rest(_) => 1,
        Charge::Graphql => parts.extensions.get::<Charged>().map_or(0, |c| c.0),
        Charge::Free => 0,
    };
    // GraphQL has no ETags; every other success gets one, and GETs may turn into 304s.
    if parts.status.is_success() && charge != Charge::Graphql {
        let tag = match &st.config().etag_salt {
            // GitHub changing its (undocumented) formula: same inputs, another hash.
            Some(salt) => etag::compute(
                Some(salt.as_bytes()),
                None,
                None,
                etag::for_request(&headers, &body).as_bytes(),
            ),
            None => etag::for_request(&headers, &body),
        };
        let h = &mut parts.headers;
        h.insert(header::ETAG, value(&etag::weak(&tag)));
        let cache = if caller.is_authenticated() {
            "private, max-age=60, s-maxage=60"
        } else {
            "public, max-age=60, s-maxage=60"
        };
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        let conditional = matches!(method, Method::GET | Method::HEAD) && parts.status == StatusCode::OK;
        if conditional && not_modified(&headers, &tag, h.get(header::LAST_MODIFIED)) {
            parts.status = StatusCode::NOT_MODIFIED;
            h.remove(header::CONTENT_TYPE);
            body = Bytes::new();
            // GitHub: an authorized 304 is free, an anonymous one is not.
            if caller.is_authenticated() {
                lock(&st.shared().limiter).refund(caller, charge.resource(), units);
                units = 0;
            }
        }
    }
    lock(&st.shared().stats).record_units(caller.key(), units);
    out.finish(Response::from_parts(parts, Body::from(body)), bucket).await
}

/// Applies configured latency, then the next pending fault: `Some(Some(resp))` to answer
/// with a failure, `Some(None)` to drop the connection (reset, or a stall ended by shutdown),
/// `None` to carry on.
async fn inject_faults(st: &SimState, route: &str) -> Option<Option<Response>> {
    let latency = lock(&st.shared().faults).latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let fault = lock(&st.shared().faults).take()?;
    lock(&st.shared().stats).faults_injected += 1;
    tracing::debug!(%route, ?fault, "injecting fault");
    Some(match fault {
        Injected::Reset => None,
        Injected::Stall => {
            // Ends earlier if the client closes the connection: hyper drops this future.
            st.shutdown_signal().await;
            None
        }
        Injected::Fail(status) => {
            let reason = status.canonical_reason().unwrap_or("Server Error");
            Some(json_response(status, &json!({ "message": reason })))
        }
    })
}

/// Refuses with the secondary limit, then the primary one (REST reserves its unit here, refunded later for
/// an authorized 304), and GraphQL's requirement of a token.
fn admit(st: &SimState, caller: &Caller, charge: Charge, level: usize, request_id: &str) -> Option<Response> {
    if level > st.config().max_in_flight {
        let msg = format!(
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. \
             If you reach out to GitHub Support for help, please include the request ID {request_id}."
        );
        let docs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";
        let mut resp = ApiError::new(StatusCode::FORBIDDEN, &msg, docs).into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return Some(resp);
    }
    match charge {
        Charge::Rest(res) => {
            let taken = lock(&st.shared().limiter).try_consume(caller, res, 1);
            if taken.is_err() {
                return Some(primary_exceeded(st, caller, request_id));
            }
        }
        Charge::Graphql if !caller.is_authenticated() => {
            let docs = "https://docs.github.com/graphql/guides/forming-calls-with-graphql#authenticating-with-graphql";
            let msg = "This endpoint requires you to be authenticated.";
            return Some(ApiError::new(StatusCode::UNAUTHORIZED, msg, docs).into_response());
        }
        Charge::Graphql | Charge::Free => {}
    }
    None
}

/// What handlers need: the caller, and URLs built from the request's `Host`.
fn context(st: &SimState, headers: &HeaderMap, caller: &Caller) -> Ctx {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let web = format!("http://{host}");
    let urls = Urls {
        api: format!("{web}{}", st.config().prefix),
        web: web.clone(),
    };
    Ctx {
        caller: caller.clone(),
        urls,
        request_base: web,
    }
}

/// Weak or strong `If-None-Match` first; `If-Modified-Since` only without it (RFC 9110).
fn not_modified(req: &HeaderMap, tag: &str, last_modified: Option<&HeaderValue>) -> bool {
    if let Some(inm) = req.get(header::IF_NONE_MATCH) {
        return inm.to_str().is_ok_and(|v| etag::if_none_match(v, tag));
    }
    let since = req
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| Timestamp::parse_http_date(v.to_str().ok()?));
    let modified = last_modified.and_then(|v| Timestamp::parse_http_date(v.to_str().ok()?));
    matches!((since, modified), (Some(s), Some(m)) if m <= s)
}

fn primary_exceeded(st: &SimState, caller: &Caller, request_id: &str) -> Response {
    let who = match &caller.login {
        Some(login) => {
            let id = lock(&st.shared().model).user(login).map_or(0, |u| u.id);
            format!("user ID {id}")
        }
        None => "127.0.0.1".to_owned(),
    };
    let msg = format!(
        "API rate limit exceeded for {who}. If you reach out to GitHub Support for help, please include the request ID {request_id}."
    );
    let docs = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits";
    ApiError::new(StatusCode::FORBIDDEN, &msg, docs).into_response()
}

/// A response the server turns into a dropped connection. Served without a socket (tests that
/// call the router directly) it is a bodiless 500 carrying the marker.
fn reset_response() -> Response {
    let mut resp = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    resp.extensions_mut().insert(ResetConnection);
    resp
}

fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Everything needed to finish a response for one request.
struct Outgoing<'a> {
    st: &'a SimState,
    headers: &'a HeaderMap,
    request_id: &'a str,
}

impl Outgoing<'_> {
    /// Adds GitHub's standard headers and, when the caller is known, the rate-limit headers of
    /// the resource; gzips if the client accepts it; records the status.
    async fn finish(&self, resp: Response, limited: Option<(&Caller, Resource)>) -> Response {
        let (mut parts, body) = resp.into_parts();
        let h = &mut parts.headers;
        let statics: [(&str, &'static str); 4] = [
            ("x-github-api-version-selected", "2022-11-28"),
            ("x-github-media-type", "github.v3; format=json"),
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "deny"),
        ];
        for (k, v) in statics {
            h.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        h.insert(HeaderName::from_static("x-github-request-id"), value(self.request_id));
        h.append(
            header::VARY,
            HeaderValue::from_static("Accept, Authorization, Cookie, X-GitHub-OTP"),
        );
        h.append(
            header::VARY,
            HeaderValue::from_static("Accept-Encoding, Accept, X-Requested-With"),
        );
        let caller = limited.map(|(c, _)| c.clone()).unwrap_or_else(Caller::anonymous);
        let res = limited.map_or(Resource::Core, |(_, r)| r);
        let snap = lock(&self.st.shared().limiter).peek(&caller, res);
        rate_headers(h, &snap);
        if caller.is_authenticated() {
            h.insert(
                HeaderName::from_static("x-oauth-scopes"),
                HeaderValue::from_static("repo, read:org"),
            );
            h.insert(
                HeaderName::from_static("x-accepted-oauth-scopes"),
                HeaderValue::from_static(""),
            );
        }
        lock(&self.st.shared().stats).record_status(parts.status.as_u16());
        let resp = Response::from_parts(parts, body);
        if accepts_gzip(self.headers) {
            gzip(resp).await
        } else {
            resp
        }
    }
}

fn rate_headers(h: &mut HeaderMap, s: &Snapshot) {
    let pairs = [
        ("x-ratelimit-limit", s.limit.to_string()),
        ("x-ratelimit-remaining", s.remaining().to_string()),
        ("x-ratelimit-used", s.used.to_string()),
        ("x-ratelimit-reset", s.reset.to_string()),
        ("x-ratelimit-resource", s.resource.name().to_owned()),
    ];
    for (k, v) in pairs {
        h.insert(HeaderName::from_static(k), value(&v));
    }
}

fn accepts_gzip(h: &HeaderMap) -> bool {
    h.get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|enc| {
            enc.split(';')
                .next()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"))
        })
}

/// Compresses the body; the ETag was computed over the uncompressed bytes already.
async fn gzip(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    // Every body built by this crate is one buffer in memory, so this never waits on I/O.
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    if bytes.is_empty() {
        return Response::from_parts(parts, Body::empty());
    }
    let mut enc = GzEncoder::new(Vec::with_capacity(bytes.len() / 4 + 64), Compression::fast());
    let zipped = match enc.write_all(&bytes).and_then(|()| enc.finish()) {
        Ok(z) => z,
        Err(_) => return Response::from_parts(parts, Body::from(bytes)),
    };
    parts
        .headers
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(zipped))
}
