//! Admission: the engine's limits (fn-limits, from `config.admission`) and the platform's
//! controls are asked before anything is fetched, compiled or instantiated; a refusal is
//! typed and recorded with its key; a slot is held for the invocation's whole life and
//! given back at every end; a broken control lets calls through unless told otherwise.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use fn_core::{
    Cid, Error, ErrorKind, Function, FunctionDefinition, InvocationContext, InvocationStatus,
    OnAdmissionError, RateQuota,
};

use crate::support::*;

/// One call an hour, a burst of one.
fn hourly() -> RateQuota {
    RateQuota {
        requests: 1,
        per: Duration::from_secs(3600),
        burst: 1,
    }
}

/// The invocation of `function`, once its guest runs (its `execute` span opened): boxed,
/// so that dropping it drops the invocation.
async fn started<'a>(
    h: &'a Harness,
    function: &'a Function,
) -> Pin<Box<impl Future<Output = fn_core::Result<Bytes>> + 'a>> {
    let mut spans = fn_guests::watch_spans();
    let mut running = Box::pin(h.engine.execute(function, Bytes::new(), None));
    tokio::select! {
        out = &mut running => panic!("`{}` ended before it ran: {out:?}", function.name()),
        () = spans.opened("execute") => {}
    }
    running
}

/// Runs `function` for `caller` and returns its output.
async fn call(h: &Harness, function: &Function, caller: &str) -> fn_core::Result<Bytes> {
    let ctx = InvocationContext::default().with_caller(caller);
    h.engine.execute(function, Bytes::new(), Some(ctx)).await
}

#[tokio::test]
async fn a_rate_refuses_before_the_module_is_fetched_and_the_refusal_is_recorded() {
    let h = harness_configured(|c| c.admission.caller_rate = Some(hourly()));
    // A function whose module is nowhere: admitted, it fails to fetch; refused, it never
    // gets that far.
    let missing = Function::new(
        FunctionDefinition::new("test", "missing"),
        Cid::of(b"not stored"),
    );
    let error = call(&h, &missing, "bob").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound, "admitted: {error}");
    let (error, record) = failing_as(&h, &missing, "bob").await;
    match error.root() {
        Error::RateLimited { key, retry_after } => {
            assert_eq!(key, "caller:bob");
            let wait = retry_after.expect("the rate computes the wait");
            assert!(wait > Duration::from_secs(3500) && wait <= Duration::from_secs(3600));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(record.status, InvocationStatus::RateLimited);
    assert!(record.error_message.unwrap().contains("`caller:bob`"));
    assert_eq!(record.peak_memory_bytes, 0, "nothing was instantiated");
    assert!(!record.cold_start);

    // Another caller has a quota of its own; a refused call compiled nothing.
    let hello = h.deploy("hello", guest("hello")).await;
    assert_eq!(call(&h, &hello, "carol").await.unwrap(), "hello, world!\n");
    let (error, _) = failing_as(&h, &hello, "carol").await;
    assert_eq!(error.kind(), ErrorKind::RateLimited);
    assert_eq!(
        h.engine.cache_stats().await.loads,
        2,
        "loads for the two admitted calls (the missing module's and carol's), none for a refused one"
    );
}

#[tokio::test]
async fn a_functions_own_rate_replaces_the_engines() {
    let h = harness_configured(|c| c.admission.function_rate = Some(RateQuota::per_second(1000)));
    let hello = h
        .deploy_with("hello", guest("hello"), |d| d.rate = Some(hourly()))
        .await;
    call(&h, &hello, "a").await.unwrap();
    let (error, record) = failing_as(&h, &hello, "b").await;
    assert!(
        matches!(error.root(), Error::RateLimited { key, .. } if key == "function:test/hello"),
        "{error}"
    );
    assert_eq!(record.status, InvocationStatus::RateLimited);
}

#[tokio::test]
async fn a_slot_is_given_back_on_success_failure_and_timeout() {
    // One invocation at a time and no queue: a slot kept would refuse the next call.
    let h = harness_configured(|c| {
        c.admission.max_concurrent = Some(1);
        c.admission.max_waiters = 0;
    });
    let hello = h.deploy("hello", guest("hello")).await;
    let trap = h.deploy("trap", guest("trap")).await;
    let spin = h
        .deploy_with("spin", guest("infinite_loop"), |d| {
            d.timeout = Duration::from_millis(50);
        })
        .await;
    call(&h, &hello, "a").await.unwrap();
    assert_eq!(
        call(&h, &trap, "a").await.unwrap_err().kind(),
        ErrorKind::Trap
    );
    let timeout = call(&h, &spin, "a").await.unwrap_err();
    assert_eq!(timeout.kind(), ErrorKind::Timeout);
    assert_eq!(call(&h, &hello, "a").await.unwrap(), "hello, world!\n");
    let statuses: Vec<_> = h.logger.records().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            InvocationStatus::Success,
            InvocationStatus::Error,
            InvocationStatus::Timeout,
            InvocationStatus::Success
        ]
    );
}

