//! The cache client against the fake service over real sockets: round trips, matching rules,
//! and every failure path coming back as a `CacheError` that carries no secret.

use action::actions_cache::fake::{FakeCacheService, Faults};
use action::actions_cache::{ActionsCache, CacheError, Options, Restored, Saved, version_for};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TOKEN: &str = "runtime-token-7f3a9c";

struct Setup {
    fake: FakeCacheService,
    dir: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Self {
        Setup {
            fake: FakeCacheService::start(TOKEN).await.unwrap(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn client(&self) -> ActionsCache {
        self.client_with(Options::for_tests())
    }

    fn client_with(&self, options: Options) -> ActionsCache {
        ActionsCache::with_options(&self.fake.results_url(), TOKEN, options).unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, data).unwrap();
        path
    }

    /// Names in the directory, to check no temporary file was left behind.
    fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// Deterministic bytes that do not compress or repeat on block boundaries.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The checks every error message must pass: lower-case start, no token, no signature.
fn assert_clean(err: &CacheError) -> String {
    let text = err.to_string();
    let debug = format!("{err:?}");
    assert!(text.chars().next().unwrap().is_lowercase(), "{text}");
    for shown in [&text, &debug] {
        assert!(!shown.contains(TOKEN), "token leaked: {shown}");
        assert!(!shown.contains("sig="), "signature leaked: {shown}");
    }
    text
}

#[tokio::test]
async fn a_saved_snapshot_restores_byte_for_byte() {
    let s = Setup::new().await;
    let cache = s.client();
    let version = version_for("linux-x64");
    let bytes = data(300 * 1024 + 7, 1);
    let file = s.write("snapshot.bin", &bytes);

    let saved = cache.save("snap-repo-main-1", &version, &file).await.unwrap();
    assert!(
        matches!(saved, Saved::Created { size, .. } if size == bytes.len() as u64),
        "{saved:?}"
    );

    let dest = s.path("restored.bin");
    let restored = cache.restore("snap-repo-main-1", &[], &version, &dest).await.unwrap();
    assert_eq!(
        restored,
        Some(Restored {
            matched_key: "snap-repo-main-1".into(),
            size: bytes.len() as u64,
            exact: true
        })
    );
    assert_eq!(std::fs::read(&dest).unwrap(), bytes);
    let stats = s.fake.stats();
    assert_eq!((stats.single_puts, stats.block_puts, stats.downloads), (1, 0, 1));
    assert_eq!(s.listing(), ["restored.bin", "snapshot.bin"]);
}

#[tokio::test]
async fn restore_keys_match_by_prefix_and_the_newest_entry_wins() {
    let s = Setup::new().await;
    let cache = s.client();
    let version = version_for("v");
    for (i, key) in ["snap-main-100", "snap-main-200", "other-1"].iter().enumerate() {
        let file = s.write("in.bin", key.as_bytes());
        assert!(
            matches!(cache.save(key, &version, &file).await.unwrap(), Saved::Created { .. }),
            "save {i}"
        );
    }
    let dest = s.path("out.bin");
    let keys = vec!["nothing-".to_owned(), "snap-main-".to_owned(), "other-".to_owned()];
    let restored = cache
        .restore("snap-main-300", &keys, &version, &dest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(restored.matched_key, "snap-main-200");
    assert!(!restored.exact);
    assert_eq!(std::fs::read(&dest).unwrap(), b"snap-main-200");

    // The exact key beats a newer prefix match.
    let restored = cache
        .restore("snap-main-100", &keys, &version, &dest)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((restored.matched_key.as_str(), restored.exact), ("snap-main-100", true));
}

#[tokio::test]
async fn a_miss_and_a_version_mismatch_return_none_and_write_nothing() {
    let s = Setup::new().await;
    let cache = s.client();
    let file = s.write("in.bin", b"hello");
    cache.save("snap-1", &version_for("a"), &file).await.unwrap();

    let dest = s.path("out.bin");
    let other = version_for("b");
    assert_eq!(
        cache.restore("snap-1", &["snap-".into()], &other, &dest).await.unwrap(),
        None
    );
    assert_eq!(
        cache.restore("nope", &[], &version_for("a"), &dest).await.unwrap(),
        None
    );
    assert!(!dest.exists());
}

#[tokio::test]
async fn saving_an_existing_key_is_already_exists_not_an_error() {
    let s = Setup::new().await;
    let cache = s.client();
    let version = version_for("v");
    let file = s.write("in.bin", b"first");
    assert!(matches!(
        cache.save("k", &version, &file).await.unwrap(),
        Saved::Created { .. }
    ));
    let file = s.write("in.bin", b"second");
    assert_eq!(cache.save("k", &version, &file).await.unwrap(), Saved::AlreadyExists);
    // The same key under another version is another entry.
    assert!(matches!(
        cache.save("k", &version_for("w"), &file).await.unwrap(),
        Saved::Created { .. }
    ));
    let dest = s.path("out.bin");
    cache.restore("k", &[], &version, &dest).await.unwrap().unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), b"first");
    assert_eq!(s.fake.stats().single_puts, 2);
}

#[tokio::test]
async fn an_entry_is_invisible_until_finalized() {
    let s = Setup::new().await;
    let cache = s.client();
    let version = version_for("v");
    let file = s.write("in.bin", b"data");
    // Every upload attempt fails, so the entry stays reserved and is never finalized.
    s.fake.set_faults(Faults {
        blob_put_failures: 100,
        ..Faults::default()
    });
    let err = cache.save("k", &version, &file).await.unwrap_err();
    assert!(matches!(err, CacheError::Blob { status: 503, .. }), "{err:?}");
    let text = assert_clean(&err);
    assert!(text.contains("ServerBusy"), "{text}");
    assert_eq!(s.fake.stats().finalize_calls, 0);
    assert_eq!(
        cache.restore("k", &[], &version, &s.path("out.bin")).await.unwrap(),
        None
    );
    // The reservation still holds the key, as the service's does.
    s.fake.set_faults(Faults::default());
    assert_eq!(cache.save("k", &version, &file).await.unwrap(), Saved::AlreadyExists);
}

#[tokio::test]
async fn a_rejected_token_is_an_unauthorized_error_without_the_token() {
    let s = Setup::new().await;
    let file = s.write("in.bin", b"data");
    let wrong = ActionsCache::with_options(&s.fake.results_url(), "not-the-token", Options::for_tests()).unwrap();
    let err = wrong.save("k", &version_for("v"), &file).await.unwrap_err();
    assert!(matches!(err, CacheError::Unauthorized { .. }), "{err:?}");
    assert!(assert_clean(&err).contains("401"));

    // An expired token: the right one, refused.
    s.fake.set_faults(Faults {
        reject_token: true,
        ..Faults::default()
    });
    let err = s
        .client()
        .restore("k", &[], &version_for("v"), &s.path("out.bin"))
        .await
        .unwrap_err();
    assert!(matches!(err, CacheError::Unauthorized { .. }), "{err:?}");
    assert_clean(&err);
    assert!(!err.is_transient());
}

#[tokio::test]
async fn server_errors_are_retried_and_then_reported() {
    let s = Setup::new().await;
    let cache = s.client(); // 3 attempts
    let version = version_for("v");
    let file = s.write("in.bin", b"data");
    s.fake.set_faults(Faults {
        twirp_failures: 2,
        ..Faults::default()
    });
    assert!(matches!(
        cache.save("k", &version, &file).await.unwrap(),
        Saved::Created { .. }
    ));

    s.fake.set_faults(Faults {
        twirp_failures: 3,
        twirp_failure_status: 503,
        ..Faults::default()
    });
    let err = cache.restore("k", &[], &version, &s.path("out.bin")).await.unwrap_err();
    assert!(
        matches!(err, CacheError::Service { status: 503, ref code, .. } if code == "unavailable"),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(assert_clean(&err).contains("http 503"));
    // The fourth call is served normally: exactly three attempts were made.
    assert!(
        cache
            .restore("k", &[], &version, &s.path("out.bin"))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let s = Setup::new().await;
    s.fake.set_faults(Faults {
        twirp_failures: 1,
        twirp_failure_status: 400,
        ..Faults::default()
    });
    let err = s
        .client()
        .restore("k", &[], &version_for("v"), &s.path("out.bin"))
        .await
        .unwrap_err();
    assert!(matches!(err, CacheError::Service { status: 400, .. }), "{err:?}");
    assert_eq!(s.fake.stats().lookup_calls, 0);
}

#[tokio::test]
async fn a_hanging_service_times_out_within_the_bound() {
    let s = Setup::new().await;
    let mut options = Options::for_tests();
    options.request_timeout = Duration::from_millis(300);
    let cache = s.client_with(options);
    s.fake.set_faults(Faults {
        hang_twirp: true,
        ..Faults::default()
    });
    let started = Instant::now();
    let err = cache
        .restore("k", &[], &version_for("v"), &s.path("out.bin"))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, CacheError::Timeout { .. }), "{err:?}");
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    assert!(assert_clean(&err).contains("timed out after 300 ms"));
}

#[tokio::test]
async fn a_truncated_download_fails_and_leaves_the_destination_untouched() {
    let s = Setup::new().await;
    let cache = s.client();
    let version = version_for("v");
    let bytes = data(200_000, 2);
    s.fake.seed("k", &version, bytes.clone());
    let dest = s.write("out.bin", b"previous snapshot");
    s.fake.set_faults(Faults {
        truncate_downloads: true,
        ..Faults::default()
    });
    let err = cache.restore("k", &[], &version, &dest).await.unwrap_err();
    assert!(
        matches!(err, CacheError::Truncated { expected: 200_000, received } if received < 200_000),
        "{err:?}"
    );
    assert_clean(&err);
    assert_eq!(std::fs::read(&dest).unwrap(), b"previous snapshot");
    assert_eq!(s.listing(), ["out.bin"]);
}

#[tokio::test]
async fn a_stalled_download_times_out_and_cleans_up() {
    let s = Setup::new().await;
    let mut options = Options::for_tests();
    options.idle_timeout = Duration::from_millis(300);
    let cache = s.client_with(options);
    let version = version_for("v");
    s.fake.seed("k", &version, data(100_000, 3));
    s.fake.set_faults(Faults {
        stall_downloads: true,
        ..Faults::default()
    });
    let dest = s.path("out.bin");
    let started = Instant::now();
    let err = cache.restore("k", &[], &version, &dest).await.unwrap_err();
    assert!(matches!(err, CacheError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_clean(&err);
    assert!(!dest.exists());
    assert!(s.listing().is_empty(), "{:?}", s.listing());
}

#[tokio::test]
async fn a_refused_signature_is_a_blob_error_without_the_signature() {
    let s = Setup::new().await;
    let cache = s.client();
    let version = version_for("v");
    s.fake.seed("k", &version, b"data".to_vec());
    s.fake.set_faults(Faults {
        wrong_signatures: true,
        ..Faults::default()
    });
    let err = cache.restore("k", &[], &version, &s.path("out.bin")).await.unwrap_err();
    assert!(matches!(err, CacheError::Blob { status: 403, .. }), "{err:?}");
    let text = assert_clean(&err);
    assert!(
        text.contains("AuthenticationFailed") && text.contains("/blob/"),
        "{text}"
    );

    let file = s.write("in.bin", b"data");
    let err = cache.save("new", &version, &file).await.unwrap_err();
    assert!(matches!(err, CacheError::Blob { status: 403, .. }), "{err:?}");
    assert_clean(&err);
}

#[tokio::test]
async fn a_read_only_token_is_declined_with_the_services_reason() {
    let s = Setup::new().await;
    s.fake.set_faults(Faults {
        read_only: true,
        ..Faults::default()
    });
    let file = s.write("in.bin", b"data");
    let err = s.client().save("k", &version_for("v"), &file).await.unwrap_err();
    assert!(matches!(err, CacheError::Declined { .. }), "{err:?}");
    assert!(assert_clean(&err).contains("token has no writable scopes"));
    assert!(s.fake.entries().is_empty());
}

#[tokio::test]
async fn blob_server_errors_are_retried() {
    let s = Setup::new().await;
    let version = version_for("v");
    let file = s.write("in.bin", b"data");
    s.fake.set_faults(Faults {
        blob_put_failures: 2,
        ..Faults::default()
    });
    assert!(matches!(
        s.client().save("k", &version, &file).await.unwrap(),
        Saved::Created { .. }
    ));
    assert_eq!(s.fake.stats().single_puts, 1);
}

#[tokio::test]
async fn oversized_entries_are_refused_both_ways() {
    let s = Setup::new().await;
    let mut options = Options::for_tests();
    options.max_blob_size = 1000;
    let cache = s.client_with(options);
    let version = version_for("v");
    let file = s.write("in.bin", &data(1001, 4));
    let err = cache.save("k", &version, &file).await.unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::TooLarge {
                size: 1001,
                limit: 1000,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(s.fake.stats().create_calls, 0, "refused before reserving");

    s.fake.seed("big", &version, data(5000, 5));
    let dest = s.path("out.bin");
    let err = cache.restore("big", &[], &version, &dest).await.unwrap_err();
    assert!(matches!(err, CacheError::TooLarge { size: 5000, .. }), "{err:?}");
    assert!(!dest.exists());
}

#[tokio::test]
async fn a_large_file_goes_up_in_blocks_and_comes_back_whole() {
    let s = Setup::new().await;
    let mut options = Options::for_tests();
    options.single_shot_limit = 4 * 1024 * 1024;
    options.block_size = 4 * 1024 * 1024;
    let cache = s.client_with(options);
    let version = version_for("v");
    let bytes = data(20 * 1024 * 1024 + 123, 6);
    let file = s.write("big.bin", &bytes);
    let saved = cache.save("big", &version, &file).await.unwrap();
    assert!(matches!(saved, Saved::Created { size, .. } if size == bytes.len() as u64));
    let stats = s.fake.stats();
    assert_eq!((stats.single_puts, stats.block_puts, stats.block_lists), (0, 6, 1));

    let dest = s.path("back.bin");
    cache.restore("big", &[], &version, &dest).await.unwrap().unwrap();
    assert!(std::fs::read(&dest).unwrap() == bytes, "restored bytes differ");
}

#[tokio::test]
async fn invalid_keys_are_refused_before_any_call() {
    let s = Setup::new().await;
    let file = s.write("in.bin", b"data");
    let err = s.client().save("a,b", &version_for("v"), &file).await.unwrap_err();
    assert!(matches!(err, CacheError::InvalidKey { .. }), "{err:?}");
    assert_clean(&err);
    assert_eq!(s.fake.stats(), Default::default());
}

#[tokio::test]
async fn an_unreachable_service_is_a_transport_error() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cache = ActionsCache::with_options(&format!("http://127.0.0.1:{port}/"), TOKEN, Options::for_tests()).unwrap();
    let err = cache
        .restore("k", &[], &version_for("v"), Path::new("/nonexistent/out.bin"))
        .await
        .unwrap_err();
    assert!(matches!(err, CacheError::Transport { .. }), "{err:?}");
    assert_clean(&err);
}
