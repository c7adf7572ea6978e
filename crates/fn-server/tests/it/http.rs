//! HTTP functions through the gateway over loopback: the guest (`http-routes`, written
//! with wstd) is served the real request and its response comes back as it set it;
//! bodies stream both ways; each way an exchange fails has its status and the API's
//! error shape; a private function needs the token, which the guest never sees; `invoke`
//! serves an HTTP function too; one record per exchange with the status it answered.

use std::sync::Arc;
use std::time::Duration;

use fn_core::{Config, FunctionDefinition, InvocationStatus, MemoryLogger};
use fn_engine::Engine;
use fn_registry::InMemoryRegistry;
use fn_server::gateway::{Gateway, REQUEST_ID};
use futures::StreamExt as _;

const TOKEN: &str = "http-token";

struct Server {
    base: String,
    records: Arc<MemoryLogger>,
}

/// A gateway with `routes` (public, `http-routes`, a 2 s timeout), `private` (the same,
/// not public) and `silent` (public, `http-silent`) deployed in `web`.
async fn server() -> Server {
    let store = Arc::new(InMemoryRegistry::new());
    let records = Arc::new(MemoryLogger::new());
    let mut config = Config::default();
    config.pooling.slots = 16;
    config.max_input_bytes = 4 << 20;
    let engine = Engine::builder(store.clone())
        .config(config)
        .invocation_logger(records.clone())
        .build()
        .unwrap();
    for (name, guest, public) in [
        ("routes", "http-routes", true),
        ("private", "http-routes", false),
        ("silent", "http-silent", true),
    ] {
        let mut definition = FunctionDefinition::new("web", name);
        definition.public = public;
        definition.timeout = Duration::from_secs(2);
        let bytes = bytes::Bytes::from(fn_guests::component(guest));
        engine
            .deploy(store.as_ref(), definition, bytes)
            .await
            .unwrap();
    }
    let router = Gateway::new(engine, store, None, Some(TOKEN.into())).router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Server { base, records }
}

impl Server {
    fn url(&self, name: &str, rest: &str) -> String {
        format!("{}/v1/functions/web/{name}/http{rest}", self.base)
    }

    /// The one record of `request_id`, waited for: an exchange is recorded when its body
    /// has been delivered, after the client has its answer.
    async fn record(&self, request_id: &str) -> fn_core::InvocationRecord {
        let records = self.records.clone();
        let id = request_id.to_owned();
        let found =
            tokio::task::spawn_blocking(move || records.wait_for(&id, Duration::from_secs(30)))
                .await
                .unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        found.into_iter().next().unwrap()
    }
}

