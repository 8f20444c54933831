//! Moving the snapshot's bytes to and from the signed blob URLs the service hands out.
//!
//! The URLs are Azure Blob Storage SAS URLs (the toolkit's v2 path uploads with the Azure SDK's
//! `BlockBlobClient.uploadFile`, `src/internal/uploadUtils.ts`, and downloads with a GET or the
//! SDK, `src/internal/downloadUtils.ts`). We speak the three Azure operations that needs, without
//! the SDK:
//! - Put Blob: one `PUT` with `x-ms-blob-type: BlockBlob`, for files up to the single-shot limit
//!   (the toolkit uses 128 MiB);
//! - Put Block (`?comp=block&blockid=<base64>`) for each block, then Put Block List
//!   (`?comp=blocklist`, an XML `<BlockList>` of `<Latest>` ids) to commit them, above it;
//! - Get Blob: a `GET`, whose `Content-Length` we check against what arrived, as the toolkit does.
//!
//! The query string of these URLs carries the SAS signature: it is never logged, and errors show
//! the URL without it.

use super::ActionsCache;
use super::error::{CacheError, display_url};
use super::http::{FileBody, ReqBody, RetryPolicy, full, read_limited, transport_error};
use http::{Method, Request, Response, StatusCode, Uri, header};
use hyper::body::Incoming;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The storage API version we speak (any version that has block blobs and SAS would do).
const MS_VERSION: &str = "2023-11-03";

/// Parses a signed URL from the service, refusing anything but http(s).
pub(crate) fn parse_signed_url(method: &'static str, url: &str) -> Result<Uri, CacheError> {
    let uri: Uri = url.parse().map_err(|_| CacheError::InvalidResponse {
        method,
        detail: "the signed url is not a valid url".to_owned(),
    })?;
    match uri.scheme_str() {
        Some("https" | "http") if uri.authority().is_some() => Ok(uri),
        _ => Err(CacheError::InvalidResponse {
            method,
            detail: format!("the signed url {} is not an http(s) url", display_url(&uri)),
        }),
    }
}

/// `url` with `extra` appended to its query string.
fn with_query(url: &Uri, extra: &str) -> String {
    let text = url.to_string();
    if url.query().is_some() {
        format!("{text}&{extra}")
    } else {
        format!("{text}?{extra}")
    }
}

/// Block ids must be base64 and all of the same length within a blob. Zero-padded hexadecimal
/// digits are valid base64 (32 characters decode to 24 bytes) and need no URL escaping.
fn block_id(index: u64) -> String {
    format!("{index:032x}")
}

impl ActionsCache {
    /// The deadline for moving `size` bytes: the request timeout plus the time the size takes at
    /// the minimum transfer rate, capped.
    pub(crate) fn transfer_bound(&self, size: u64) -> Duration {
        let o = &self.options;
        let rate = o.min_transfer_rate.max(1);
        let secs = Duration::from_secs_f64(size as f64 / rate as f64);
        (o.request_timeout + secs).min(o.max_transfer_time)
    }

    /// Uploads `size` bytes of `file` to a signed URL, in one request or in blocks.
    pub(crate) async fn upload_blob(&self, url: &Uri, file: &Path, size: u64) -> Result<(), CacheError> {
        let bound = self.transfer_bound(size);
        let started = Instant::now();
        let upload = async {
            if size <= self.options.single_shot_limit {
                self.put_blob(url, file, size).await
            } else {
                self.put_blocks(url, file, size).await
            }
        };
        match tokio::time::timeout(bound, upload).await {
            Ok(result) => {
                if result.is_ok() {
                    tracing::debug!(url = %display_url(url), size, elapsed = ?started.elapsed(), "blob uploaded");
                }
                result
            }
            Err(_) => Err(CacheError::Timeout {
                op: "blob upload".to_owned(),
                after: bound,
            }),
        }
    }

