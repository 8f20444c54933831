//! The three Twirp calls of `github.actions.results.api.v1.CacheService`, JSON flavour.
//!
//! Wire facts (from `actions/toolkit` packages/cache: `src/generated/results/api/v1/cache.ts`,
//! `cache.twirp-client.ts` and `src/internal/shared/cacheTwirpClient.ts`):
//! - `POST {results_url}twirp/github.actions.results.api.v1.CacheService/<Method>` with
//!   `Content-Type: application/json` and `Authorization: Bearer <runtime token>`;
//! - bodies use the proto field names (`restore_keys`, `size_bytes`, `signed_upload_url`…), int64
//!   fields travel as JSON strings, and fields at their default value may be left out (the
//!   toolkit writes with `emitDefaultValues: false`), so every response field here has a default;
//! - errors are non-2xx answers with a Twirp body `{"code": "...", "msg": "..."}`;
//! - the toolkit retries 500, 502, 503 and 504, stops on 429, and recognises a full quota by
//!   "insufficient usage" in `msg`.

use super::error::CacheError;
use super::http::{RetryPolicy, full, read_limited, transport_error};
use super::{ActionsCache, USER_AGENT};
use http::{Request, StatusCode, header};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use std::time::{Duration, Instant};

pub(crate) const SERVICE: &str = "github.actions.results.api.v1.CacheService";

/// Twirp answers are small; anything bigger is not the service talking.
const MAX_RESPONSE: usize = 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CreateCacheEntryRequest {
    pub key: String,
    pub version: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct CreateCacheEntryResponse {
    pub ok: bool,
    pub signed_upload_url: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FinalizeCacheEntryUploadRequest {
    pub key: String,
    #[serde(with = "int64_as_string")]
    pub size_bytes: i64,
    pub version: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct FinalizeCacheEntryUploadResponse {
    pub ok: bool,
    #[serde(with = "int64_as_string")]
    pub entry_id: i64,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GetCacheEntryDownloadUrlRequest {
    pub key: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restore_keys: Vec<String>,
    pub version: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct GetCacheEntryDownloadUrlResponse {
    pub ok: bool,
    pub signed_download_url: String,
    pub matched_key: String,
}

/// A Twirp error body. The spec names the text `msg`; some servers write `message`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct TwirpError {
    pub code: String,
    #[serde(alias = "message")]
    pub msg: String,
}

/// proto3's JSON mapping writes int64 as a string and accepts a string or a number when reading.
pub mod int64_as_string {
    use super::*;

    pub fn serialize<S: serde::Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(i64),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Number(n) => Ok(n),
            Either::Text(t) => t.trim().parse().map_err(serde::de::Error::custom),
        }
    }
}

impl ActionsCache {
    /// One Twirp call, retried on 5xx, each attempt bounded by the request timeout.
    pub(crate) async fn twirp<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        method: &'static str,
        request: &Req,
    ) -> Result<Resp, CacheError> {
        let url = format!("{}twirp/{SERVICE}/{method}", self.base);
        let body = serde_json::to_vec(request).map_err(|e| CacheError::InvalidResponse {
            method,
            detail: format!("could not encode the request: {e}"),
        })?;
        let timeout = self.options.request_timeout;
        let retry = self.options.retry();
        let mut attempt = 0;
        loop {
            let started = Instant::now();
            let req = Request::post(&url)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, self.auth.clone())
                .header(header::USER_AGENT, USER_AGENT)
                .body(full(body.clone()))
                .map_err(|e| CacheError::Config(format!("cannot build a request for {method}: {e}")))?;
            let exchange = async {
                let resp = self.transport.send(req, &self.redactor).await?;
                let (parts, body) = resp.into_parts();
                let bytes = read_limited(body, MAX_RESPONSE, &self.redactor).await?;
                Ok::<_, String>((parts, bytes))
            };
            let (parts, bytes) = match tokio::time::timeout(timeout, exchange).await {
                Err(_) => {
                    tracing::warn!(method, attempt, ?timeout, "twirp call timed out");
                    return Err(CacheError::Timeout {
                        op: method.to_owned(),
                        after: timeout,
                    });
                }
                Ok(Err(detail)) => {
                    tracing::warn!(method, attempt, %detail, "twirp call failed");
                    return Err(transport_error(method, detail));
                }
                Ok(Ok(answer)) => answer,
            };
            let status = parts.status;
            tracing::debug!(method, attempt, status = status.as_u16(), elapsed = ?started.elapsed(), "twirp call");
            if status.is_success() {
                return serde_json::from_slice(&bytes).map_err(|e| CacheError::InvalidResponse {
                    method,
                    detail: format!(
                        "http {} with a body that is not the expected json: {e}",
                        status.as_u16()
                    ),
                });
            }
            let error = self.twirp_error(method, status, &parts.headers, &bytes);
            if RetryPolicy::is_retryable(status) && attempt + 1 < retry.max_attempts {
                let delay = retry.delay(attempt);
                tracing::info!(method, attempt, status = status.as_u16(), ?delay, %error, "retrying twirp call");
                tokio::time::sleep(delay).await;
                attempt += 1;
                continue;
            }
            return Err(error);
        }
    }

    fn twirp_error(
        &self,
        method: &'static str,
        status: StatusCode,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> CacheError {
        let parsed: TwirpError = serde_json::from_slice(body).unwrap_or_else(|_| TwirpError {
            code: String::new(),
            msg: String::from_utf8_lossy(body).into_owned(),
        });
        let msg = self.redactor.clean(&parsed.msg);
        let code = self.redactor.clean(&parsed.code);
        if msg.contains("insufficient usage") {
            return CacheError::QuotaExceeded { msg };
        }
        match status {
            StatusCode::UNAUTHORIZED => CacheError::Unauthorized { method, msg },
            StatusCode::TOO_MANY_REQUESTS => CacheError::RateLimited {
                method,
                retry_after: headers
                    .get(header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs),
            },
            _ => CacheError::Service {
                method,
                status: status.as_u16(),
                code: if code.is_empty() {
                    "no twirp code".to_owned()
                } else {
                    code
                },
                msg,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_use_proto_field_names_and_int64_strings() {
        let finalize = FinalizeCacheEntryUploadRequest {
            key: "k".into(),
            size_bytes: 42,
            version: "v".into(),
        };
        assert_eq!(
            serde_json::to_value(&finalize).unwrap(),
            serde_json::json!({"key": "k", "size_bytes": "42", "version": "v"})
        );
        let lookup = GetCacheEntryDownloadUrlRequest {
            key: "k".into(),
            restore_keys: vec![],
            version: "v".into(),
        };
        assert_eq!(
            serde_json::to_value(&lookup).unwrap(),
            serde_json::json!({"key": "k", "version": "v"})
        );
    }

    #[test]
    fn responses_tolerate_missing_defaults_numbers_and_unknown_fields() {
        let miss: GetCacheEntryDownloadUrlResponse = serde_json::from_str("{}").unwrap();
        assert!(!miss.ok);
        let done: FinalizeCacheEntryUploadResponse =
            serde_json::from_str(r#"{"ok": true, "entry_id": 7, "later": [1]}"#).unwrap();
        assert_eq!(done.entry_id, 7);
        let done: FinalizeCacheEntryUploadResponse = serde_json::from_str(r#"{"ok": true, "entry_id": "8"}"#).unwrap();
        assert_eq!(done.entry_id, 8);
        let err: TwirpError = serde_json::from_str(r#"{"code": "internal", "message": "boom"}"#).unwrap();
        assert_eq!(err.msg, "boom");
    }
}
