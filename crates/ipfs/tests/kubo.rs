//! The kubo RPC client against the fake kubo, and the fake against raw requests (so both sides
//! are held to what kubo does, not merely to each other).

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use cid::Cid;
use ipfs::block::{MAX_BLOCK, raw_cid};
use ipfs::doubles::{FakeKubo, KuboFaults};
use ipfs::{CarWriter, IpfsError, KuboClient, parse_cid, read_snapshot};

async fn kubo() -> (FakeKubo, KuboClient) {
    let fake = FakeKubo::start().await.unwrap();
    let client = KuboClient::new(&fake.api_url())
        .unwrap()
        .with_timeout(Duration::from_secs(5));
    (fake, client)
}

/// A raw POST to the fake, returning status and body.
async fn post(url: &str, content_type: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    let client: Client<_, Full<Bytes>> = Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let req = http::Request::post(url)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn version_probe_answers() {
    let (_fake, client) = kubo().await;
    assert_eq!(client.version().await.unwrap(), "0.32.1");
}

#[tokio::test]
async fn a_snapshot_round_trips_through_import_and_export() {
    let (fake, client) = kubo().await;
    let envelopes = common::envelopes(12, 3000);
    let (car, root) = common::snapshot(&envelopes, 1 << 20);

    let roots = client.dag_import(Bytes::from(car.clone()), true).await.unwrap();
    assert_eq!(roots, vec![root]);
    assert!(fake.is_pinned(&root));
    assert!(client.pin_ls(&root).await.unwrap());
    assert_eq!(fake.block_count(), 13);

    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("back.car");
    let stats = client.fetch_car(&root, &dest).await.unwrap();
    assert_eq!(stats.blocks, 13);
    // One manifest block: a depth-first export is the writer's order, byte for byte.
    assert_eq!(std::fs::read(&dest).unwrap(), car);
    // No spool files left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let (_, data, _) = &envelopes[3];
    let cid = envelopes[3].0;
    assert_eq!(client.block_get(&cid).await.unwrap(), data);
}

#[tokio::test]
async fn a_chained_manifest_comes_back_complete_and_manifest_first() {
    let (_fake, client) = kubo().await;
    let envelopes = common::envelopes(300, 64);
    let (car, root) = common::snapshot(&envelopes, 1024);
    client.dag_import(Bytes::from(car.clone()), true).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("back.car");
    client.fetch_car(&root, &dest).await.unwrap();
    // kubo's depth-first export reaches the last chain block's envelopes first; the client
    // lays the blocks out again as the writer does: chain first, envelopes in manifest order.
    assert_eq!(std::fs::read(&dest).unwrap(), car);
    let (manifest, items) = read_snapshot(std::fs::File::open(&dest).unwrap()).unwrap();
    assert_eq!(manifest.entries.len(), 300);
    let mut got: Vec<Cid> = items.map(|e| e.unwrap().cid).collect();
    let mut want: Vec<Cid> = envelopes.iter().map(|e| e.0).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test]
async fn import_without_pinning_reports_the_header_roots() {
    let (fake, client) = kubo().await;
    let (car, root) = common::snapshot(&common::envelopes(2, 10), 1 << 20);
    assert_eq!(client.dag_import(Bytes::from(car), false).await.unwrap(), vec![root]);
    assert!(!fake.is_pinned(&root));
    assert!(!client.pin_ls(&root).await.unwrap());
    client.pin_add(&root).await.unwrap();
    assert!(client.pin_ls(&root).await.unwrap());
}

#[tokio::test]
async fn import_of_an_incomplete_dag_reports_the_pin_error() {
    let (_fake, client) = kubo().await;
    let envelopes = common::envelopes(3, 10);
    let (car, root) = common::snapshot(&envelopes, 1 << 20);
    // Keep the header and manifest, drop the last envelope section.
    let cut = car.len() - (envelopes[2].1.len() + 36 + 1);
    let err = client
        .dag_import(Bytes::from(car[..cut].to_vec()), true)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, IpfsError::Api { message, .. } if message.contains("could not find")),
        "{err}"
    );
    assert!(!client.pin_ls(&root).await.unwrap());
}