    async fn put_blob(&self, url: &Uri, file: &Path, size: u64) -> Result<(), CacheError> {
        self.blob_request("upload", url, StatusCode::CREATED, || async {
            let f = tokio::fs::File::open(file)
                .await
                .map_err(|e| CacheError::io("cannot open", file, e))?;
            Ok(Request::put(url.clone())
                .header("x-ms-blob-type", "BlockBlob")
                .header("x-ms-version", MS_VERSION)
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::CONTENT_LENGTH, size)
                .header(header::USER_AGENT, super::USER_AGENT)
                .body(FileBody::new(f, size).boxed())
                .expect("static request parts are valid"))
        })
        .await
        .map(drop)
    }

    async fn put_blocks(&self, url: &Uri, file: &Path, size: u64) -> Result<(), CacheError> {
        let block_size = self.options.block_size.max(1);
        let mut f = tokio::fs::File::open(file)
            .await
            .map_err(|e| CacheError::io("cannot open", file, e))?;
        let mut ids = Vec::new();
        let mut offset = 0u64;
        while offset < size {
            let len = block_size.min(size - offset);
            let mut block = vec![0u8; usize::try_from(len).expect("block size fits in memory")];
            f.read_exact(&mut block)
                .await
                .map_err(|e| CacheError::io("cannot read", file, e))?;
            let block = bytes::Bytes::from(block);
            let id = block_id(ids.len() as u64);
            let target = with_query(url, &format!("comp=block&blockid={id}"));
            self.blob_request("block upload", url, StatusCode::CREATED, || {
                let req = Request::put(target.as_str())
                    .header("x-ms-version", MS_VERSION)
                    .header(header::CONTENT_LENGTH, len)
                    .header(header::USER_AGENT, super::USER_AGENT)
                    .body(full(block.clone()));
                async move { req.map_err(|e| CacheError::Config(format!("cannot build a block request: {e}"))) }
            })
            .await?;
            ids.push(id);
            offset += len;
        }
        let mut xml = String::from(r#"<?xml version="1.0" encoding="utf-8"?><BlockList>"#);
        for id in &ids {
            xml.push_str("<Latest>");
            xml.push_str(id);
            xml.push_str("</Latest>");
        }
        xml.push_str("</BlockList>");
        let target = with_query(url, "comp=blocklist");
        tracing::debug!(blocks = ids.len(), "committing block list");
        self.blob_request("block list commit", url, StatusCode::CREATED, || {
            let req = Request::put(target.as_str())
                .header("x-ms-version", MS_VERSION)
                .header(header::CONTENT_TYPE, "application/xml; charset=utf-8")
                .header(header::CONTENT_LENGTH, xml.len())
                .header(header::USER_AGENT, super::USER_AGENT)
                .body(full(xml.clone()));
            async move { req.map_err(|e| CacheError::Config(format!("cannot build a block list request: {e}"))) }
        })
        .await
        .map(drop)
    }

    /// Sends a blob request until it gets `expect` (retrying 5xx), each attempt's response head
    /// bounded by the request timeout. Returns the response with its body unread.
    async fn blob_request<F, Fut>(
        &self,
        op: &'static str,
        url: &Uri,
        expect: StatusCode,
        mut build: F,
    ) -> Result<Response<Incoming>, CacheError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Request<ReqBody>, CacheError>>,
    {
        let retry = self.options.retry();
        let mut attempt = 0;
        loop {
            let req = build().await?;
            let method = req.method().clone();
            // An upload's body is sent before the answer comes, so its bound is the transfer's
            // (applied by the caller); a download only waits for the head here.
            let head_bound = if method == Method::GET {
                self.options.request_timeout
            } else {
                self.options.max_transfer_time
            };
            let resp = match tokio::time::timeout(head_bound, self.transport.send(req, &self.redactor)).await {
                Err(_) => {
                    return Err(CacheError::Timeout {
                        op: format!("blob {op}"),
                        after: head_bound,
                    });
                }
                Ok(Err(detail)) => return Err(transport_error(format!("blob {op}"), detail)),
                Ok(Ok(resp)) => resp,
            };
            let status = resp.status();
            if status == expect {
                return Ok(resp);
            }
            // Azure's error body is XML with a <Code>; keep the code, which names the problem
            // (AuthenticationFailed, BlobNotFound…) without echoing the request.
            let body = tokio::time::timeout(
                self.options.request_timeout,
                read_limited(resp.into_body(), 64 * 1024, &self.redactor),
            )
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
            let code = azure_error_code(&body)
                .map(|c| self.redactor.clean(c))
                .unwrap_or_default();
            let error = CacheError::Blob {
                op,
                url: display_url(url),
                status: status.as_u16(),
                code,
            };
            if RetryPolicy::is_retryable(status) && attempt + 1 < retry.max_attempts {
                let delay = retry.delay(attempt);
                tracing::info!(op, attempt, status = status.as_u16(), ?delay, "retrying blob request");
                tokio::time::sleep(delay).await;
                attempt += 1;
                continue;
            }
            return Err(error);
        }
    }

    /// Downloads a blob into `dest`, through a temporary file in the same directory that is
    /// renamed into place only once every announced byte arrived. Returns the size.
    pub(crate) async fn download_blob(&self, url: &Uri, dest: &Path) -> Result<u64, CacheError> {
        let started = Instant::now();
        let resp = self
            .blob_request("download", url, StatusCode::OK, || async {
                Ok(Request::get(url.clone())
                    .header("x-ms-version", MS_VERSION)
                    .header(header::USER_AGENT, super::USER_AGENT)
                    .body(full(bytes::Bytes::new()))
                    .expect("static request parts are valid"))
            })
            .await?;
        let limit = self.options.max_blob_size;
        let expected = resp
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(size) = expected.filter(|&s| s > limit) {
            return Err(CacheError::TooLarge {
                what: "cache entry",
                size,
                limit,
            });
        }
        let bound = self.transfer_bound(expected.unwrap_or(limit));
        let mut partial = Partial::create(dest).await?;
        let received = match tokio::time::timeout(bound, self.stream_to(resp.into_body(), &mut partial, expected)).await
        {
            Ok(result) => result?,
            Err(_) => {
                return Err(CacheError::Timeout {
                    op: "blob download".to_owned(),
                    after: bound,
                });
            }
        };
        partial.commit(dest).await?;
        tracing::debug!(url = %display_url(url), size = received, elapsed = ?started.elapsed(), "blob downloaded");
        Ok(received)
    }

    async fn stream_to(&self, mut body: Incoming, out: &mut Partial, expected: Option<u64>) -> Result<u64, CacheError> {
        use http_body_util::BodyExt;
        let limit = self.options.max_blob_size;
        let idle = self.options.idle_timeout;
        let mut received = 0u64;
        loop {
            let frame = match tokio::time::timeout(idle, body.frame()).await {
                Err(_) => {
                    return Err(CacheError::Timeout {
                        op: "blob download (no data arrived)".to_owned(),
                        after: idle,
                    });
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    // A connection that closes early is how a truncated download shows up.
                    tracing::debug!(error = %self.redactor.clean(&super::http::error_chain(&e)), received, "download body ended with an error");
                    return Err(match expected {
                        Some(expected) => CacheError::Truncated { expected, received },
                        None => transport_error("blob download", self.redactor.clean(&super::http::error_chain(&e))),
                    });
                }
                Ok(Some(Ok(frame))) => frame,
            };
            let Ok(data) = frame.into_data() else { continue };
            received += data.len() as u64;
            if received > limit {
                return Err(CacheError::TooLarge {
                    what: "cache entry",
                    size: received,
                    limit,
                });
            }
            out.write(&data).await?;
        }
        if let Some(expected) = expected
            && expected != received
        {
            return Err(CacheError::Truncated { expected, received });
        }
        Ok(received)
    }
}

