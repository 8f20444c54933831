//! Where requests go, and the octocrab instances that send them there.
//!
//! octocrab accepts any tower service as its transport
//! ([`octocrab::OctocrabBuilder::with_service`]). We give it hyper-util's pooled client over one
//! of two connectors: hyperlocal's Unix-socket connector (the socket path is carried in the
//! base URI's host, hex-encoded, as hyperlocal expects), or hyper-rustls over TCP (plain `http`
//! for the daemon's loopback listener, `https` for GitHub itself). octocrab's own layers then set
//! the base URI and the fixed headers: the token, `Accept`, `User-Agent`, and for the
//! [`crate::Client::use_cache`]`(false)` instance `Cache-Control: no-cache`.

use crate::ClientError;
use http::Uri;
use http::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL, HeaderName, HeaderValue, USER_AGENT};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use octocrab::service::middleware::base_uri::BaseUriLayer;
use octocrab::service::middleware::extra_headers::ExtraHeadersLayer;
use octocrab::{AuthState, OctoBody, Octocrab, OctocrabBuilder};
use std::path::PathBuf;
use std::sync::Arc;

/// GitHub's REST API, used when no daemon is named.
pub const GITHUB_API: &str = "https://api.github.com";

/// Where the client sends its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The daemon's Unix socket (`GH_P2P_CACHE_SOCKET`).
    Socket(PathBuf),
    /// A base URL: the daemon's loopback listener (`GH_P2P_CACHE_URL`), or GitHub itself
    /// (`https://api.github.com`, `https://ghe.example/api/v3`).
    Url(String),
}

impl Route {
    /// `GH_P2P_CACHE_SOCKET` if a daemon accepts connections there, else `GH_P2P_CACHE_URL`, else
    /// GitHub directly.
    pub fn from_env() -> Route {
        if let Some(socket) = std::env::var_os("GH_P2P_CACHE_SOCKET").filter(|s| !s.is_empty()) {
            let socket = PathBuf::from(socket);
            if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                return Route::Socket(socket);
            }
            tracing::debug!(socket = %socket.display(), "no daemon answers on GH_P2P_CACHE_SOCKET");
        }
        match std::env::var("GH_P2P_CACHE_URL") {
            Ok(url) if !url.is_empty() => Route::Url(url),
            _ => Route::Url(GITHUB_API.to_owned()),
        }
    }
}

/// Builds the octocrab instance for `route` with the fixed `headers`.
pub(crate) fn octocrab(route: &Route, headers: Vec<(HeaderName, HeaderValue)>) -> Result<Octocrab, ClientError> {
    let headers = Arc::new(headers);
    match route {
        Route::Socket(path) => {
            let base: Uri = hyperlocal::Uri::new(path, "/").into();
            let service = HyperClient::builder(TokioExecutor::new()).build::<_, OctoBody>(hyperlocal::UnixConnector);
            Ok(assemble(service, base, headers))
        }
        Route::Url(url) => {
            let base: Uri = url
                .trim_end_matches('/')
                .parse()
                .map_err(|_| ClientError::BadRoute(format!("{url:?} is not a URL")))?;
            match base.scheme_str() {
                Some("http" | "https") if base.authority().is_some() => {}
                _ => return Err(ClientError::BadRoute(format!("{url:?} is not an http(s) URL"))),
            }
            let mut http = HttpConnector::new();
            http.enforce_http(false);
            http.set_nodelay(true);
            let tls = hyper_rustls::HttpsConnectorBuilder::new()
                .with_webpki_roots()
                .https_or_http()
                .enable_http1()
                .wrap_connector(http);
            let service = HyperClient::builder(TokioExecutor::new()).build::<_, OctoBody>(tls);
            Ok(assemble(service, base, headers))
        }
    }
}

fn assemble<S>(service: S, base: Uri, headers: Arc<Vec<(HeaderName, HeaderValue)>>) -> Octocrab
where
    S: tower::Service<http::Request<OctoBody>, Response = http::Response<hyper::body::Incoming>>
        + Send
        + Sync
        + Clone
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match OctocrabBuilder::new_empty()
        .with_service(service)
        .with_layer(&BaseUriLayer::new(base))
        .with_layer(&ExtraHeadersLayer::new(headers))
        .with_auth(AuthState::None)
        .build()
    {
        Ok(octocrab) => octocrab,
        Err(never) => match never {},
    }
}

/// The headers every request carries; the token's value is marked sensitive (kept out of
/// debug output).
pub(crate) fn fixed_headers(
    token: Option<&str>,
    no_cache: bool,
) -> Result<Vec<(HeaderName, HeaderValue)>, ClientError> {
    let mut headers = vec![
        (ACCEPT, HeaderValue::from_static("application/vnd.github+json")),
        (
            USER_AGENT,
            HeaderValue::from_static(concat!("gh-p2p-cache-client/", env!("CARGO_PKG_VERSION"))),
        ),
        (
            HeaderName::from_static("x-github-api-version"),
            HeaderValue::from_static("2022-11-28"),
        ),
    ];
    if let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| ClientError::BadToken("it contains characters not allowed in a header"))?;
        value.set_sensitive(true);
        headers.push((AUTHORIZATION, value));
    }
    if no_cache {
        headers.push((CACHE_CONTROL, HeaderValue::from_static("no-cache")));
    }
    Ok(headers)
}
