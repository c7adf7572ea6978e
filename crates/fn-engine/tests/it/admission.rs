//! Admission: the rate limiter is asked before anything is fetched, compiled or
//! instantiated; a refusal is typed and recorded; a broken limiter lets calls through.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use fn_core::{Error, InvocationContext, InvocationStatus};

use crate::support::*;

#[tokio::test]
async fn rate_limited_calls_are_refused_before_running_and_recorded() {
    let budget = Arc::new(Budget {
        left: Mutex::new(1),
        seen: Mutex::default(),
    });
    let h = harness_with(|b| b.rate_limiter(budget.clone()));
    let hello = h.deploy("hello", guest("hello"));
    let ctx = InvocationContext::default().with_caller("bob");
    h.engine
        .execute(&hello, Bytes::new(), Some(ctx))
        .await
        .unwrap();
    let (error, record) = failing(&h, &hello, b"").await;
    match error.root() {
        Error::RateLimited { key, retry_after } => {
            assert_eq!(*key, format!("function:{}", hello.id));
            assert_eq!(*retry_after, Some(Duration::from_secs(2)));
        }
        other => panic!("{other:?}"),
    }
    assert!(error.is_retryable());
    assert_eq!(record.status, InvocationStatus::RateLimited);
    assert_eq!(record.peak_memory_bytes, 0, "nothing was instantiated");
    // The limiter saw every key, not one global one.
    assert_eq!(
        *budget.seen.lock().unwrap(),
        vec!["test/hello/bob".to_string(), "test/hello/-".to_string()]
    );
}

#[tokio::test]
async fn a_broken_rate_limiter_lets_calls_through() {
    let h = harness_with(|b| b.rate_limiter(Arc::new(Broken)));
    let hello = h.deploy("hello", guest("hello"));
    assert_eq!(
        h.engine.execute(&hello, Bytes::new(), None).await.unwrap(),
        "hello, world!\n"
    );
}
