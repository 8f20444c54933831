//! Prints the error messages callers see for the common failures (for docs and reviews).
//! Run: `cargo run -p ipfs --features doubles --example error_messages`.

use std::time::Duration;

use ipfs::block::raw_cid;
use ipfs::doubles::{FakeGateway, FakeKubo, GatewayFaults};
use ipfs::{GatewayClient, KuboClient, PinningClient, parse_cid};

#[tokio::main]
async fn main() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let kubo = KuboClient::new(&format!("http://127.0.0.1:{closed}")).unwrap();
    println!("unreachable: {}", kubo.version().await.unwrap_err());
    println!("bad cid:     {}", parse_cid("bafyNOTACID").unwrap_err());

    let fake = FakeKubo::start().await.unwrap();
    let kubo = KuboClient::new(&fake.api_url()).unwrap();
    println!(
        "not found:   {}",
        kubo.block_get(&raw_cid(b"absent")).await.unwrap_err()
    );

    let data = bytes::Bytes::from_static(b"block");
    let cid = raw_cid(&data);
    let gw = FakeGateway::start([(cid, data)]).await.unwrap();
    gw.set_faults(GatewayFaults {
        alter_block: Some(cid),
        ..Default::default()
    });
    let client = GatewayClient::new(vec![gw.url()]).unwrap();
    let dir = std::env::temp_dir().join("ipfs-error-messages.car");
    println!("tampered:    {}", client.fetch_car(&cid, &dir).await.unwrap_err());

    let pinning = PinningClient::new(&format!("http://127.0.0.1:{closed}"), "t")
        .unwrap()
        .with_timeout(Duration::from_secs(1));
    println!(
        "pinning:     {}",
        pinning.pin(&cid, "x", Duration::from_secs(1)).await.unwrap_err()
    );
}
