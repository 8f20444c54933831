//! The GitHub Actions cache service (v2) client that saves and restores our snapshot file.
//!
//! Saving is three steps: `CreateCacheEntry` reserves key + version and returns a signed upload
//! URL, the file goes to that URL ([`blob`]), and `FinalizeCacheEntryUpload` makes the entry
//! visible. Restoring asks `GetCacheEntryDownloadURL` for the exact key or, failing that, the
//! newest entry whose key starts with one of the restore keys (the service does the matching, and
//! only among entries of the same version), then downloads from the signed URL it returns.
//!
//! The service scopes entries to the repository and the branch (a restore also sees the default
//! branch's entries), so no secret of ours is needed: the runner gives `main`/`post` steps the
//! job's `ACTIONS_RESULTS_URL` and `ACTIONS_RUNTIME_TOKEN`.
//!
//! It is an internal API. Every failure is a [`CacheError`] the caller turns into a warning; no
//! call can hang, since connecting, each Twirp call, and each blob transfer have bounds
//! ([`Options`]). Neither the runtime token nor the signature of a signed URL is ever logged or
//! put in an error.

mod blob;
mod error;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
mod http;
pub(crate) mod twirp;

pub use error::CacheError;

use self::http::{RetryPolicy, Transport};
use error::Redactor;
use sha2::{Digest, Sha256};
use std::path::Path;
use std::time::Duration;
use twirp::{
    CreateCacheEntryRequest, CreateCacheEntryResponse, FinalizeCacheEntryUploadRequest,
    FinalizeCacheEntryUploadResponse, GetCacheEntryDownloadUrlRequest, GetCacheEntryDownloadUrlResponse,
};

pub(crate) const USER_AGENT: &str = concat!("gh-p2p-cache/", env!("CARGO_PKG_VERSION"));

/// The service's limit per repository, and so the largest entry we upload or download.
pub const MAX_ENTRY_SIZE: u64 = 10 * 1024 * 1024 * 1024;

/// The toolkit's key rules (`checkKey` in packages/cache `src/cache.ts`).
const MAX_KEY_LEN: usize = 512;
const MAX_KEYS: usize = 10;

/// Bounds and sizes. The defaults suit a snapshot of a few MB to a few hundred MB on a hosted
/// runner; tests shrink them.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Establishing a TCP connection.
    pub connect_timeout: Duration,
    /// One Twirp call attempt, start to end; also the wait for a download's response head and
    /// the fixed part of every blob transfer's bound.
    pub request_timeout: Duration,
    /// The longest a download may go without receiving a byte.
    pub idle_timeout: Duration,
    /// Bytes per second a blob transfer must at least reach: a transfer of `n` bytes may take
    /// `request_timeout + n / min_transfer_rate`, but never more than `max_transfer_time`.
    pub min_transfer_rate: u64,
    pub max_transfer_time: Duration,
    /// Attempts per call when the server answers 500, 502, 503 or 504 (1 = no retry).
    pub max_attempts: u32,
    /// The pause before the first retry; it doubles for each further one.
    pub retry_delay: Duration,
    /// Files up to this size go up in one request; bigger ones in blocks of `block_size`.
    pub single_shot_limit: u64,
    pub block_size: u64,
    /// The largest entry we upload or download.
    pub max_blob_size: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            min_transfer_rate: 1024 * 1024,
            max_transfer_time: Duration::from_secs(15 * 60),
            max_attempts: 4,
            retry_delay: Duration::from_millis(500),
            single_shot_limit: 128 * 1024 * 1024,
            block_size: 32 * 1024 * 1024,
            max_blob_size: MAX_ENTRY_SIZE,
        }
    }
}

impl Options {
    /// Short bounds and a tiny retry delay, for tests against a local server.
    pub fn for_tests() -> Self {
        Options {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(5),
            max_transfer_time: Duration::from_secs(20),
            max_attempts: 3,
            retry_delay: Duration::from_millis(10),
            ..Options::default()
        }
    }

    pub(crate) fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts.max(1),
            base_delay: self.retry_delay,
        }
    }
}

/// What [`ActionsCache::save`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// The entry was uploaded and finalized.
    Created { entry_id: i64, size: u64 },
    /// An entry with this key and version already exists (or another job is creating it): the
    /// service refuses a second one, and that is not a failure.
    AlreadyExists,
}

/// What [`ActionsCache::restore`] found and wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The key of the entry restored: the primary key, or one that starts with a restore key.
    pub matched_key: String,
    /// Bytes written to the destination.
    pub size: u64,
    /// True when `matched_key` is the primary key itself.
    pub exact: bool,
}