#[tokio::test]
async fn a_block_over_one_mib_is_refused_with_kubos_error() {
    let (fake, client) = kubo().await;
    let big = vec![7u8; MAX_BLOCK + 1];
    let cid = raw_cid(&big);
    // The CAR writer refuses such blocks, so frame this CAR by hand.
    let mut car = CarWriter::new(Vec::new(), &[cid]).unwrap().finish().unwrap();
    let cid_bytes = cid.to_bytes();
    let mut len = cid_bytes.len() + big.len();
    while len >= 0x80 {
        car.push((len as u8) | 0x80);
        len >>= 7;
    }
    car.push(len as u8);
    car.extend_from_slice(&cid_bytes);
    car.extend_from_slice(&big);

    let err = client.dag_import(Bytes::from(car.clone()), true).await.unwrap_err();
    assert!(
        matches!(&err, IpfsError::Api { status: 500, message, .. } if message.contains("over 1MiB")),
        "{err}"
    );
    assert_eq!(fake.block_count(), 0);

    // The raw answer has kubo's shape.
    let boundary = "b0undary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.car\"\r\n\r\n")
        .into_bytes();
    body.extend_from_slice(&car);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let url = format!("{}/api/v0/dag/import", fake.api_url());
    let (status, json) = post(&url, &format!("multipart/form-data; boundary={boundary}"), body).await;
    assert_eq!(status, 500);
    assert_eq!(json["Type"], "error");
    assert_eq!(json["Code"], 0);
    assert!(json["Message"].as_str().unwrap().contains("over 1MiB"));
}

