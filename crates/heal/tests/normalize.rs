//! Normalization and signatures: occurrences of one failure agree, different failures differ,
//! and hostile input is handled without panics or leaks.

use heal::{
    LocalClaims, NormalizeOptions, Normalizer, ReportError, ReportRequest, marker, normalize, parse_marker, signature,
    text_of,
};

const TOKEN: &str = "ghp_u8jzPde0IgxLd6GncfBAepfJBd0Kh8oOOL8d";

fn run_log(time: &str, addr: &str, tmp: &str, run: &str, uuid: &str, secs: &str) -> String {
    format!(
        "{time} INFO starting job\n\
         {time} thread 'main' panicked at src/cache.rs:42:9: index out of bounds at {addr}\n\
         while reading {tmp}/checkout/Cargo.lock (request {uuid})\n\
         see https://github.com/octo/hello/actions/runs/{run}/job/{run}1\n\
         error: test failed after {secs}; commit {sha}\n",
        sha = if run.ends_with('1') {
            "3f786850e387550fdab836ed7e6dc881de23001b"
        } else {
            "89e6c98d92887913cadf06b2adb97f26cde4849b"
        },
    )
}

#[test]
fn occurrences_differing_only_in_volatile_parts_agree() {
    let a = run_log(
        "2024-05-01T12:00:01.123Z",
        "0x7ffd5a3c",
        "/tmp/.tmpAbC123",
        "9120355511",
        "123e4567-e89b-12d3-a456-426614174000",
        "12.3s",
    );
    let b = run_log(
        "2025-11-30T23:59:59+02:00",
        "0xdeadbeef10",
        "/tmp/.tmpZz9",
        "7000000001",
        "00000000-0000-4000-8000-000000000000",
        "480ms",
    );
    assert_ne!(a, b);
    assert_eq!(normalize(&a), normalize(&b));
    assert_eq!(
        signature("Build failed", &normalize(&a)),
        signature("Build failed", &normalize(&b))
    );
    let n = normalize(&a);
    for gone in [
        "2024",
        "0x7ffd",
        "AbC123",
        "9120355511",
        "123e4567",
        "12.3s",
        "3f786850",
    ] {
        assert!(!n.contains(gone), "{gone} survived in {n}");
    }
    // What identifies the failure stays.
    assert!(n.contains("panicked at src/cache.rs:42:9: index out of bounds"), "{n}");
}

#[test]
fn other_time_and_path_formats() {
    let pairs = [
        (
            "[10/Oct/2000:13:55:36 -0700] GET /x",
            "[01/Jan/2024:00:00:01 +0000] GET /x",
        ),
        ("Oct  3 13:55:36 host sshd: fail", "Jan 12 01:02:03 host sshd: fail"),
        ("at 13:55:36.123 boom", "at 01:02:03 boom"),
        (
            "open /var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T/abc/f.txt: denied",
            "open /private/var/folders/ab/cd/T/xyz/f.txt: denied",
        ),
        (
            r"C:\Users\runneradmin\AppData\Local\Temp\tmp1234\a.dll missing",
            r"C:\Users\bob\AppData\Local\Temp\other\a.dll missing",
        ),
        ("connect 127.0.0.1:38211 refused", "connect 127.0.0.1:40000 refused"),
        ("run_id=123456 failed", "run_id=987654 failed"),
        ("took 3 seconds   and\t\n2m", "took 10 seconds and 5m"),
        ("\x1b[31merror\x1b[0m: bad", "error: bad"),
    ];
    for (a, b) in pairs {
        assert_eq!(normalize(a), normalize(b), "{a:?} vs {b:?}");
    }
}

#[test]
fn different_errors_differ() {
    let a = normalize("error[E0308]: mismatched types at src/lib.rs:10:5");
    let b = normalize("error[E0425]: cannot find value `x` at src/lib.rs:10:5");
    assert_ne!(signature("Build failed", &a), signature("Build failed", &b));
    assert_ne!(signature("Build failed", &a), signature("Test failed", &a));
    // Line numbers count by default, and can be ignored.
    let (l1, l2) = ("panic at src/a.rs:10:5", "panic at src/a.rs:99:1");
    assert_ne!(normalize(l1), normalize(l2));
    let loose = Normalizer::new(NormalizeOptions {
        ignore_line_numbers: true,
    });
    assert_eq!(loose.normalize(l1), loose.normalize(l2));
    assert_eq!(loose.normalize(l1), "panic at src/a.rs:<n>");
}

