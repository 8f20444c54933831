//! The in-process claims board: one claimer, waiters get its answer, an abandoned claim passes on.

use heal::{Claim, Claims, LocalClaims};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn one_claimer_and_the_waiters_learn_its_issue() {
    let claims = Arc::new(LocalClaims::new());
    assert_eq!(claims.claim("Octo/Hello", "s1").await, Claim::Mine);
    let waiters: Vec<_> = (0..5)
        .map(|_| {
            let c = claims.clone();
            tokio::spawn(async move { c.claim("octo/hello", "s1").await })
        })
        .collect();
    // Another signature or repository is independent.
    assert_eq!(claims.claim("octo/hello", "s2").await, Claim::Mine);
    assert_eq!(claims.claim("octo/other", "s1").await, Claim::Mine);
    claims.resolve("octo/hello", "s1", "https://x/1", 1).await;
    for w in waiters {
        assert_eq!(
            w.await.unwrap(),
            Claim::Known {
                url: "https://x/1".into(),
                number: 1
            }
        );
    }
    assert!(matches!(
        claims.claim("octo/hello", "s1").await,
        Claim::Known { number: 1, .. }
    ));
}

// Paused time: the sleep below ends only once every waiter is parked, so it orders, not guesses.
#[tokio::test(start_paused = true)]
async fn an_abandoned_claim_goes_to_exactly_one_waiter() {
    let claims = Arc::new(LocalClaims::new());
    assert_eq!(claims.claim("o/r", "s").await, Claim::Mine);
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let c = claims.clone();
            tokio::spawn(async move { c.claim("o/r", "s").await })
        })
        .collect();
    tokio::task::yield_now().await;
    claims.abandon("o/r", "s").await;
    // One waiter now holds the claim; it resolves, the rest learn the answer.
    tokio::time::sleep(Duration::from_millis(50)).await;
    claims.resolve("o/r", "s", "u", 7).await;
    let mut mine = 0;
    for w in waiters {
        match w.await.unwrap() {
            Claim::Mine => mine += 1,
            Claim::Known { number, .. } => assert_eq!(number, 7),
        }
    }
    assert_eq!(mine, 1);
}

#[tokio::test(start_paused = true)]
async fn a_stuck_claimer_does_not_block_waiters_forever() {
    let claims = LocalClaims::with_wait(Duration::from_secs(5));
    assert_eq!(claims.claim("o/r", "s").await, Claim::Mine);
    let started = tokio::time::Instant::now();
    assert_eq!(claims.claim("o/r", "s").await, Claim::Mine);
    assert!(started.elapsed() >= Duration::from_secs(5));
}