async fn error_of(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guest_is_served_the_request_and_its_answer_comes_back() {
    let server = server().await;
    let client = reqwest::Client::new();
    let response = client
        .request(
            reqwest::Method::PATCH,
            server.url("routes", "/json?a=1&b=two"),
        )
        .header("x-custom", "value")
        .header("connection", "x-hop")
        .header("x-hop", "private to this connection")
        .header(REQUEST_ID, "req-json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()[REQUEST_ID.as_str()], "req-json");
    let seen: serde_json::Value = response.json().await.unwrap();
    assert_eq!(seen["method"], "PATCH");
    assert_eq!(seen["path"], "/json");
    assert_eq!(seen["query"], "a=1&b=two");
    assert_eq!(seen["headers"]["x-custom"], "value");
    assert!(seen["headers"].get("x-hop").is_none(), "{seen}");
    assert!(seen["headers"].get("connection").is_none(), "{seen}");
    let record = server.record("req-json").await;
    assert_eq!(record.http_status, Some(200));
    assert_eq!(record.trigger, fn_core::TriggerType::Http);
    let line = record.http_request.unwrap();
    assert_eq!(
        (line.method.as_str(), line.path.as_str()),
        ("PATCH", "/json")
    );

    // The root, every method, and the guest's own status and headers.
    let root = client.get(server.url("routes", "")).send().await.unwrap();
    assert_eq!(
        root.text().await.unwrap(),
        "Hello from a wasi:http function\n"
    );
    for method in ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let answer = client
            .request(method.clone(), server.url("routes", "/status/418"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 418, "{method}");
        assert_eq!(answer.headers()["x-status"], "418");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_stream_both_ways() {
    let server = server().await;
    let client = reqwest::Client::new();
    // Three mebibytes sent in chunks with no declared length, echoed as they arrive.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..48u8).map(|i| Ok(vec![i; 64 << 10])).collect();
    let response = client
        .post(server.url("routes", "/echo"))
        .header(REQUEST_ID, "req-echo")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let echoed = response.bytes().await.unwrap();
    assert_eq!(echoed.len(), 3 << 20);
    assert!(
        echoed
            .chunks(64 << 10)
            .enumerate()
            .all(|(i, c)| c.iter().all(|b| usize::from(*b) == i))
    );
    let record = server.record("req-echo").await;
    assert_eq!((record.input_size, record.output_size), (3 << 20, 3 << 20));

    // A streamed answer arrives in pieces.
    let response = client
        .get(server.url("routes", "/stream?chunks=4&size=100000"))
        .send()
        .await
        .unwrap();
    let mut pieces = 0;
    let mut total = 0;
    let mut stream = response.bytes_stream();
    while let Some(piece) = stream.next().await {
        pieces += 1;
        total += piece.unwrap().len();
    }
    assert_eq!(total, 400_000);
    assert!(pieces > 1, "streamed, not one buffer");

    // Over the input limit, declared: 413 before the guest runs.
    let response = client
        .post(server.url("routes", "/count"))
        .body(vec![0u8; 5 << 20])
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.0, 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_has_its_status_and_the_error_shape() {
    let server = server().await;
    let client = reqwest::Client::new();
    let cases = [
        ("routes", "/trap", 500, "trap"),
        ("routes", "/sleep?ms=60000", 504, "timeout"),
        ("routes", "/fail", 502, "abi"),
        ("silent", "/", 502, "abi"),
    ];
    for (name, rest, status, kind) in cases {
        let response = client.get(server.url(name, rest)).send().await.unwrap();
        let (got, body) = error_of(response).await;
        assert_eq!(
            (got, body["error"]["kind"].as_str()),
            (status, Some(kind)),
            "{rest}: {body}"
        );
    }
    // After the head, a trap cuts the body: the client sees the connection fail, not an
    // end (the head may not have left before the cut).
    match client
        .get(server.url("routes", "/trap-in-body"))
        .send()
        .await
    {
        Ok(response) => {
            assert_eq!(response.status(), 200);
            assert!(response.bytes().await.is_err(), "the body was cut");
        }
        Err(error) => assert!(error.is_request(), "{error}"),
    }
    // The deadline during the body cuts it too.
    let response = client
        .get(server.url("routes", "/slow-body?ms=60000"))
        .header(REQUEST_ID, "req-slow")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.is_err(), "the body was cut");
    let record = server.record("req-slow").await;
    assert_eq!(record.status, InvocationStatus::Timeout);
    assert_eq!(record.http_status, Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_function_needs_the_token_which_the_guest_never_sees() {
    let server = server().await;
    let client = reqwest::Client::new();
    let refused = client
        .get(server.url("private", "/json"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let response = client
        .get(server.url("private", "/json"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen: serde_json::Value = response.json().await.unwrap();
    assert!(seen["headers"].get("authorization").is_none(), "{seen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_serves_an_http_function_its_input_as_a_post() {
    let server = server().await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/functions/web/routes/invoke", server.base))
        .body("input")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        "Hello from a wasi:http function\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_and_large_headers_reach_the_guest() {
    let server = server().await;
    let mut request = reqwest::Client::new().get(server.url("routes", "/json"));
    for i in 0..80 {
        request = request.header(format!("x-many-{i}"), format!("value {i}"));
    }
    let large = "v".repeat(32 << 10);
    let response = request.header("x-large", &large).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let seen: serde_json::Value = response.json().await.unwrap();
    for i in 0..80 {
        assert_eq!(seen["headers"][format!("x-many-{i}")], format!("value {i}"));
    }
    assert_eq!(
        seen["headers"]["x-large"].as_str().map(str::len),
        Some(32 << 10)
    );
}

/// A gateway whose input and output limits are 128 MiB, with `routes` deployed.
async fn roomy_server() -> Server {
    let store = Arc::new(InMemoryRegistry::new());
    let records = Arc::new(MemoryLogger::new());
    let mut config = Config::default();
    config.pooling.slots = 4;
    config.max_input_bytes = 128 << 20;
    config.max_output_bytes = 128 << 20;
    let engine = Engine::builder(store.clone())
        .config(config)
        .invocation_logger(records.clone())
        .build()
        .unwrap();
    let mut definition = FunctionDefinition::new("web", "routes");
    definition.public = true;
    definition.timeout = Duration::from_secs(30);
    let bytes = bytes::Bytes::from(fn_guests::component("http-routes"));
    engine
        .deploy(store.as_ref(), definition, bytes)
        .await
        .unwrap();
    let router = Gateway::new(engine, store, None, None).router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Server { base, records }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_mebibytes_stream_both_ways_in_bounded_guest_memory() {
    let server = roomy_server().await;
    let client = reqwest::Client::new();
    // Up: 64 MiB in 64 KiB chunks, with no declared length, counted as it arrives.
    let chunks =
        futures::stream::iter((0..1024).map(|_| Ok::<_, std::io::Error>(vec![7u8; 64 << 10])));
    let response = client
        .post(server.url("routes", "/count"))
        .header(REQUEST_ID, "req-up")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), format!("{}\n", 64 << 20));
    let up = server.record("req-up").await;
    // Down: 64 MiB made as it is sent, read as it arrives.
    let response = client
        .get(server.url("routes", "/stream?chunks=1024&size=65536"))
        .header(REQUEST_ID, "req-down")
        .send()
        .await
        .unwrap();
    let mut total = 0;
    let mut stream = response.bytes_stream();
    while let Some(piece) = stream.next().await {
        total += piece.unwrap().len();
    }
    assert_eq!(total, 64 << 20);
    let down = server.record("req-down").await;
    assert_eq!((up.input_size, down.output_size), (64 << 20, 64 << 20));
    // Neither body was ever whole in the guest: its memory stayed a few MiB.
    for record in [up, down] {
        assert!(
            record.peak_memory_bytes < 8 << 20,
            "{}",
            record.peak_memory_bytes
        );
    }
}