/// A client for the cache service, for one job's results URL and runtime token.
pub struct ActionsCache {
    /// The results URL, ending in `/`.
    base: String,
    auth: ::http::HeaderValue,
    transport: Transport,
    redactor: Redactor,
    options: Options,
}

impl std::fmt::Debug for ActionsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionsCache")
            .field("results_url", &self.base)
            .field("runtime_token", &"[redacted]")
            .field("options", &self.options)
            .finish()
    }
}

impl ActionsCache {
    /// A client for `results_url` (`ACTIONS_RESULTS_URL`) authenticated by `runtime_token`
    /// (`ACTIONS_RUNTIME_TOKEN`), with default [`Options`].
    pub fn new(results_url: &str, runtime_token: &str) -> Result<Self, CacheError> {
        Self::with_options(results_url, runtime_token, Options::default())
    }

    pub fn with_options(results_url: &str, runtime_token: &str, options: Options) -> Result<Self, CacheError> {
        let results_url = results_url.trim();
        let token = runtime_token.trim();
        if token.is_empty() {
            return Err(CacheError::Config("the runtime token is empty".to_owned()));
        }
        let uri: ::http::Uri = results_url
            .parse()
            .map_err(|_| CacheError::Config("the results url is not a valid url".to_owned()))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
            return Err(CacheError::Config(
                "the results url must be an absolute http(s) url".to_owned(),
            ));
        }
        if uri.query().is_some() {
            return Err(CacheError::Config("the results url must not have a query".to_owned()));
        }
        let mut auth = ::http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            CacheError::Config("the runtime token contains characters not allowed in a header".to_owned())
        })?;
        auth.set_sensitive(true);
        // The services's URL ends in `/` and the toolkit appends `twirp/...` to its origin;
        // we append to the whole URL, which is the same for it and lets a fake live under a path.
        let base = format!("{}/", results_url.trim_end_matches('/'));
        Ok(ActionsCache {
            base,
            auth,
            transport: Transport::new(options.connect_timeout),
            redactor: Redactor::new(token),
            options,
        })
    }

    /// A client from `ACTIONS_RESULTS_URL` and `ACTIONS_RUNTIME_TOKEN`; `None` when either is
    /// missing or empty (not in an Actions job, or not in a `node` action's process).
    pub fn from_env() -> Option<Result<Self, CacheError>> {
        let url = std::env::var("ACTIONS_RESULTS_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())?;
        let token = std::env::var("ACTIONS_RUNTIME_TOKEN")
            .ok()
            .filter(|v| !v.trim().is_empty())?;
        Some(Self::new(&url, &token))
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Looks up `key`, then the newest entry whose key starts with one of `restore_keys` (in
    /// order), among entries of `version`, and writes its bytes to `dest` (atomically: a failed
    /// download leaves `dest` as it was). `Ok(None)` on a miss.
    #[tracing::instrument(name = "actions_cache.restore", skip_all, fields(key = %key))]
    pub async fn restore(
        &self,
        key: &str,
        restore_keys: &[String],
        version: &str,
        dest: &Path,
    ) -> Result<Option<Restored>, CacheError> {
        validate_keys(key, restore_keys)?;
        let response: GetCacheEntryDownloadUrlResponse = self
            .twirp(
                "GetCacheEntryDownloadURL",
                &GetCacheEntryDownloadUrlRequest {
                    key: key.to_owned(),
                    restore_keys: restore_keys.to_vec(),
                    version: version.to_owned(),
                },
            )
            .await?;
        if !response.ok {
            tracing::debug!(version, "cache miss");
            return Ok(None);
        }
        let url = blob::parse_signed_url("GetCacheEntryDownloadURL", &response.signed_download_url)?;
        let matched_key = if response.matched_key.is_empty() {
            key.to_owned()
        } else {
            response.matched_key
        };
        let size = self.download_blob(&url, dest).await?;
        let exact = matched_key == key;
        tracing::info!(matched_key, size, exact, "cache entry restored");
        Ok(Some(Restored {
            matched_key,
            size,
            exact,
        }))
    }

    /// Uploads `file` as the entry `key` + `version`. An entry that already exists is
    /// [`Saved::AlreadyExists`], not an error.
    #[tracing::instrument(name = "actions_cache.save", skip_all, fields(key = %key))]
    pub async fn save(&self, key: &str, version: &str, file: &Path) -> Result<Saved, CacheError> {
        validate_keys(key, &[])?;
        let size = tokio::fs::metadata(file)
            .await
            .map_err(|e| CacheError::io("cannot read", file, e))?
            .len();
        let limit = self.options.max_blob_size;
        if size > limit {
            return Err(CacheError::TooLarge {
                what: "snapshot",
                size,
                limit,
            });
        }
        let created: CreateCacheEntryResponse = match self
            .twirp(
                "CreateCacheEntry",
                &CreateCacheEntryRequest {
                    key: key.to_owned(),
                    version: version.to_owned(),
                },
            )
            .await
        {
            Ok(created) => created,
            // The service answers 409 (`already_exists`) for a key + version that exists.
            Err(CacheError::Service { status: 409, .. }) => {
                tracing::info!("cache entry already exists");
                return Ok(Saved::AlreadyExists);
            }
            Err(CacheError::Service { ref code, .. }) if code == "already_exists" => {
                tracing::info!("cache entry already exists");
                return Ok(Saved::AlreadyExists);
            }
            Err(e) => return Err(e),
        };
        if !created.ok {
            // A read-only token (e.g. a pull request from a fork) gets `ok: false` with a message.
            return Err(CacheError::Declined {
                method: "CreateCacheEntry",
                msg: self.declined_message(&created.message),
            });
        }
        let url = blob::parse_signed_url("CreateCacheEntry", &created.signed_upload_url)?;
        self.upload_blob(&url, file, size).await?;
        let finalized: FinalizeCacheEntryUploadResponse = self
            .twirp(
                "FinalizeCacheEntryUpload",
                &FinalizeCacheEntryUploadRequest {
                    key: key.to_owned(),
                    size_bytes: i64::try_from(size).expect("size is under the 10 GiB limit"),
                    version: version.to_owned(),
                },
            )
            .await?;
        if !finalized.ok {
            return Err(CacheError::Declined {
                method: "FinalizeCacheEntryUpload",
                msg: self.declined_message(&finalized.message),
            });
        }
        tracing::info!(entry_id = finalized.entry_id, size, "cache entry saved");
        Ok(Saved::Created {
            entry_id: finalized.entry_id,
            size,
        })
    }

    fn declined_message(&self, message: &str) -> String {
        let message = self.redactor.clean(message);
        if message.is_empty() {
            "the service answered ok: false without a reason".to_owned()
        } else {
            message
        }
    }
}

/// The cache `version` of our snapshot: entries of another version are invisible to a restore,
/// so this changes whenever the snapshot format does. The toolkit hashes the cached paths and
/// the compression method joined by `|` (`getCacheVersion`); we hash a fixed name and `label`.
pub fn version_for(label: &str) -> String {
    hex::encode(Sha256::digest(format!("gh-p2p-cache-snapshot-v1|{label}")))
}

fn validate_keys(key: &str, restore_keys: &[String]) -> Result<(), CacheError> {
    if restore_keys.len() + 1 > MAX_KEYS {
        return Err(CacheError::InvalidKey {
            key: key.to_owned(),
            reason: "at most 10 keys (the key and 9 restore keys) can be looked up at once",
        });
    }
    for k in std::iter::once(key).chain(restore_keys.iter().map(String::as_str)) {
        let reason = if k.is_empty() {
            "a key cannot be empty"
        } else if k.len() > MAX_KEY_LEN {
            "a key cannot be longer than 512 characters"
        } else if k.contains(',') {
            "a key cannot contain commas"
        } else {
            continue;
        };
        return Err(CacheError::InvalidKey {
            key: k.chars().take(80).collect(),
            reason,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_stable_hex_and_depend_on_the_label() {
        let v = version_for("linux");
        assert_eq!(v.len(), 64);
        assert!(v.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(v, version_for("linux"));
        assert_ne!(v, version_for("macos"));
        // Pinned: changing it orphans every saved snapshot.
        assert_eq!(
            version_for(""),
            hex::encode(Sha256::digest(b"gh-p2p-cache-snapshot-v1|"))
        );
    }

    #[test]
    fn keys_follow_the_toolkit_rules() {
        assert!(validate_keys("a", &["b".into()]).is_ok());
        assert!(validate_keys("a,b", &[]).is_err());
        assert!(validate_keys("", &[]).is_err());
        assert!(validate_keys(&"k".repeat(513), &[]).is_err());
        assert!(validate_keys("a", &vec!["b".to_owned(); 10]).is_err());
        assert!(validate_keys("a", &vec!["b".to_owned(); 9]).is_ok());
    }

    #[test]
    fn construction_checks_the_url_and_token_and_hides_the_token() {
        assert!(matches!(
            ActionsCache::new("https://r.example/", ""),
            Err(CacheError::Config(_))
        ));
        assert!(matches!(
            ActionsCache::new("ftp://r.example/", "t"),
            Err(CacheError::Config(_))
        ));
        assert!(matches!(
            ActionsCache::new("relative/path", "t"),
            Err(CacheError::Config(_))
        ));
        let c = ActionsCache::new("https://results.example/base", "secret-token").unwrap();
        assert_eq!(c.base, "https://results.example/base/");
        assert!(!format!("{c:?}").contains("secret-token"));
    }
}