#[tokio::test]
async fn malformed_multipart_gets_a_kubo_shaped_error() {
    let (fake, _client) = kubo().await;
    let url = format!("{}/api/v0/dag/import", fake.api_url());
    // No closing boundary.
    let (status, json) = post(
        &url,
        "multipart/form-data; boundary=zz",
        b"--zz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc".to_vec(),
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(json["Type"], "error");
    assert!(json["Message"].as_str().unwrap().contains("multipart"), "{json}");
    // Not multipart at all.
    let (status, json) = post(&url, "application/octet-stream", b"x".to_vec()).await;
    assert_eq!(status, 400);
    assert_eq!((json["Type"].as_str(), json["Code"].as_i64()), (Some("error"), Some(1)));
    // No boundary.
    let (status, _) = post(&url, "multipart/form-data", b"x".to_vec()).await;
    assert_eq!(status, 400);
    // A part that is not a CAR.
    let (status, json) = post(
        &url,
        "multipart/form-data; boundary=zz",
        b"--zz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nnot a car\r\n--zz--\r\n".to_vec(),
    )
    .await;
    assert_eq!(status, 500);
    assert!(json["Message"].as_str().unwrap().contains("CAR"), "{json}");
    assert_eq!(fake.imports(), 0);
}

#[tokio::test]
async fn a_tampered_block_in_an_import_stores_nothing() {
    let (fake, client) = kubo().await;
    let (mut car, _root) = common::snapshot(&common::envelopes(2, 100), 1 << 20);
    let last = car.len() - 1;
    car[last] ^= 1;
    // The client reads only the header before sending, so kubo's own check is what refuses it.
    let err = client.dag_import(Bytes::from(car), true).await.unwrap_err();
    assert!(matches!(err, IpfsError::Api { status: 500, .. }), "{err}");
    assert_eq!(fake.block_count(), 0);
}

#[tokio::test]
async fn unknown_cids_are_a_clear_not_found() {
    let (_fake, client) = kubo().await;
    let cid = raw_cid(b"nobody has this");
    let err = client.block_get(&cid).await.unwrap_err();
    assert!(matches!(err, IpfsError::NotFound { cid: c, .. } if c == cid), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let err = client.fetch_car(&cid, &dir.path().join("x.car")).await.unwrap_err();
    assert!(matches!(err, IpfsError::NotFound { .. }), "{err}");
    assert!(!err.is_unavailable());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn altered_blocks_from_kubo_are_refused() {
    let (fake, client) = kubo().await;
    let envelopes = common::envelopes(3, 100);
    let (car, root) = common::snapshot(&envelopes, 1 << 20);
    client.dag_import(Bytes::from(car), true).await.unwrap();
    fake.set_faults(KuboFaults {
        alter_block: Some(envelopes[1].0),
        ..Default::default()
    });
    let err = client.block_get(&envelopes[1].0).await.unwrap_err();
    assert!(matches!(err, IpfsError::Tampered { .. }), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("x.car");
    let err = client.fetch_car(&root, &dest).await.unwrap_err();
    assert!(matches!(err, IpfsError::Tampered { .. }), "{err}");
    assert!(!dest.exists());
}

#[test]
fn malformed_cid_strings_are_a_clear_error() {
    for bad in [
        "",
        "hello",
        "bafy",
        "Qm123",
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5",
    ] {
        let err = parse_cid(bad).unwrap_err();
        assert!(matches!(err, IpfsError::BadCid { .. }), "{bad}: {err}");
        assert!(err.to_string().contains("not a CID"), "{err}");
    }
    let ok = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e";
    assert_eq!(parse_cid(ok).unwrap().to_string(), ok);
}

#[tokio::test]
async fn the_fake_refuses_malformed_cid_arguments_and_get() {
    let (fake, _client) = kubo().await;
    let (status, json) = post(
        &format!("{}/api/v0/block/get?arg=notacid", fake.api_url()),
        "text/plain",
        vec![],
    )
    .await;
    assert_eq!(status, 400);
    assert!(json["Message"].as_str().unwrap().contains("invalid path"), "{json}");
}

#[tokio::test]
async fn bad_urls_are_refused_up_front() {
    for bad in ["", "127.0.0.1:5001", "ftp://127.0.0.1:5001", "http://"] {
        assert!(matches!(KuboClient::new(bad), Err(IpfsError::BadUrl { .. })), "{bad}");
    }
}

#[tokio::test]
async fn a_closed_port_is_unavailable_quickly() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let client = KuboClient::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let started = Instant::now();
    let err = client.version().await.unwrap_err();
    assert!(matches!(err, IpfsError::Unreachable { .. }), "{err}");
    assert!(err.is_unavailable());
    assert!(err.to_string().contains("is it running"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_hanging_node_times_out() {
    let (fake, _) = kubo().await;
    fake.set_faults(KuboFaults {
        hang: true,
        ..Default::default()
    });
    let client = KuboClient::new(&fake.api_url())
        .unwrap()
        .with_timeout(Duration::from_millis(200));
    let err = client.version().await.unwrap_err();
    assert!(matches!(err, IpfsError::Timeout { .. }), "{err}");
    assert!(err.is_unavailable());
}

#[tokio::test]
async fn a_server_that_is_not_kubo_is_named() {
    let (fake, _) = kubo().await;
    // A path that is not the RPC API answers like any HTTP server: 404, no kubo error body.
    let client = KuboClient::new(&format!("{}/not-the-api", fake.api_url())).unwrap();
    let err = client.version().await.unwrap_err();
    assert!(matches!(err, IpfsError::BadResponse { .. }), "{err}");
}

#[tokio::test]
async fn a_snapshot_file_is_streamed_to_dag_import() {
    let (fake, client) = kubo().await;
    let (car, root) = common::snapshot(&common::envelopes(40, 20_000), 1 << 20);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.car");
    std::fs::write(&path, &car).unwrap();
    assert_eq!(client.dag_import_file(&path, true).await.unwrap(), vec![root]);
    assert!(fake.is_pinned(&root));
    let back = dir.path().join("back.car");
    client.fetch_car(&root, &back).await.unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), car);

    // Not a CAR: refused before anything is sent.
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    let err = client.dag_import_file(&text, true).await.unwrap_err();
    assert!(matches!(err, IpfsError::BadCar { .. }), "{err}");
    assert_eq!(fake.imports(), 1);
}

#[tokio::test]
async fn offline_mode_is_sent_on_every_call() {
    let (fake, client) = kubo().await;
    let client = client.with_offline(true);
    let err = client.block_get(&raw_cid(b"absent")).await.unwrap_err();
    assert!(matches!(err, IpfsError::NotFound { .. }), "{err}");
    client.version().await.unwrap();
    assert_eq!(fake.offline_calls(), 2);
}

#[test]
fn an_empty_pinning_token_is_refused() {
    let err = ipfs::PinningClient::new("http://127.0.0.1:1", " ").unwrap_err();
    assert!(matches!(err, IpfsError::BadToken { .. }), "{err}");
}
