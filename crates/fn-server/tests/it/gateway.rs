//! The gateway over real HTTP on loopback: invoke's answers (output bytes exactly, the
//! request id, the error shape and status of each failure), the token, the input limit
//! enforced before the body is read, and the probes and metrics.

use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::time::Duration;

use fn_core::{Config, FunctionDefinition, RateQuota};
use fn_engine::Engine;
use fn_registry::InMemoryRegistry;
use fn_server::gateway::{Gateway, REQUEST_ID};
use fn_telemetry::Telemetry;

const TOKEN: &str = "s3cret-token";

struct Server {
    base: String,
}

/// A gateway on a loopback port with `hello` (public), `private_hello`, `spin` (a 100 ms
/// timeout), `trap`, and `once` (one call an hour) deployed.
async fn server() -> Server {
    let store = Arc::new(InMemoryRegistry::new());
    let mut config = Config::default();
    config.pooling.slots = 16;
    config.max_input_bytes = 1 << 16;
    let telemetry = Telemetry::builder("gateway-tests")
        .prometheus()
        .unwrap()
        .build();
    let engine = Engine::builder(store.clone())
        .config(config)
        .invocation_logger(Arc::new(telemetry.clone()))
        .build()
        .unwrap();
    let deploy = |name: &str, guest: &str, change: &dyn Fn(&mut FunctionDefinition)| {
        let mut definition = FunctionDefinition::new("demo", name);
        change(&mut definition);
        let engine = engine.clone();
        let store = store.clone();
        let bytes = bytes::Bytes::from(fn_guests::bytes(guest));
        async move {
            engine
                .deploy(store.as_ref(), definition, bytes)
                .await
                .unwrap()
        }
    };
    deploy("hello", "hello", &|d| d.public = true).await;
    deploy("private_hello", "hello", &|_| {}).await;
    deploy("spin", "infinite_loop", &|d| {
        d.public = true;
        d.timeout = Duration::from_millis(100);
    })
    .await;
    deploy("trap", "trap", &|d| d.public = true).await;
    deploy("once", "hello", &|d| {
        d.public = true;
        d.rate = Some(RateQuota {
            requests: 1,
            per: Duration::from_secs(3600),
            burst: 1,
        });
    })
    .await;
    let router = Gateway::new(engine, store, Some(telemetry), Some(TOKEN.into())).router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Server { base }
}

fn invoke_url(server: &Server, name: &str) -> String {
    format!("{}/v1/functions/demo/{name}/invoke", server.base)
}

async fn error_of(response: reqwest::Response) -> (u16, String, serde_json::Value) {
    let status = response.status().as_u16();
    let id = response.headers()[REQUEST_ID.as_str()]
        .to_str()
        .unwrap()
        .to_owned();
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    (status, id, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_answers_the_output_bytes_and_echoes_the_request_id() {
    let server = server().await;
    let client = reqwest::Client::new();
    let response = client
        .post(invoke_url(&server, "hello"))
        .header(REQUEST_ID.as_str(), "req-42")
        .body("gateway")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()[REQUEST_ID.as_str()], "req-42");
    assert_eq!(&response.bytes().await.unwrap()[..], b"hello, gateway!\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_is_one_json_shape_with_its_status() {
    let server = server().await;
    let client = reqwest::Client::new();
    let cases = [
        ("missing", 404, "not_found"),
        ("spin", 504, "timeout"),
        ("trap", 500, "trap"),
    ];
    for (name, status, kind) in cases {
        let response = client
            .post(invoke_url(&server, name))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let (got, id, body) = error_of(response).await;
        assert_eq!(
            (got, body["error"]["kind"].as_str()),
            (status, Some(kind)),
            "{name}: {body}"
        );
        assert_eq!(body["error"]["request_id"], id.as_str());
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    client
        .post(invoke_url(&server, "once"))
        .send()
        .await
        .unwrap();
    let limited = client
        .post(invoke_url(&server, "once"))
        .send()
        .await
        .unwrap();
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 3000, "about an hour: {retry_after}");
    let (status, _, body) = error_of(limited).await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (429, Some("rate_limited"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_token_an_unknown_function_answers_as_a_private_one() {
    let server = server().await;
    let client = reqwest::Client::new();
    for name in ["missing", "private_hello"] {
        let (status, _, body) =
            error_of(client.post(invoke_url(&server, name)).send().await.unwrap()).await;
        assert_eq!(
            (status, body["error"]["kind"].as_str()),
            (401, Some("unauthorized")),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_gateway_does_not_serve_still_answers_its_error_shape() {
    let server = server().await;
    let client = reqwest::Client::new();
    let (status, _, body) = error_of(
        client
            .get(format!("{}/v1/nothing", server.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (404, Some("no_route"))
    );
    let (status, _, body) = error_of(
        client
            .get(invoke_url(&server, "hello"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (405, Some("method_not_allowed"))
    );
    // Every answer carries the request id, a probe's too.
    let probe = client
        .get(format!("{}/healthz", server.base))
        .header(REQUEST_ID.as_str(), "probe-1")
        .send()
        .await
        .unwrap();
    assert_eq!(probe.headers()[REQUEST_ID.as_str()], "probe-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_function_needs_the_token() {
    let server = server().await;
    let client = reqwest::Client::new();
    let url = invoke_url(&server, "private_hello");
    let (status, _, body) = error_of(client.post(&url).send().await.unwrap()).await;
    assert_eq!(
        (status, body["error"]["kind"].as_str()),
        (401, Some("unauthorized"))
    );
    let wrong = client
        .post(&url)
        .bearer_auth("s3cret-tokeX")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = client
        .post(&url)
        .bearer_auth(TOKEN)
        .body("you")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_over_the_limit_is_refused_before_its_body_is_sent() {
    let server = server().await;
    let address = server.base.trim_start_matches("http://").to_owned();
    // Declare 10 MB and send none of it: the answer comes anyway.
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .write_all(b"POST /v1/functions/demo/hello/invoke HTTP/1.1\r\nhost: x\r\ncontent-length: 10000000\r\n\r\n")
            .unwrap();
        let mut answer = vec![0; 4096];
        let n = stream.read(&mut answer).unwrap();
        String::from_utf8_lossy(&answer[..n]).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("input_too_large"), "{answer}");
    // A body with no declared length is read no further than the limit.
    let client = reqwest::Client::new();
    let chunks = futures_util_stream(vec![vec![b'x'; 1 << 15]; 4]);
    let response = client
        .post(invoke_url(&server, "hello"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

fn futures_util_stream(
    chunks: Vec<Vec<u8>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::iter(chunks.into_iter().map(Ok))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_and_metrics_answer() {
    let server = server().await;
    let client = reqwest::Client::new();
    for path in ["/healthz", "/readyz"] {
        let response = client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    client
        .post(invoke_url(&server, "hello"))
        .send()
        .await
        .unwrap();
    // It names every function invoked: the token, as for the listing.
    let refused = client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let metrics = client
        .get(format!("{}/metrics", server.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(r#"faas_invocations_total{faas_name="hello""#),
        "{text}"
    );
    assert!(text.contains("fn_cache_hits_total"), "{text}");
}
