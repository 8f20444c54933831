//! How fast the sharing primitives are: key derivation (once per process), sealing and opening,
//! and scrubbing typical API bodies. `cargo bench -p entry --bench entry_speed`; prints a table.

use bytes::Bytes;
use entry::{CacheKey, Fingerprint, Keys, Scrubber, Secret, SharedEntry, StoredResponse, open, seal};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// An issue list page as GitHub sends it: URLs everywhere, user objects, labels, Markdown bodies.
fn issue_list(issues: usize, secret_every: Option<usize>) -> Vec<u8> {
    let mut items = Vec::new();
    for i in 0..issues {
        let leak = secret_every.is_some_and(|n| i % n == 0);
        let body = if leak {
            format!(
                "CI failed with GH_TOKEN=ghp_16C7e42F292c6912E7710c838347Ae178B4a{i:04} and curl -H 'Authorization: Bearer abcDEF123456ghiJKL{i}'"
            )
        } else {
            "Steps to reproduce:\n1. Run `cargo test`\n2. See https://github.com/octo/hello/actions/runs/1\n\nBasic idea: the bearer of this report tried everything.".repeat(3)
        };
        let user = serde_json::json!({
            "login": format!("user{i}"), "id": 1000 + i, "node_id": "MDQ6VXNlcjE=",
            "avatar_url": format!("https://avatars.githubusercontent.com/u/{i}?v=4"),
            "url": format!("https://api.github.com/users/user{i}"),
            "html_url": format!("https://github.com/user{i}"),
            "type": "User", "site_admin": false
        });
        items.push(serde_json::json!({
            "url": format!("https://api.github.com/repos/octo/hello/issues/{i}"),
            "repository_url": "https://api.github.com/repos/octo/hello",
            "labels_url": format!("https://api.github.com/repos/octo/hello/issues/{i}/labels{{/name}}"),
            "comments_url": format!("https://api.github.com/repos/octo/hello/issues/{i}/comments"),
            "html_url": format!("https://github.com/octo/hello/issues/{i}"),
            "id": 2_000_000 + i, "node_id": "I_kwDOABCD", "number": i,
            "title": format!("Flaky test number {i} fails on main"),
            "user": user.clone(), "assignee": user,
            "labels": [{"id": 1, "name": "bug", "color": "d73a4a", "default": true}],
            "state": "open", "locked": false, "comments": i % 7,
            "created_at": "2024-01-30T12:00:00Z", "updated_at": "2024-01-31T12:00:00Z",
            "author_association": "CONTRIBUTOR", "body": body,
            "reactions": {"url": format!("https://api.github.com/repos/octo/hello/issues/{i}/reactions"), "total_count": 0}
        }));
    }
    serde_json::to_vec(&items).unwrap()
}

/// Runs `f` repeatedly for about `budget` and returns the mean time per call.
fn time<T>(budget: Duration, mut f: impl FnMut() -> T) -> Duration {
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < budget || n == 0 {
        black_box(f());
        n += 1;
    }
    start.elapsed() / n
}

fn mib_per_s(bytes: usize, per_call: Duration) -> f64 {
    bytes as f64 / per_call.as_secs_f64() / (1024.0 * 1024.0)
}

fn main() {
    let budget = Duration::from_millis(700);
    let secret = Secret::from_text("bench secret").unwrap();

    let derive = time(Duration::ZERO, || Keys::derive(&secret, "octo/hello"));
    println!(
        "Keys::derive (PBKDF2 600k + HKDF): {:.0} ms",
        derive.as_secs_f64() * 1e3
    );
    let keys = Keys::derive_with_iterations(&secret, "octo/hello", 1);

    let scrubber = Scrubber::new(&[]).unwrap();
    let build = time(budget, || Scrubber::new(&["corp-[0-9]{6}"]).unwrap());
    println!("Scrubber::new: {:.2} ms", build.as_secs_f64() * 1e3);

    println!("\n{:<44} {:>9} {:>12} {:>10}", "scrub", "bytes", "per call", "MiB/s");
    for (name, body) in [
        ("issue list, 30 items, clean", issue_list(30, None)),
        ("issue list, 30 items, 2 secrets per 5 items", issue_list(30, Some(5))),
        ("issue list, 300 items, clean", issue_list(300, None)),
        (
            "binary noise 256 KiB",
            (0..256 * 1024)
                .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
        ),
    ] {
        let per = time(budget, || scrubber.scrub(&body).len());
        println!(
            "{name:<44} {:>9} {:>9.1} µs {:>10.0}",
            body.len(),
            per.as_secs_f64() * 1e6,
            mib_per_s(body.len(), per)
        );
    }
    let headers: Vec<(String, String)> = [
        ("content-type", "application/json; charset=utf-8"),
        ("etag", "W/\"5d0f2bc7\""),
        (
            "link",
            "<https://api.github.com/repositories/1/issues?page=2>; rel=\"next\"",
        ),
        ("x-ratelimit-remaining", "4999"),
        ("set-cookie", "_gh_sess=abc"),
        ("x-oauth-scopes", "repo"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let per = time(budget, || {
        let mut h = headers.clone();
        scrubber.scrub_headers(&mut h);
        h
    });
    println!(
        "{:<44} {:>9} {:>9.1} µs",
        "scrub_headers, 6 headers",
        "",
        per.as_secs_f64() * 1e6
    );

    println!("\n{:<44} {:>9} {:>12} {:>10}", "envelope", "bytes", "per call", "MiB/s");
    for items in [1, 30, 300] {
        let body = issue_list(items, None);
        let response = StoredResponse {
            status: 200,
            headers: headers.clone(),
            body: Bytes::from(body),
            fetched_at_ms: 0,
            ttl_secs: 300,
            token_fp: Fingerprint::ANONYMOUS,
            etag: None,
            last_modified: None,
            request_accept: None,
            tags: vec![],
            validators: vec![],
        };
        let key = CacheKey::from_stored("GET /repos/octo/hello/issues accept=*/*".into());
        let new = time(budget, || SharedEntry::new(&key, response.clone()));
        let entry = SharedEntry::new(&key, response);
        let sealed = seal(&keys, &entry).unwrap();
        let len = sealed.envelope.len();
        let s = time(budget, || seal(&keys, &entry).unwrap());
        let o = time(budget, || open(&keys, &sealed.envelope).unwrap());
        for (what, per) in [("SharedEntry::new (validation hash)", new), ("seal", s), ("open", o)] {
            let name = format!("{what}, {items} items");
            println!(
                "{name:<44} {len:>9} {:>9.1} µs {:>10.0}",
                per.as_secs_f64() * 1e6,
                mib_per_s(len, per)
            );
        }
    }
}
