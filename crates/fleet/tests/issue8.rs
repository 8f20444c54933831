//! Issue 8's scenario: 20 concurrent runners report 250 occurrences each of the same 3 errors
//! (5,000 reports) through daemons that share a sync-node, against the simulator.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_thousand_reports_across_a_fleet_file_three_issues_for_at_most_ten_units() {
    let outcome = fleet::run(fleet::Fleet::ISSUE_8).await.unwrap();
    assert_eq!(outcome.open_issues.len(), 3, "{outcome:?}");
    assert_eq!(
        outcome.urls, 3,
        "every report answered with one of the three issues: {outcome:?}"
    );
    assert!(outcome.units <= 10, "{outcome:?}");
}
