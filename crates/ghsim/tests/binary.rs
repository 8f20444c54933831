//! The `ghsim` binary: one line on stdout with its URL, flags applied, clean exit on SIGTERM.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use http::StatusCode;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn prints_its_url_serves_with_flags_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ghsim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--prefix",
            "/api/v3",
            "--issues",
            "7",
            "--core-limit",
            "5",
        ])
        .args(["--latency-ms", "40"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).await.unwrap();
    let url = line
        .trim()
        .strip_prefix("ghsim listening on ")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/api/v3"),
        "{url}"
    );

    let started = Instant::now();
    let r = get(&format!("{url}/repos/octo/hello/issues?state=all"), Some(TOKEN_BOB)).await;
    assert!(started.elapsed() >= Duration::from_millis(40));
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json().as_array().unwrap().len(), 7);
    assert_eq!(r.rate("limit"), 5);

    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().await.unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "", "exactly one line on stdout");
}
