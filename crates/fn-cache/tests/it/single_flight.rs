//! One load per CID however many callers miss it, as a task of its own.

use std::error::Error as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fn_cache::{Cache, Lookup, Remember};
use fn_core::{Cid, Error};
use tokio::sync::{Barrier, oneshot};

use crate::support::{Blob, TestError, counting, engine_cache};

/// A loader that says when it has started and then waits for `gate`.
fn gated(
    loads: &Arc<AtomicU64>,
    started: oneshot::Sender<()>,
    gate: oneshot::Receiver<()>,
) -> impl FnOnce() -> futures::future::BoxFuture<'static, Result<Blob, TestError>> + use<> {
    let loads = loads.clone();
    move || {
        loads.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let _ = started.send(());
            let _ = gate.await;
            Ok(Blob(b"compiled".to_vec()))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_of_one_cid_load_once() {
    let cache: Cache<Blob, TestError> = Cache::builder(1 << 20).build();
    let cid = Cid::of(b"module");
    let loads = Arc::new(AtomicU64::new(0));
    let (started, started_rx) = oneshot::channel();
    let (gate, gate_rx) = oneshot::channel();
    let loader = Arc::new(Mutex::new(Some(gated(&loads, started, gate_rx))));
    const CALLERS: usize = 20;
    let barrier = Arc::new(Barrier::new(CALLERS));
    let mut callers = Vec::new();
    for _ in 0..CALLERS {
        let (cache, barrier, loader, loads) = (
            cache.clone(),
            barrier.clone(),
            loader.clone(),
            loads.clone(),
        );
        callers.push(tokio::spawn(async move {
            let Lookup::Miss(miss) = cache.lookup(&cid).await else {
                panic!("the value cannot be cached before the gate opens");
            };
            // Every caller has missed before any of them loads.
            barrier.wait().await;
            miss.load(move || {
                // Only the first caller's loader can run; a second would count.
                match loader.lock().unwrap().take() {
                    Some(load) => load(),
                    None => {
                        loads.fetch_add(1, Ordering::SeqCst);
                        Box::pin(async { Err(TestError("a second load".into())) })
                    }
                }
            })
            .await
        }));
    }
    started_rx.await.unwrap();
    gate.send(()).unwrap();
    for caller in callers {
        assert_eq!(caller.await.unwrap().unwrap().0, b"compiled");
    }
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    let stats = cache.stats().await;
    assert_eq!((stats.misses, stats.loads, stats.entries), (20, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_caller_leaving_neither_cancels_the_load_nor_strands_the_others() {
    let cache: Cache<Blob, TestError> = Cache::builder(1 << 20).build();
    let cid = Cid::of(b"module");
    let loads = Arc::new(AtomicU64::new(0));
    let (started, started_rx) = oneshot::channel();
    let (gate, gate_rx) = oneshot::channel();
    let first = {
        let (cache, load) = (cache.clone(), gated(&loads, started, gate_rx));
        tokio::spawn(async move { cache.get_or_try_insert(&cid, load).await })
    };
    started_rx.await.unwrap();
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());

    // A second caller joins the load the first one started; it does not load again.
    let second = {
        let (cache, loads) = (cache.clone(), loads.clone());
        tokio::spawn(async move {
            cache
                .get_or_try_insert(&cid, counting(&loads, b"again"))
                .await
        })
    };
    gate.send(())
        .expect("the load is still waiting for its gate: not cancelled");
    assert_eq!(second.await.unwrap().unwrap().0, b"compiled");
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert!(cache.contains(&cid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_waiter_gets_the_whole_error_and_a_module_that_cannot_compile_stays_refused() {
    let cache = engine_cache(1 << 20);
    let cid = Cid::of(b"broken");
    let (gate, gate_rx) = oneshot::channel::<()>();
    let gate_rx = Arc::new(tokio::sync::Mutex::new(Some(gate_rx)));
    let compiler_text = "failed to parse WebAssembly module\n\nCaused by:\n    magic header not detected: bad magic number (at offset 0x0)";
    let loads = Arc::new(AtomicU64::new(0));
    let mut waiters = Vec::new();
    for _ in 0..10 {
        let (cache, gate_rx, loads) = (cache.clone(), gate_rx.clone(), loads.clone());
        waiters.push(tokio::spawn(async move {
            cache
                .get_or_try_insert(&cid, move || async move {
                    loads.fetch_add(1, Ordering::SeqCst);
                    let gate = gate_rx.lock().await.take();
                    if let Some(gate) = gate {
                        let _ = gate.await;
                    }
                    Err(Error::Execution {
                        function: "f".into(),
                        request_id: "r".into(),
                        source: Box::new(Error::Deploy {
                            cid,
                            message: compiler_text.into(),
                        }),
                    })
                })
                .await
        }));
    }
    gate.send(()).unwrap();
    for waiter in waiters {
        let error = waiter.await.unwrap().unwrap_err();
        // The whole chain, not only the top message.
        let cause = error.source().expect("the cause is kept");
        assert!(cause.to_string().ends_with(compiler_text), "{cause}");
        assert!(matches!(error.root(), Error::Deploy { message, .. } if message == compiler_text));
    }
    // Waiters that arrived after the failure may have loaded again, but each failure
    // is remembered: from now on nothing loads.
    let before = loads.load(Ordering::SeqCst);
    assert!(before >= 1);
    let refusals = cache.stats().await.refusals;
    let refused = cache
        .get_or_try_insert(&cid, || async { panic!("a refused module is not loaded") })
        .await
        .unwrap_err();
    assert!(matches!(refused.root(), Error::Deploy { .. }));
    assert_eq!(loads.load(Ordering::SeqCst), before);
    assert_eq!(cache.stats().await.refusals, refusals + 1);

    // Invalidate forgets it: the next call loads again.
    cache.invalidate(&cid).await;
    let fixed = cache
        .get_or_try_insert(&cid, || async { Ok(Blob(b"fixed".to_vec())) })
        .await
        .unwrap();
    assert_eq!(fixed.0, b"fixed");
}

#[tokio::test]
async fn a_timeout_is_refused_until_it_expires_by_the_caches_clock() {
    let now = Arc::new(Mutex::new(Instant::now()));
    let clock = now.clone();
    let cache: Cache<Blob, Error> = Cache::builder(1 << 20)
        .remember_failures(|error: &Error| match error {
            Error::CompileTimeout { .. } => Remember::For(Duration::from_secs(60)),
            _ => Remember::Never,
        })
        .clock(move || *clock.lock().unwrap())
        .build();
    let cid = Cid::of(b"slow");
    let timeout = || async move {
        Err(Error::CompileTimeout {
            cid: Cid::of(b"slow"),
            limit: Duration::from_secs(30),
        })
    };
    assert!(cache.get_or_try_insert(&cid, timeout).await.is_err());
    *now.lock().unwrap() += Duration::from_secs(59);
    assert!(matches!(
        cache.lookup(&cid).await,
        Lookup::Refused(Error::CompileTimeout { .. })
    ));
    *now.lock().unwrap() += Duration::from_secs(1);
    let loaded = cache
        .get_or_try_insert(&cid, || async { Ok(Blob(b"ok".to_vec())) })
        .await
        .unwrap();
    assert_eq!(loaded.0, b"ok");
    // Failures the policy does not name are not remembered.
    let other = Cid::of(b"fetch fails");
    let unavailable = || async {
        Err(Error::Unavailable {
            reason: "registry down".into(),
        })
    };
    assert!(cache.get_or_try_insert(&other, unavailable).await.is_err());
    assert!(matches!(cache.lookup(&other).await, Lookup::Miss(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_that_panics_fails_its_waiters_and_is_not_remembered() {
    let cache: Cache<Blob, TestError> = Cache::builder(1 << 20).build();
    let cid = Cid::of(b"module");
    let error = cache
        .get_or_try_insert(&cid, || async { panic!("the compiler fell over") })
        .await
        .unwrap_err();
    assert!(error.0.contains("the compiler fell over"), "{error:?}");
    let loaded = cache
        .get_or_try_insert(&cid, || async { Ok(Blob(b"ok".to_vec())) })
        .await
        .unwrap();
    assert_eq!(loaded.0, b"ok");
}
