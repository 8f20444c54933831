//! The client against the real proxy (Unix socket and loopback TCP) in front of the simulator,
//! and the report-error algorithm end to end.

use client::{Client, IssueState, LocalClaims, ReportRequest, Route};
use ghsim::{Sim, SimConfig, SimHandle, TOKEN_ALICE, TOKEN_CAROL};
use proxy::server::{Listeners, bind_unix};
use proxy::{ProxyConfig, State, UpstreamBase};
use std::sync::Arc;
use store::Store;

const ISSUES: &str = "GET /repos/{owner}/{repo}/issues";

/// The simulator and a proxy in front of it on a Unix socket and loopback TCP.
struct Rig {
    sim: SimHandle,
    proxy: Arc<State>,
    socket: std::path::PathBuf,
    tcp: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Rig {
    async fn start() -> Rig {
        let sim = Sim::start(SimConfig::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut config = ProxyConfig::new(UpstreamBase::parse(&sim.base_url).unwrap());
        // GitHub asks for a second between writes of one token; the races here need many writes
        // close together, so space them less (the order of writes is what matters).
        config.governor.write_spacing = std::time::Duration::from_millis(50);
        let proxy = State::new(config, Arc::new(Store::memory_only(1 << 24)));
        let socket = dir.path().join("d.sock");
        let unix = bind_unix(&socket).await.unwrap();
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", tcp.local_addr().unwrap());
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let listeners = Listeners {
            unix: Some((unix, socket.clone())),
            tcp: Some(tcp),
        };
        let state = proxy.clone();
        let task = tokio::spawn(async move {
            let _ = proxy::server::run(state, listeners, async {
                let _ = rx.await;
            })
            .await;
        });
        Rig {
            sim,
            proxy,
            socket,
            tcp: url,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    fn routes(&self) -> [Route; 2] {
        [Route::Socket(self.socket.clone()), Route::Url(self.tcp.clone())]
    }

    fn client(&self, route: Route, token: &str) -> Client {
        Client::builder().route(route).token(token).build().unwrap()
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
    }

    /// Open issues of octo/hello whose body carries `signature`'s marker.
    fn open_with(&self, signature: &str) -> Vec<u64> {
        self.sim.state().with_model(|m| {
            let repo = &m.repos[m.repo_idx("octo", "hello").unwrap()];
            repo.issues
                .iter()
                .filter(|i| i.state == ghsim::IssueState::Open)
                .filter(|i| i.body.as_deref().and_then(heal::parse_marker) == Some(signature))
                .map(|i| i.number)
                .collect()
        })
    }
}

#[tokio::test]
async fn a_repeated_list_is_served_from_the_cache_over_both_routes() {
    let rig = Rig::start().await;
    for route in rig.routes() {
        rig.sim.reset_stats();
        let gh = rig.client(route.clone(), TOKEN_ALICE);
        let first = gh.list_issues("octo/hello", IssueState::Open, &[]).await.unwrap();
        let second = gh.list_issues("octo/hello", IssueState::Open, &[]).await.unwrap();
        assert!(!first.is_empty());
        assert_eq!(
            first.iter().map(|i| i.number).collect::<Vec<_>>(),
            second.iter().map(|i| i.number).collect::<Vec<_>>()
        );
        // The first route fetched; the second finds the entry already cached.
        let expected = if matches!(route, Route::Socket(_)) { 1 } else { 0 };
        assert_eq!(rig.sim.stats().count(ISSUES), expected, "{route:?}");
        // use_cache(false) asks GitHub again: a conditional request, answered 304 (free).
        let fresh = gh
            .use_cache(false)
            .list_issues("octo/hello", IssueState::Open, &[])
            .await
            .unwrap();
        assert_eq!(fresh.len(), first.len());
        let stats = rig.sim.stats();
        assert_eq!(
            (stats.count(ISSUES), stats.not_modified),
            (expected + 1, 1),
            "{route:?}"
        );
    }
    assert!(rig.proxy.stats().cache_hits >= 3);
    rig.stop().await;
}

#[tokio::test]
async fn create_get_and_search_round_trip() {
    let rig = Rig::start().await;
    for (n, route) in rig.routes().into_iter().enumerate() {
        let gh = rig.client(route, TOKEN_ALICE);
        let title = format!("zebra crossing {n}");
        let created = gh
            .create_issue("octo/hello", &title, "striped body", &["bug"])
            .await
            .unwrap();
        assert_eq!(created.title, title);
        let got = gh.get_issue("octo/hello", created.number).await.unwrap();
        assert_eq!(
            (got.number, got.body.as_deref()),
            (created.number, Some("striped body"))
        );
        assert_eq!(got.labels[0].name, "bug");
        // The write invalidated search: the new issue is found at once.
        let found = gh
            .search_issues(&format!("repo:octo/hello is:open \"{title}\" in:title"))
            .await
            .unwrap();
        assert_eq!(found.iter().map(|i| i.number).collect::<Vec<_>>(), [created.number]);
        let listed = gh.list_issues("octo/hello", IssueState::All, &["bug"]).await.unwrap();
        assert!(listed.iter().any(|i| i.number == created.number));
    }
    rig.stop().await;
}

#[tokio::test]
async fn errors_keep_their_status_and_bad_input_fails_before_sending() {
    let rig = Rig::start().await;
    let gh = rig.client(
        Route::Socket(rig.socket.clone()),
        "ghp_notARealTokenAtAll000000000000000000",
    );
    let err = gh.get_issue("octo/hello", 1).await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    let gh = rig.client(Route::Socket(rig.socket.clone()), TOKEN_ALICE);
    assert_eq!(
        gh.get_issue("octo/hello", 999_999).await.unwrap_err().status(),
        Some(404)
    );
    rig.sim.reset_stats();
    assert!(gh.get_issue("not a repo", 1).await.is_err());
    assert_eq!(rig.sim.stats().total_requests, 0);
    assert!(Client::builder().base_url("ftp://x").build().is_err());
    let bare = ReportRequest {
        repo: "octo/hello".into(),
        title: "t".into(),
        ..Default::default()
    };
    // No daemon on the socket: a transport error (exit code 3 for report-error).
    let gone = rig.client(Route::Socket(rig.socket.with_extension("gone")), TOKEN_ALICE);
    let err = gone.report_error(&bare).await.unwrap_err();
    assert_eq!(err.exit_code(), 3, "{err}");
    // A token GitHub rejects: exit code 2.
    let bad = rig.client(
        Route::Socket(rig.socket.clone()),
        "ghp_notARealTokenAtAll000000000000000000",
    );
    let err = bad.report_error(&bare).await.unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    rig.stop().await;
}

fn request(title: &str, log: &str) -> ReportRequest {
    ReportRequest {
        repo: "octo/hello".into(),
        title: title.into(),
        log: log.into(),
        labels: vec!["ci-failure".into()],
        comment_on_duplicate: false,
    }
}

#[tokio::test]
async fn concurrent_reporters_sharing_claims_create_exactly_one_issue() {
    let rig = Rig::start().await;
    rig.sim.reset_stats();
    // One claims board shared by all; half go over the socket, half over TCP.
    let claims = Arc::new(LocalClaims::new());
    let socket = rig.client(Route::Socket(rig.socket.clone()), TOKEN_ALICE);
    let tcp = rig.client(Route::Url(rig.tcp.clone()), TOKEN_ALICE);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let gh = if i % 2 == 0 { socket.clone() } else { tcp.clone() };
        let claims = claims.clone();
        let log = format!("2024-05-0{}T10:00:00Z error: disk full on /tmp/.tmp{i}x\n", i % 9 + 1);
        tasks.push(tokio::spawn(async move {
            gh.report_error_with(claims.as_ref(), &request("nightly failed", &log))
                .await
                .unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    let sig = outcomes[0].signature.clone();
    assert!(
        outcomes.iter().all(|o| o.signature == sig),
        "normalization made them one error"
    );
    assert_eq!(outcomes.iter().filter(|o| o.created).count(), 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| o.number == outcomes[0].number && o.duplicate_closed.is_none()),
        "{outcomes:?}"
    );
    // The claims board answered all but one: one search, one create, one check.
    let stats = rig.sim.stats();
    assert_eq!(stats.count("GET /search/issues") + stats.count(ISSUES), 2, "{stats:?}");
    assert_eq!(rig.open_with(&sig), [outcomes[0].number]);
    assert_eq!(rig.sim.stats().count("POST /repos/{owner}/{repo}/issues"), 1);
    // The issue body has the log, scrubbed, and the marker.
    let issue = socket.get_issue("octo/hello", outcomes[0].number).await.unwrap();
    assert!(issue.html_url.as_str().ends_with(&format!("/issues/{}", issue.number)));
    assert_eq!(outcomes[0].url, issue.html_url.to_string());
    let body = issue.body.unwrap();
    assert!(
        body.contains("error: disk full") && body.contains(&heal::marker(&sig)),
        "{body}"
    );
    // A later report (new process: fresh claims) finds it through the cached search.
    let later = rig.client(Route::Socket(rig.socket.clone()), TOKEN_CAROL);
    let again = later
        .report_error(&request(
            "nightly failed",
            "2031-01-01T00:00:00Z error: disk full on /tmp/zz\n",
        ))
        .await
        .unwrap();
    assert_eq!((again.number, again.created), (outcomes[0].number, false));
    // A different error gets its own issue.
    let other = later
        .report_error(&request("nightly failed", "error: out of memory"))
        .await
        .unwrap();
    assert!(other.created && other.number != outcomes[0].number);
    rig.stop().await;
}

#[tokio::test]
async fn racing_reporters_without_shared_claims_converge_on_one_open_issue() {
    let rig = Rig::start().await;
    for labels in [vec!["ci-failure".to_owned()], vec![]] {
        let title = format!("flaky test ({} labels)", labels.len());
        let mut tasks = Vec::new();
        for i in 0..6 {
            // Separate clients: separate claims boards, as on separate machines.
            let route = if i % 2 == 0 {
                Route::Socket(rig.socket.clone())
            } else {
                Route::Url(rig.tcp.clone())
            };
            let gh = rig.client(route, if i % 3 == 0 { TOKEN_CAROL } else { TOKEN_ALICE });
            let mut req = request(&title, &format!("assertion failed at 0x{:x}\n", 0x1000 + i));
            req.labels = labels.clone();
            tasks.push(tokio::spawn(async move { gh.report_error(&req).await.unwrap() }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        let sig = &outcomes[0].signature;
        let kept = outcomes.iter().map(|o| o.number).min().unwrap();
        assert!(outcomes.iter().all(|o| o.number == kept), "{outcomes:?}");
        assert_eq!(rig.open_with(sig), [kept], "{outcomes:?}");
        // Every issue created besides the kept one was closed by its creator.
        let created = outcomes.iter().filter(|o| o.created).count();
        assert_eq!(created, 1, "{outcomes:?}");
        for o in outcomes.iter().filter_map(|o| o.duplicate_closed) {
            assert!(o > kept);
            let closed = rig.client(Route::Socket(rig.socket.clone()), TOKEN_ALICE);
            let closed = closed.use_cache(false).get_issue("octo/hello", o).await.unwrap();
            assert_eq!(closed.state, client::octocrab::models::IssueState::Closed);
        }
    }
    rig.stop().await;
}
