//! Concurrency limits: slots held and given back, the bounded queue, the bounded wait,
//! a function's own limit, and a namespace's share.

use std::time::Duration;

use fn_limits::{Concurrency, ConcurrencyLimits};

fn limits(global: usize, share_percent: u8, max_waiters: usize) -> ConcurrencyLimits {
    ConcurrencyLimits::new(Concurrency {
        global,
        namespace_share_percent: share_percent,
        function_default: None,
        max_waiters,
        max_wait: Duration::from_millis(100),
    })
}

#[tokio::test]
async fn slots_are_held_until_dropped_and_a_full_queue_refuses_at_once() {
    let limits = limits(2, 100, 0);
    let first = limits.acquire("a", "a/f", None).await.unwrap();
    let _second = limits.acquire("b", "b/g", None).await.unwrap();
    let refused = limits.acquire("c", "c/h", None).await.unwrap_err();
    assert_eq!(refused.key, "global");
    assert_eq!(refused.retry_after, Duration::from_secs(1));
    drop(first);
    assert!(limits.acquire("c", "c/h", None).await.is_ok());
}

#[tokio::test]
async fn a_waiter_gets_the_slot_given_back() {
    let limits = limits(1, 100, 4);
    let held = limits.acquire("a", "a/f", None).await.unwrap();
    let waiter = tokio::spawn({
        let limits = limits.clone();
        async move { limits.acquire("b", "b/g", None).await.map(drop) }
    });
    while limits.waiting() == 0 {
        tokio::task::yield_now().await;
    }
    drop(held);
    assert_eq!(waiter.await.unwrap(), Ok(()));
    assert_eq!(limits.waiting(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_wait_is_bounded_and_so_is_the_queue() {
    let limits = limits(1, 100, 1);
    let _held = limits.acquire("a", "a/f", None).await.unwrap();
    let waiter = tokio::spawn({
        let limits = limits.clone();
        async move { limits.acquire("b", "b/g", None).await.map(drop) }
    });
    while limits.waiting() == 0 {
        tokio::task::yield_now().await;
    }
    // The queue holds one: the next call is refused without waiting.
    assert_eq!(
        limits.acquire("c", "c/h", None).await.unwrap_err().key,
        "global"
    );
    // The paused clock jumps to the waiter's deadline once nothing else can run.
    assert_eq!(waiter.await.unwrap().unwrap_err().key, "global");
    assert_eq!(limits.waiting(), 0);
}

#[tokio::test]
async fn a_waiter_that_goes_away_leaves_the_queue() {
    let limits = limits(1, 100, 1);
    let _held = limits.acquire("a", "a/f", None).await.unwrap();
    let mut waiting = Box::pin(limits.acquire("b", "b/g", None));
    assert!(futures_poll(&mut waiting).is_none());
    assert_eq!(limits.waiting(), 1);
    drop(waiting);
    assert_eq!(limits.waiting(), 0);
}

/// Polls `future` once.
fn futures_poll<F: std::future::Future + Unpin>(future: &mut F) -> Option<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::Pin::new(future).poll(&mut cx) {
        std::task::Poll::Ready(output) => Some(output),
        std::task::Poll::Pending => None,
    }
}

#[tokio::test]
async fn a_functions_own_limit_refuses_with_its_key() {
    let limits = limits(8, 100, 0);
    let _one = limits.acquire("a", "a/f", Some(1)).await.unwrap();
    let refused = limits.acquire("a", "a/f", Some(1)).await.unwrap_err();
    assert_eq!(refused.key, "function:a/f");
    assert!(
        limits.acquire("a", "a/g", Some(1)).await.is_ok(),
        "another function"
    );
}

#[tokio::test]
async fn a_flooding_namespace_leaves_the_others_room() {
    let limits = limits(4, 50, 0);
    let mut flood = Vec::new();
    for _ in 0..2 {
        flood.push(limits.acquire("noisy", "noisy/f", None).await.unwrap());
    }
    let refused = limits.acquire("noisy", "noisy/f", None).await.unwrap_err();
    assert_eq!(refused.key, "namespace:noisy");
    let quiet: Vec<_> = [
        limits.acquire("quiet", "quiet/f", None).await,
        limits.acquire("quiet", "quiet/g", None).await,
    ]
    .into_iter()
    .collect::<Result<_, _>>()
    .expect("the quiet namespace still gets its share");
    assert_eq!(quiet.len(), 2);
}

#[tokio::test]
async fn a_share_rounds_up_to_a_whole_slot_and_settings_come_from_the_config() {
    let mut config = fn_core::Config::default();
    config.pooling.slots = 3;
    config.admission.namespace_share_percent = 40; // 1.2 slots: 2
    config.admission.max_waiters = 0;
    let limits = ConcurrencyLimits::new(Concurrency::of(&config));
    let _one = limits.acquire("a", "a/f", None).await.unwrap();
    let _two = limits.acquire("a", "a/f", None).await.unwrap();
    let refused = limits.acquire("a", "a/f", None).await.unwrap_err();
    assert_eq!(refused.kind, fn_limits::KeyKind::Namespace);
    let _three = limits.acquire("b", "b/f", None).await.unwrap();
    assert_eq!(
        limits.acquire("c", "c/f", None).await.unwrap_err().key,
        "global",
        "the pool's three slots are the global limit"
    );
}

/// Spawns `acquire(namespace, function, limit)` and returns once it waits (the waiting
/// count went up: on a current-thread runtime the spawned task runs at the first yield).
async fn spawn_waiter(
    limits: &ConcurrencyLimits,
    namespace: &'static str,
    function: &'static str,
    limit: Option<usize>,
) -> tokio::task::JoinHandle<(
    Result<fn_limits::ConcurrencyPermit, fn_limits::Overloaded>,
    tokio::time::Instant,
)> {
    let before = limits.waiting();
    let task = tokio::spawn({
        let limits = limits.clone();
        async move {
            let got = limits.acquire(namespace, function, limit).await;
            (got, tokio::time::Instant::now())
        }
    });
    tokio::task::yield_now().await;
    assert_eq!(limits.waiting(), before + 1, "{function} waits");
    task
}

/// One deadline for every wait: a call that waits 0.4 s for its function's slot, then
/// 0.4 s for its namespace's, then finds every global slot taken, is refused `max_wait`
/// (1 s) after it asked — not 0.4 + 0.4 + 1 s, as when each wait had its own bound. On
/// a paused clock, so the times are exact.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn contention_at_every_level_is_refused_within_one_max_wait() {
    let limits = ConcurrencyLimits::new(Concurrency {
        global: 4,
        namespace_share_percent: 50, // two slots a namespace
        function_default: None,
        max_waiters: 16,
        max_wait: Duration::from_secs(1),
    });
    let start = tokio::time::Instant::now();
    // a/f's one slot, both of namespace a's, all four global ones.
    let function_holder = limits.acquire("a", "a/f", Some(1)).await.unwrap();
    let namespace_holder = limits.acquire("a", "a/g", None).await.unwrap();
    let _b = limits.acquire("b", "b/x", None).await.unwrap();
    let _c = limits.acquire("c", "c/y", None).await.unwrap();
    // Queued ahead of the call under test, so that each slot given back goes to them.
    let global_queued = spawn_waiter(&limits, "d", "d/z", None).await;
    let namespace_queued = spawn_waiter(&limits, "a", "a/q", None).await;
    let under_test = spawn_waiter(&limits, "a", "a/f", Some(1)).await;

    // 0.4 s: a/f's slot goes to the call under test; the namespace slot to a/q, the
    // global one to d/z. It now waits for a namespace slot.
    tokio::time::advance(Duration::from_millis(400)).await;
    drop(function_holder);
    // The calls woken by the slots given back take them now, at 0.4 s.
    tokio::task::yield_now().await;
    // 0.8 s: the namespace slot goes to it, the global one to a/q (queued for one since
    // 0.4 s). It now waits for a global slot, which nobody gives back.
    tokio::time::advance(Duration::from_millis(400)).await;
    drop(namespace_holder);

    let (got, at) = under_test.await.unwrap();
    let refused = got.unwrap_err();
    assert_eq!(refused.key, "global");
    assert_eq!(
        at - start,
        Duration::from_secs(1),
        "refused at its one deadline"
    );
    // The calls queued ahead each got every slot they waited for, within their wait.
    let (got, at) = global_queued.await.unwrap();
    assert!(got.is_ok());
    assert_eq!(at - start, Duration::from_millis(400));
    let (got, at) = namespace_queued.await.unwrap();
    assert!(got.is_ok());
    assert_eq!(at - start, Duration::from_millis(800));
    assert_eq!(limits.waiting(), 0);
}
