//! HTTP functions through `Engine::serve_http`: one record per exchange, written when it
//! ends, with the status the guest answered and the bytes both ways; the input limit on
//! a declared and on a streamed body; a caller that leaves before the head or during
//! the body recorded as cancelled; `execute` on an HTTP function; a command refused.

use std::time::Duration;

use bytes::Bytes;
use fn_core::{Error, InvocationContext, InvocationStatus};
use fn_engine::{Function, full_body};
use http_body_util::BodyExt as _;

use crate::support::*;

fn component(name: &str) -> Bytes {
    Bytes::from(fn_guests::component(name))
}

fn get(uri: &str) -> http::Request<fn_engine::RequestBody> {
    http::Request::get(uri)
        .body(full_body(Bytes::new()))
        .unwrap()
}

fn ctx(request_id: &str) -> Option<InvocationContext> {
    Some(InvocationContext {
        request_id: request_id.into(),
        ..InvocationContext::default()
    })
}

/// The record of `request_id`, waited for: it is written when the exchange ends, after
/// the caller has its answer.
async fn record_of(h: &Harness, request_id: &str) -> fn_core::InvocationRecord {
    let logger = h.logger.clone();
    let request_id = request_id.to_owned();
    let records =
        tokio::task::spawn_blocking(move || logger.wait_for(&request_id, Duration::from_secs(30)))
            .await
            .unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    records.into_iter().next().unwrap()
}

async fn routes(h: &Harness) -> Function {
    h.deploy("routes", component("http-routes")).await
}

#[tokio::test]
async fn an_exchange_is_recorded_once_with_its_status_and_sizes() {
    let h = harness();
    let function = routes(&h).await;
    let request = http::Request::post("/echo")
        .header("content-length", "5")
        .body(full_body(Bytes::from_static(b"hello")))
        .unwrap();
    let response = h
        .engine
        .serve_http(&function, request, ctx("echo"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "hello");
    let record = record_of(&h, "echo").await;
    assert_eq!(record.status, InvocationStatus::Success);
    assert_eq!(record.http_status, Some(200));
    let line = record.http_request.expect("the request line");
    assert_eq!(
        (line.method.as_str(), line.path.as_str()),
        ("POST", "/echo")
    );
    assert_eq!((record.input_size, record.output_size), (5, 5));
    assert!(!record.cold_start, "deployed, so warm");

    let response = h
        .engine
        .serve_http(&function, get("/status/404"), ctx("404"))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    drop(response.into_body().collect().await.unwrap());
    let record = record_of(&h, "404").await;
    assert_eq!(record.http_status, Some(404));
    assert_eq!(
        record.status,
        InvocationStatus::Success,
        "the guest answered"
    );
}

#[tokio::test]
async fn a_guest_that_fails_before_its_head_is_an_error_and_a_record() {
    let h = harness();
    let function = routes(&h).await;
    let error = h
        .engine
        .serve_http(&function, get("/trap"), ctx("trap"))
        .await
        .unwrap_err();
    assert!(matches!(error.root(), Error::Trap { .. }), "{error}");
    let record = record_of(&h, "trap").await;
    assert_eq!(record.http_status, None);
    assert_ne!(record.status, InvocationStatus::Success);

    let silent = h.deploy("silent", component("http-silent")).await;
    let error = h
        .engine
        .serve_http(&silent, get("/"), ctx("silent"))
        .await
        .unwrap_err();
    assert!(matches!(error.root(), Error::Abi { .. }), "{error}");
    record_of(&h, "silent").await;
}

#[tokio::test]
async fn the_input_limit_holds_for_declared_and_streamed_bodies() {
    let h = harness_configured(|config| config.max_input_bytes = 1 << 10);
    let function = routes(&h).await;
    // Declared over the limit: refused before the guest runs.
    let request = http::Request::post("/count")
        .header("content-length", "4096")
        .body(full_body(Bytes::from(vec![0; 4096])))
        .unwrap();
    let error = h
        .engine
        .serve_http(&function, request, ctx("declared"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error.root(),
            Error::InputTooLarge {
                size_bytes: 4096,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(record_of(&h, "declared").await.execute_duration, None);

    // Undeclared: the guest's read fails past the limit, and the call is the input's.
    let request = http::Request::post("/count")
        .body(full_body(Bytes::from(vec![0; 4096])))
        .unwrap();
    let outcome = h
        .engine
        .serve_http(&function, request, ctx("streamed"))
        .await;
    if let Ok(response) = outcome {
        let _ = response.into_body().collect().await;
    }
    let record = record_of(&h, "streamed").await;
    assert_eq!(
        record.error_kind,
        Some(fn_core::ErrorKind::InputTooLarge),
        "{record:?}"
    );
}

#[tokio::test]
async fn a_caller_that_leaves_is_recorded_as_cancelled() {
    let h = harness();
    let function = routes(&h).await;
    // Before the head: the future dropped while the guest sleeps.
    let waiting = h
        .engine
        .serve_http(&function, get("/sleep?ms=60000"), ctx("before"));
    drop(waiting);
    let record = record_of(&h, "before").await;
    assert_eq!(record.status, InvocationStatus::Cancelled);

    // After the head: the body dropped before its end.
    let response = h
        .engine
        .serve_http(&function, get("/slow-body?ms=60000"), ctx("during"))
        .await
        .unwrap();
    drop(response);
    let record = record_of(&h, "during").await;
    assert_eq!(record.status, InvocationStatus::Cancelled);
    assert_eq!(record.http_status, Some(200));
}

#[tokio::test]
async fn execute_posts_the_input_and_a_command_is_not_served() {
    let h = harness();
    let function = routes(&h).await;
    let output = h
        .engine
        .execute(&function, Bytes::from_static(b"in"), ctx("x"))
        .await
        .unwrap();
    assert_eq!(output, "Hello from a wasi:http function\n");
    assert_eq!(only(&h.logger, "x").http_status, Some(200));

    let command = h.deploy("hello", component("hello")).await;
    let error = h
        .engine
        .serve_http(&command, get("/"), ctx("cmd"))
        .await
        .unwrap_err();
    assert!(matches!(error.root(), Error::Validation { .. }), "{error}");
    record_of(&h, "cmd").await;
}

#[tokio::test]
async fn the_smallest_http_guest_answers_any_request_with_its_line() {
    let h = harness();
    let hello = h.deploy("hello", component("http-hello")).await;
    for request in [
        get("/"),
        get("/any/path?and=query"),
        http::Request::delete("/x")
            .body(full_body(Bytes::new()))
            .unwrap(),
    ] {
        let response = h.engine.serve_http(&hello, request, None).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/plain");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "Hello from a wasi:http function\n");
    }
}
