//! Nothing the cache client logs, at any level, contains the runtime token or a signed URL's
//! signature (its own process, so the capturing subscriber sees every event).

use action::actions_cache::fake::{FakeCacheService, Faults};
use action::actions_cache::{ActionsCache, Options, version_for};
use std::io::Write;
use std::sync::{Arc, Mutex};

const TOKEN: &str = "runtime-token-5d1e88";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_carry_neither_the_token_nor_signatures() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fake = FakeCacheService::start(TOKEN).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = ActionsCache::with_options(&fake.results_url(), TOKEN, Options::for_tests()).unwrap();
    let version = version_for("v");
    let file = dir.path().join("in.bin");
    std::fs::write(&file, vec![7u8; 10_000]).unwrap();
    let dest = dir.path().join("out.bin");

    // A save with a retried Twirp call and a retried blob upload, a restore, and failures.
    fake.set_faults(Faults {
        twirp_failures: 1,
        blob_put_failures: 1,
        ..Faults::default()
    });
    cache.save("k", &version, &file).await.unwrap();
    cache.restore("k", &[], &version, &dest).await.unwrap().unwrap();
    fake.set_faults(Faults {
        wrong_signatures: true,
        ..Faults::default()
    });
    cache.restore("k", &[], &version, &dest).await.unwrap_err();
    fake.set_faults(Faults {
        reject_token: true,
        ..Faults::default()
    });
    cache.restore("k", &[], &version, &dest).await.unwrap_err();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("retrying twirp call") && logs.contains("/blob/"),
        "{logs}"
    );
    assert!(!logs.contains(TOKEN), "{logs}");
    assert!(!logs.contains("sig="), "{logs}");
}
