//! The gateway under load and at shutdown, over loopback: a concurrency limit answers
//! 503 with `Retry-After`; a graceful shutdown stops accepting, finishes the call in
//! flight and returns; at the drain deadline a call still running is cancelled and
//! recorded once.

use std::sync::Arc;
use std::time::Duration;

use fn_core::{Config, FunctionDefinition, InvocationLogger, InvocationStatus, MemoryLogger};
use fn_engine::Engine;
use fn_registry::InMemoryRegistry;
use fn_server::gateway::{Gateway, serve};
use tokio::sync::oneshot;

struct Running {
    base: String,
    gateway: Gateway,
    records: Arc<MemoryLogger>,
    stop: Option<oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<std::io::Result<u64>>,
}

/// A gateway served by [`serve`] with `sleepy` (public, sleeps `sleep_ms`, at most one
/// call at once) deployed, and no waiting for a slot.
async fn start(sleep_ms: u64, drain: Duration) -> Running {
    let store = Arc::new(InMemoryRegistry::new());
    let records = Arc::new(MemoryLogger::new());
    let mut config = Config::default();
    config.pooling.slots = 8;
    config.admission.max_waiters = 0;
    let engine = Engine::builder(store.clone())
        .config(config)
        .invocation_logger(records.clone())
        .build()
        .unwrap();
    let mut definition = FunctionDefinition::new("demo", "sleepy");
    definition.public = true;
    definition.max_concurrency = Some(1);
    engine
        .deploy(
            store.as_ref(),
            definition,
            fn_guests::sleeper_wat(sleep_ms).into(),
        )
        .await
        .unwrap();
    let gateway = Gateway::new(engine, store, None, None);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel();
    let served = tokio::spawn(serve(
        listener,
        gateway.clone(),
        async move {
            let _ = stopped.await;
        },
        drain,
    ));
    Running {
        base,
        gateway,
        records,
        stop: Some(stop),
        served,
    }
}

fn sleepy(running: &Running) -> String {
    format!("{}/v1/functions/demo/sleepy/invoke", running.base)
}

/// Waits until `n` invocations are in the gateway (a condition, not a delay).
async fn in_flight(gateway: &Gateway, n: u64) {
    gateway.until(|g| g.in_flight() == n).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_function_answers_503_with_retry_after() {
    // Two calls at once for the one slot, each holding it for a minute if it gets it:
    // one is admitted and runs, the other is refused at once. Which is which is the
    // scheduler's choice (being in the gateway is not yet holding the slot), so the test
    // takes the first to answer, however slow the machine; then the other is cancelled.
    let running = start(60_000, Duration::from_secs(5)).await;
    let client = reqwest::Client::new();
    let calls = [0, 1].map(|_| tokio::spawn(client.post(sleepy(&running)).send()));
    let (answered, _, mut admitted) = futures::future::select_all(calls).await;
    let refused = answered.unwrap().unwrap();
    assert_eq!(refused.status(), 503);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "overloaded");
    admitted.pop().unwrap().abort();
    in_flight(&running.gateway, 0).await;
    running.records.flush().unwrap();
    let statuses: Vec<_> = running
        .records
        .take_all()
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == InvocationStatus::Overloaded)
            .count(),
        1,
        "{statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_finishes_the_call_in_flight() {
    // Four seconds: far longer than the checks below take, so the call is still running
    // when the listener is found closed, and it then finishes within the drain.
    let mut running = start(4_000, Duration::from_secs(30)).await;
    let call = tokio::spawn(reqwest::Client::new().post(sleepy(&running)).send());
    in_flight(&running.gateway, 1).await;

    running.stop.take().unwrap().send(()).unwrap();
    running.gateway.until(Gateway::is_draining).await;
    // No new connection is accepted while the call finishes.
    let address = running.base.trim_start_matches("http://").to_owned();
    let refused = async {
        loop {
            if tokio::net::TcpStream::connect(&address).await.is_err() {
                break;
            }
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), refused)
        .await
        .expect("the listener closes");
    assert_eq!(running.gateway.in_flight(), 1, "the call is still running");

    let answer = call.await.unwrap().unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(&answer.bytes().await.unwrap()[..], b"done");
    assert_eq!(
        running.served.await.unwrap().unwrap(),
        0,
        "nothing abandoned"
    );
    let records = running.records.take_all();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].status, InvocationStatus::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_drain_deadline_the_call_is_cancelled_and_recorded_once() {
    let mut running = start(60_000, Duration::from_millis(200)).await;
    let call = tokio::spawn(reqwest::Client::new().post(sleepy(&running)).send());
    in_flight(&running.gateway, 1).await;
    running.stop.take().unwrap().send(()).unwrap();
    assert_eq!(
        running.served.await.unwrap().unwrap(),
        1,
        "one call abandoned"
    );
    let answer = call.await.unwrap().unwrap();
    assert_eq!(answer.status(), 503);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "unavailable", "{body}");
    running.records.flush().unwrap();
    let records = running.records.take_all();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].status, InvocationStatus::Cancelled);
}
