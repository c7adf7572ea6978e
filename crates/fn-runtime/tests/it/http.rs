//! wasi:http components through `Runtime::serve_http`: the request reaches the guest
//! whole (method, path, query, headers, a streamed body), the response comes back as
//! the guest set it with its body streamed, and every way an exchange can go wrong ends
//! typed: a trap before or after the head, a guest that answers an error or nothing, the
//! deadline before the head or during the body, the output limit, a reader gone away,
//! an outbound request.

use std::time::Duration;

use bytes::Bytes;
use fn_core::{Error, OutputStream};
use fn_runtime::{Abi, CompiledModule, Invocation, Outcome, Runtime};
use http_body_util::BodyExt as _;

use crate::support::*;

fn component(name: &str) -> Bytes {
    Bytes::from(fn_guests::component(name))
}

/// What the reader got: the head, and the body or why it was cut.
struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Result<Bytes, String>,
}

fn get(uri: &str) -> http::Request<fn_runtime::RequestBody> {
    http::Request::get(uri)
        .body(fn_runtime::full(Bytes::new()))
        .unwrap()
}

/// Runs one exchange, reading the response as a client would while the guest runs.
async fn exchange(
    runtime: &Runtime,
    module: &CompiledModule,
    invocation: Invocation<'_>,
    request: http::Request<fn_runtime::RequestBody>,
) -> (Outcome, Option<Answer>) {
    let (respond, response) = tokio::sync::oneshot::channel();
    let served = runtime.serve_http(module, invocation, request, respond);
    let read = async {
        let (head, body) = response.await.ok()?.into_parts();
        let body = body
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .map_err(|error| error.to_string());
        Some(Answer {
            status: head.status.as_u16(),
            headers: head.headers,
            body,
        })
    };
    tokio::join!(served, read)
}

async fn routes(runtime: &Runtime) -> CompiledModule {
    let bytes = component("http-routes");
    assert!(fn_runtime::serves_http(&bytes), "told without compiling");
    assert!(!fn_runtime::serves_http(&component("hello")));
    let module = compile(runtime, bytes).await;
    assert_eq!(module.abi(), Abi::ComponentHttp);
    module
}

#[tokio::test]
async fn the_guest_sees_the_request_and_answers_its_response() {
    let runtime = runtime_with(|_| {});
    let module = routes(&runtime).await;
    let (outcome, answer) = exchange(&runtime, &module, invocation(), get("/")).await;
    let answer = answer.expect("a response");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(answer.body.unwrap(), "Hello from a wasi:http function\n");
    outcome.result.unwrap();
    let served = outcome.http.expect("an HTTP outcome");
    assert_eq!(served.status, Some(200));
    assert_eq!(served.body_bytes, 32);
    assert!(outcome.peak_memory_bytes > 0);

    let request = http::Request::put("/json?a=1&b=two")
        .header("x-custom", "value")
        .header("x-many", "1")
        .header("x-many", "2")
        .body(fn_runtime::full(Bytes::new()))
        .unwrap();
    let (_, answer) = exchange(&runtime, &module, invocation(), request).await;
    let seen: serde_json::Value = serde_json::from_slice(&answer.unwrap().body.unwrap()).unwrap();
    assert_eq!(seen["method"], "PUT");
    assert_eq!(seen["path"], "/json");
    assert_eq!(seen["query"], "a=1&b=two");
    assert_eq!(seen["headers"]["x-custom"], "value");
    assert_eq!(seen["authority"], "localhost", "an authority is given");

    let (outcome, answer) = exchange(&runtime, &module, invocation(), get("/status/418")).await;
    let answer = answer.unwrap();
    assert_eq!(answer.status, 418);
    assert_eq!(answer.headers["x-status"], "418");
    assert_eq!(outcome.http.unwrap().status, Some(418));
}

#[tokio::test]
async fn bodies_stream_both_ways() {
    let runtime = runtime_with(|_| {});
    let module = routes(&runtime).await;
    let (_, answer) = exchange(&runtime, &module, invocation(), get("/stream?chunks=3")).await;
    assert_eq!(answer.unwrap().body.unwrap(), "line 0\nline 1\nline 2\n");

    // A body of a megabyte in 64 KiB frames, echoed back as it arrives.
    let frames = (0..16u8).map(|i| {
        Ok::<_, fn_runtime::BoxError>(http_body::Frame::data(Bytes::from(vec![i; 64 << 10])))
    });
    let body = http_body_util::StreamBody::new(futures::stream::iter(frames)).boxed_unsync();
    let request = http::Request::post("/echo").body(body).unwrap();
    let (outcome, answer) = exchange(&runtime, &module, invocation(), request).await;
    let echoed = answer.unwrap().body.unwrap();
    assert_eq!(echoed.len(), 1 << 20);
    assert!(
        echoed
            .chunks(64 << 10)
            .enumerate()
            .all(|(i, c)| c.iter().all(|b| usize::from(*b) == i))
    );
    assert_eq!(outcome.http.unwrap().body_bytes, 1 << 20);
}