/// The `<Code>` of an Azure storage error body.
fn azure_error_code(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let end = start + text[start..].find("</Code>")?;
    let code = text[start..end].trim();
    (!code.is_empty() && code.len() <= 64).then_some(code)
}

/// A download in progress: a temporary file next to the destination, removed if dropped before
/// [`Partial::commit`], so a failed or cancelled restore never leaves a half-written file behind.
struct Partial {
    path: PathBuf,
    file: Option<tokio::fs::File>,
}

static PARTIAL_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Partial {
    async fn create(dest: &Path) -> Result<Self, CacheError> {
        let name = dest
            .file_name()
            .ok_or_else(|| CacheError::io("cannot restore to", dest, std::io::ErrorKind::InvalidInput.into()))?;
        let n = PARTIAL_COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}-{n}.partial", std::process::id()));
        let path = dest.with_file_name(tmp_name);
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(|e| CacheError::io("cannot create", &path, e))?;
        Ok(Partial { path, file: Some(file) })
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), CacheError> {
        let file = self.file.as_mut().expect("written before commit");
        file.write_all(data)
            .await
            .map_err(|e| CacheError::io("cannot write", &self.path, e))
    }

    async fn commit(mut self, dest: &Path) -> Result<(), CacheError> {
        let mut file = self.file.take().expect("committed once");
        file.flush()
            .await
            .map_err(|e| CacheError::io("cannot write", &self.path, e))?;
        file.sync_all()
            .await
            .map_err(|e| CacheError::io("cannot sync", &self.path, e))?;
        drop(file);
        tokio::fs::rename(&self.path, dest)
            .await
            .map_err(|e| CacheError::io("cannot move the download into place at", dest, e))?;
        self.path = PathBuf::new();
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            // Synchronous on purpose: Drop cannot await, and unlinking one file is quick.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ids_are_same_length_base64() {
        let a = block_id(0);
        let b = block_id(49_999);
        assert_eq!(a.len(), b.len());
        assert_eq!(a.len() % 4, 0);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn queries_are_appended() {
        let u: Uri = "http://h/blob/1?sig=x".parse().unwrap();
        assert_eq!(with_query(&u, "comp=blocklist"), "http://h/blob/1?sig=x&comp=blocklist");
        let u: Uri = "http://h/blob/1".parse().unwrap();
        assert_eq!(with_query(&u, "comp=blocklist"), "http://h/blob/1?comp=blocklist");
    }

    #[test]
    fn azure_codes_are_extracted() {
        let body = br#"<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>x</Message></Error>"#;
        assert_eq!(azure_error_code(body), Some("AuthenticationFailed"));
        assert_eq!(azure_error_code(b"nope"), None);
    }

    #[test]
    fn signed_urls_must_be_http() {
        assert!(parse_signed_url("m", "https://a.blob.core.windows.net/c/b?sig=1").is_ok());
        assert!(parse_signed_url("m", "file:///etc/passwd").is_err());
        assert!(parse_signed_url("m", "not a url").is_err());
    }
}
