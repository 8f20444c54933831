//! nginx as the reference cache: the configuration that puts Debian's nginx `proxy_cache` in
//! front of the simulator, and starting it as a foreground process confined to a temporary dir.
//!
//! The configuration is meant to be a fair, safe equivalent of our hit path: 200s cached for
//! five minutes whatever GitHub's `Cache-Control: private`/`Vary`/`Expires`/`Set-Cookie` say,
//! and a key holding the method, URI, `Accept`, API version and `Authorization`, so one token
//! never gets another's response.

use crate::procs::Proc;
use anyhow::Context;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub const NGINX: &str = "/usr/sbin/nginx";

/// `nginx/1.22.1`, from `nginx -v` (which prints to stderr), or `nginx` if it cannot tell.
pub fn version() -> String {
    Command::new(NGINX)
        .arg("-v")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stderr)
                .trim()
                .strip_prefix("nginx version: ")
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "nginx".into())
}

/// The nginx.conf text: everything nginx writes goes under `dir`.
pub fn config(dir: &Path, listen: SocketAddr, upstream: SocketAddr, as_root: bool) -> String {
    let d = dir.display();
    let mut c = String::new();
    if as_root {
        // Workers would otherwise switch to `nobody` and could not write the 0700 temp dir.
        c.push_str("user root;\n");
    }
    let _ = write!(
        c,
        r#"worker_processes 2;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{
    worker_connections 1024;
}}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy_temp;
    fastcgi_temp_path {d}/fastcgi_temp;
    uwsgi_temp_path {d}/uwsgi_temp;
    scgi_temp_path {d}/scgi_temp;
    # Cached bodies are files to nginx: sendfile, as Debian ships it. Debian also turns on
    # tcp_nopush, which here stalls every keep-alive hit by ~40 ms (the corked last segment
    # waits for the client's delayed ACK on loopback), so it is off to give nginx its best.
    sendfile on;
    tcp_nopush off;
    tcp_nodelay on;
    # The latency run sends thousands of requests on one connection; nginx's default (1000)
    # would close it mid-run.
    keepalive_requests 10000000;
    keepalive_timeout 300s;

    proxy_cache_path {d}/cache levels=1:2 keys_zone=bench:10m max_size=256m inactive=60m use_temp_path=off;

    upstream ghsim {{
        server {upstream};
        keepalive 32;
    }}

    server {{
        listen {listen};
        location / {{
            proxy_pass http://ghsim;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host {upstream};
            proxy_cache bench;
            proxy_cache_key "$request_method|$request_uri|$http_accept|$http_x_github_api_version|$http_authorization";
            proxy_cache_valid 200 5m;
            proxy_cache_lock on;
            proxy_ignore_headers Cache-Control Expires Set-Cookie Vary X-Accel-Expires;
            add_header X-Cache-Status $upstream_cache_status always;
        }}
    }}
}}
"#
    );
    c
}

/// Writes the configuration into `dir`, checks it with `nginx -t`, and starts nginx in the
/// foreground; returns once it accepts connections on `listen`.
pub async fn start(dir: &Path, listen: SocketAddr, upstream: SocketAddr) -> anyhow::Result<Proc> {
    // SAFETY: geteuid has no preconditions.
    let as_root = unsafe { libc::geteuid() } == 0;
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, config(dir, listen, upstream, as_root))
        .with_context(|| format!("cannot write {}", conf.display()))?;
    let command = || {
        let mut cmd = Command::new(NGINX);
        // `-e` keeps even the messages logged before the config is read out of /var/log.
        cmd.arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"))
            .args(["-g", "daemon off;"]);
        cmd
    };
    let check = command()
        .arg("-t")
        .output()
        .with_context(|| format!("cannot run {NGINX}; install it with `apt-get install nginx`"))?;
    if !check.status.success() {
        anyhow::bail!(
            "nginx rejected {}: {}",
            conf.display(),
            String::from_utf8_lossy(&check.stderr).trim()
        );
    }
    let mut proc = Proc::spawn("nginx", command(), &dir.join("nginx.stderr"), false)?;
    proc.ready_tcp(listen, Duration::from_secs(10)).await?;
    Ok(proc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keys_by_token_and_stays_in_its_dir() {
        let c = config(
            Path::new("/tmp/x"),
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
            false,
        );
        assert!(c.contains("$http_authorization\";"));
        assert!(c.contains("proxy_cache_lock on;"));
        assert!(!c.contains("user root"));
        for line in c
            .lines()
            .filter(|l| l.contains("_path") || l.contains("pid ") || l.contains("error_log"))
        {
            assert!(line.contains("/tmp/x/"), "{line}");
        }
    }
}