#[test]
fn secrets_are_scrubbed_before_anything_else() {
    let log = format!("curl -H 'Authorization: token {TOKEN}' failed at 2024-01-01T00:00:00Z");
    let n = normalize(&log);
    assert!(!n.contains(TOKEN) && !n.contains("u8jzPde0"), "{n}");
    assert!(n.contains("REDACTED"), "{n}");
}

#[test]
fn markers_round_trip_and_reject_lookalikes() {
    let sig = signature("t", "log");
    assert_eq!(sig.len(), heal::SIGNATURE_LEN);
    assert!(sig.bytes().all(|b| b.is_ascii_hexdigit()));
    let body = format!("some log\n\n{}\n", marker(&sig));
    assert_eq!(parse_marker(&body), Some(sig.as_str()));
    assert_eq!(
        parse_marker("gh-p2p-cache:signature=0123456789abcdef"),
        None,
        "not in a comment"
    );
    assert_eq!(parse_marker("<!-- gh-p2p-cache:signature=0123 -->"), None, "too short");
    assert_eq!(parse_marker(""), None);
}

#[test]
fn hostile_input_is_bounded_and_never_panics() {
    // Binary with NULs, invalid UTF-8 and control characters.
    let binary: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let text = text_of(&binary);
    assert!(!text.contains('\0'));
    let _ = normalize(&text);
    // A huge log keeps only its end.
    let mut huge = "x".repeat(5 << 20);
    huge.push_str("\nfinal error: disk full");
    let text = text_of(huge.as_bytes());
    assert!(text.len() <= heal::MAX_LOG_BYTES && text.ends_with("final error: disk full"));
    // A cut in the middle of a multi-byte character is not an error.
    let multibyte = "é".repeat(heal::MAX_LOG_BYTES);
    assert!(text_of(multibyte.as_bytes()).ends_with('é'));
}

#[tokio::test]
async fn bad_requests_are_usage_errors_before_any_call() {
    let normalizer = Normalizer::default();
    let claims = LocalClaims::new();
    let tracker = NoCalls;
    let cases = [
        ReportRequest {
            repo: "octo/hello".into(),
            title: " \t\n ".into(),
            ..Default::default()
        },
        ReportRequest {
            repo: "no-slash".into(),
            title: "t".into(),
            ..Default::default()
        },
        ReportRequest {
            repo: "octo/hello/extra".into(),
            title: "t".into(),
            ..Default::default()
        },
        ReportRequest {
            repo: "../..".into(),
            title: "t".into(),
            ..Default::default()
        },
        ReportRequest {
            repo: "octo/hello".into(),
            title: "t".into(),
            labels: vec!["l".repeat(51)],
            ..Default::default()
        },
    ];
    for req in cases {
        let err = heal::report_error(&tracker, &claims, &normalizer, &req)
            .await
            .unwrap_err();
        assert!(matches!(err, ReportError::Usage(_)), "{req:?}: {err:?}");
        assert_eq!(err.exit_code(), 1);
    }
}

/// A tracker that fails the test if the algorithm calls GitHub at all.
struct NoCalls;

impl heal::IssueTracker for NoCalls {
    async fn search_issues(&self, _: &str, _: bool) -> Result<Vec<heal::FoundIssue>, heal::TrackerError> {
        panic!("no call expected")
    }
    async fn list_open_issues(
        &self,
        _: &heal::RepoName,
        _: &[String],
        _: u32,
        _: bool,
    ) -> Result<Vec<heal::FoundIssue>, heal::TrackerError> {
        panic!("no call expected")
    }
    async fn list_newest_open_issues(
        &self,
        _: &heal::RepoName,
        _: bool,
    ) -> Result<Vec<heal::FoundIssue>, heal::TrackerError> {
        panic!("no call expected")
    }
    async fn create_issue(
        &self,
        _: &heal::RepoName,
        _: &str,
        _: &str,
        _: &[String],
    ) -> Result<heal::FoundIssue, heal::TrackerError> {
        panic!("no call expected")
    }
    async fn comment(&self, _: &heal::RepoName, _: u64, _: &str) -> Result<(), heal::TrackerError> {
        panic!("no call expected")
    }
    async fn close_issue(&self, _: &heal::RepoName, _: u64) -> Result<(), heal::TrackerError> {
        panic!("no call expected")
    }
}
