//! Issue 8's scenario as a benchmark: 20 runners × 250 reports of 3 errors (5,000 reports),
//! through daemons sharing a sync-node, and the same reports without the cache, side by side.
//! Target: exactly 3 issues, at most 10 rate-limit units.

pub fn run(out: &std::path::Path) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let cached = rt.block_on(fleet::run(fleet::Fleet::ISSUE_8))?;
    let direct = rt.block_on(fleet::run(fleet::Fleet {
        through_cache: false,
        ..fleet::Fleet::ISSUE_8
    }))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let row = |name: &str, o: &fleet::Outcome| {
        format!(
            "| {name} | {} | {} | {} | {} | {} | {:.2} |\n",
            o.reports,
            o.created,
            o.open_issues.len(),
            o.units,
            o.upstream_requests,
            o.elapsed.as_secs_f64()
        )
    };
    let ok = cached.open_issues.len() == 3 && cached.units <= 10;
    let verdict = format!(
        "{}: {} open issues, {} units with the cache (target: 3 issues, ≤ 10 units); {:.0}× fewer units than without it.",
        if ok { "PASS" } else { "MISS" },
        cached.open_issues.len(),
        cached.units,
        direct.units as f64 / cached.units.max(1) as f64
    );
    let section = format!(
        "<!-- bench:heal:start -->\n## Auto-healing: 5,000 error reports across a fleet\n\n\
         - Date: {}\n- Command: `cargo xtask bench --only heal`\n- Machine: {}\n\
         - 20 runners, each reporting 250 occurrences of the same 3 errors (timestamps, addresses, \
         temporary paths and run ids differ), concurrently, with `report_error` from the `client` \
         crate, against the simulator. With the cache: each runner is a daemon (proxy, peer link, \
         claims board) and all share one sync-node, in one process on loopback. Without: every \
         report is its own run straight to the simulator (its search limit raised: GitHub's 30 \
         searches a minute per token would refuse most of them).\n\n\
         | run | reports | issues created | open issues at the end | rate-limit units | requests to GitHub | seconds |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n{}{}\n{verdict}\n<!-- bench:heal:end -->\n",
        crate::report::utc_timestamp(now),
        crate::report::machine(),
        row("through daemons sharing a sync-node", &cached),
        row("without the cache", &direct),
    );
    println!("\n{section}");
    crate::report::write(out, &section)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}