#[tokio::test]
async fn a_trap_before_the_head_answers_nothing_and_after_it_cuts_the_body() {
    let runtime = runtime_with(|_| {});
    let module = routes(&runtime).await;
    let (outcome, answer) = exchange(&runtime, &module, invocation(), get("/trap")).await;
    assert!(answer.is_none(), "no head was set");
    assert!(
        matches!(outcome.result, Err(Error::Trap { .. })),
        "{:?}",
        outcome.result
    );
    assert_eq!(outcome.http.unwrap().status, None);

    let (outcome, answer) = exchange(&runtime, &module, invocation(), get("/trap-in-body")).await;
    let answer = answer.expect("the head was sent before the trap");
    assert_eq!(answer.status, 200);
    let cut = answer.body.expect_err("the body is cut, not ended");
    assert!(cut.contains("stopped before finishing"), "{cut}");
    assert!(
        matches!(outcome.result, Err(Error::Trap { .. })),
        "{:?}",
        outcome.result
    );
}

#[tokio::test]
async fn a_guest_that_answers_an_error_or_nothing_breaks_the_contract() {
    let runtime = runtime_with(|_| {});
    let module = routes(&runtime).await;
    let (outcome, answer) = exchange(&runtime, &module, invocation(), get("/fail")).await;
    assert!(answer.is_none());
    match outcome.result {
        Err(Error::Abi { reason }) => assert!(reason.contains("InternalError"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let silent = compile(&runtime, component("http-silent")).await;
    assert_eq!(silent.abi(), Abi::ComponentHttp);
    let (outcome, answer) = exchange(&runtime, &silent, invocation(), get("/")).await;
    assert!(answer.is_none());
    match outcome.result {
        Err(Error::Abi { reason }) => assert!(reason.contains("without setting"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn the_deadline_covers_the_head_and_the_body() {
    let runtime = runtime_with(|_| {});
    let module = routes(&runtime).await;
    let short = with_timeout(Duration::from_millis(300));
    let (outcome, answer) = exchange(&runtime, &module, short, get("/sleep?ms=60000")).await;
    assert!(answer.is_none());
    assert!(
        matches!(outcome.result, Err(Error::Timeout { .. })),
        "{:?}",
        outcome.result
    );

    let (outcome, answer) = exchange(&runtime, &module, short, get("/slow-body?ms=60000")).await;
    let answer = answer.expect("the head left at once");
    assert_eq!(answer.status, 200);
    assert!(answer.body.is_err(), "the body is cut at the deadline");
    assert!(
        matches!(outcome.result, Err(Error::Timeout { .. })),
        "{:?}",
        outcome.result
    );
    let served = outcome.http.expect("measured though the deadline ended it");
    assert_eq!((served.status, served.body_bytes), (Some(200), 6));
}

#[tokio::test]
async fn a_body_over_the_output_limit_is_cut_and_typed() {
    let runtime = runtime_with(|config| config.max_output_bytes = 1 << 20);
    let module = routes(&runtime).await;
    let request = get("/stream?chunks=1000&size=65536");
    let (outcome, answer) = exchange(&runtime, &module, invocation(), request).await;
    let cut = answer.unwrap().body.expect_err("cut at the limit");
    assert!(cut.contains("output limit"), "{cut}");
    match outcome.result {
        Err(Error::OutputTooLarge {
            stream,
            limit_bytes,
        }) => {
            assert_eq!((stream, limit_bytes), (OutputStream::ResponseBody, 1 << 20));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_reader_gone_stops_the_guest_as_cancelled() {
    let runtime = runtime_with(|_| {});
    let module = routes(&runtime).await;
    let (respond, response) = tokio::sync::oneshot::channel();
    let served = runtime.serve_http(&module, invocation(), get("/slow-body?ms=60000"), respond);
    let drop_after_head = async {
        let response = response.await.expect("the head");
        drop(response);
    };
    let (outcome, ()) = tokio::join!(served, drop_after_head);
    assert!(
        matches!(outcome.result, Err(Error::Cancelled { .. })),
        "{:?}",
        outcome.result
    );
}

#[tokio::test]
async fn outbound_requests_are_refused() {
    let runtime = runtime_with(|_| {});
    let module = routes(&runtime).await;
    // A server the guest could reach, were outbound requests sent: none reaches it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let request = get(&format!("/fetch?url={url}"));
    let (outcome, answer) = exchange(&runtime, &module, invocation(), request).await;
    let answer = answer.unwrap();
    let body = String::from_utf8(answer.body.unwrap().to_vec()).unwrap();
    // wstd reports the refusal as the request body's stream closing under it.
    assert_eq!(answer.status, 502, "{body}");
    assert!(body.starts_with("refused:"), "{body}");
    assert_eq!(
        listener.accept().map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::WouldBlock),
        "no connection was made"
    );
    outcome.result.unwrap();
}

#[tokio::test]
async fn invoked_with_an_input_it_is_posted_and_answers_its_body() {
    let runtime = runtime_with(|_| {});
    let module = routes(&runtime).await;
    let out = runtime
        .invoke(&module, invocation(), Bytes::from_static(b"ignored"))
        .await;
    assert_eq!(out.result.unwrap(), "Hello from a wasi:http function\n");
    assert_eq!(out.http.unwrap().status, Some(200));
    // A command is not served a request.
    let command = compile(&runtime, component("hello")).await;
    let (respond, _response) = tokio::sync::oneshot::channel();
    let refused = runtime
        .serve_http(&command, invocation(), get("/"), respond)
        .await;
    assert!(matches!(refused.result, Err(Error::Validation { .. })));
}