#[tokio::test]
async fn a_running_call_holds_its_slot_until_cancelled_and_the_refusal_is_overloaded() {
    let h = harness_configured(|c| {
        c.admission.max_concurrent = Some(1);
        c.admission.max_waiters = 0;
    });
    let spin = h
        .stored_with("spin", guest("infinite_loop"), |d| {
            d.timeout = Duration::from_secs(30);
        })
        .await;
    let hello = h.stored("hello", guest("hello")).await;
    h.engine
        .precompile(&hello.wasm_cid, guest("hello"))
        .await
        .unwrap();
    let loads = h.engine.cache_stats().await.loads;
    let running = started(&h, &spin).await;
    let (error, record) = failing_as(&h, &hello, "a").await;
    match error.root() {
        Error::Overloaded { key, retry_after } => {
            assert_eq!(key, "global");
            assert_eq!(*retry_after, Duration::from_secs(1));
        }
        other => panic!("{other:?}"),
    }
    assert!(error.is_retryable());
    assert_eq!(record.status, InvocationStatus::Overloaded);
    assert_eq!(record.error_kind, Some(ErrorKind::Overloaded));
    assert_eq!(record.peak_memory_bytes, 0, "refused before its instance");
    // The caller of the spinning call goes away: its slot comes back.
    drop(running);
    assert_eq!(call(&h, &hello, "a").await.unwrap(), "hello, world!\n");
    let stats = h.engine.cache_stats().await;
    assert_eq!(stats.loads, loads + 1, "only the spinning guest compiled");
    let statuses: Vec<_> = h.logger.records().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            InvocationStatus::Overloaded,
            InvocationStatus::Cancelled,
            InvocationStatus::Success
        ]
    );
}

#[tokio::test]
async fn a_call_waits_for_a_slot_given_back() {
    let h = harness_configured(|c| {
        c.admission.max_concurrent = Some(1);
        c.admission.max_wait = Duration::from_secs(60);
    });
    let spin = h
        .deploy_with("spin", guest("infinite_loop"), |d| {
            d.timeout = Duration::from_millis(100);
        })
        .await;
    let hello = h.deploy("hello", guest("hello")).await;
    let running = started(&h, &spin).await;
    // The second call waits in the queue until the first times out.
    let (first, second) = tokio::join!(running, call(&h, &hello, "a"));
    assert_eq!(first.unwrap_err().kind(), ErrorKind::Timeout);
    assert_eq!(second.unwrap(), "hello, world!\n");
}

#[tokio::test]
async fn a_flooding_namespace_leaves_another_its_share() {
    let h = harness_configured(|c| {
        c.admission.max_concurrent = Some(2);
        c.admission.namespace_share_percent = 50;
        c.admission.max_waiters = 0;
    });
    let noisy = h
        .deploy_with("spin", guest("infinite_loop"), |d| {
            d.timeout = Duration::from_secs(30);
        })
        .await;
    let quiet = h
        .engine
        .deploy(
            h.registry.as_ref(),
            FunctionDefinition::new("quiet", "hello"),
            guest("hello"),
        )
        .await
        .unwrap();
    let _running = started(&h, &noisy).await;
    let (error, _) = failing_as(&h, &noisy, "a").await;
    assert!(
        matches!(error.root(), Error::Overloaded { key, .. } if key == "namespace:test"),
        "{error}"
    );
    assert_eq!(call(&h, &quiet, "a").await.unwrap(), "hello, world!\n");
}

#[tokio::test]
async fn the_platforms_controls_come_after_the_engines_and_see_every_key() {
    let budget = Budget::of(1);
    let h = harness_with(|b| b.admission(budget.clone(), OnAdmissionError::Allow));
    let hello = h.deploy("hello", guest("hello")).await;
    call(&h, &hello, "bob").await.unwrap();
    let (error, record) = failing(&h, &hello, b"").await;
    match error.root() {
        Error::RateLimited { key, retry_after } => {
            assert_eq!(*key, format!("function:{}", hello.id));
            assert_eq!(*retry_after, Some(Duration::from_secs(2)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(record.status, InvocationStatus::RateLimited);
    assert_eq!(
        *budget.seen.lock().unwrap(),
        ["test/hello/bob", "test/hello/-"]
    );
}

#[tokio::test]
async fn a_broken_control_lets_calls_through_or_refuses_them_as_registered() {
    let h = harness_with(|b| b.admission(Budget::broken(), OnAdmissionError::Allow));
    let hello = h.stored("hello", guest("hello")).await;
    assert_eq!(call(&h, &hello, "a").await.unwrap(), "hello, world!\n");

    let h = harness_with(|b| b.admission(Budget::broken(), OnAdmissionError::Refuse));
    let hello = h.stored("hello", guest("hello")).await;
    let (error, record) = failing(&h, &hello, b"").await;
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert_eq!(record.status, InvocationStatus::Error);
    assert_eq!(
        h.engine.cache_stats().await.loads,
        0,
        "refused before compiling"
    );
}

/// As [`failing`], with `caller` in the context.
async fn failing_as(
    h: &Harness,
    function: &Function,
    caller: &str,
) -> (Error, fn_core::InvocationRecord) {
    let ctx = InvocationContext::default().with_caller(caller);
    failing_in(h, function, b"", ctx).await
}
