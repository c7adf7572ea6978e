//! The management API over loopback through [`Client`]: deploy, invoke, redeploy,
//! rollback, versions, records, delete; the admin token on every endpoint; each refused
//! deploy with its status, and nothing kept.

use std::sync::Arc;

use bytes::Bytes;
use fn_core::{Cid, Config, FunctionStore, InvocationLogger, InvocationStatus, Page};
use fn_engine::Engine;
use fn_registry::{InMemoryRegistry, RecordWriter, WriterOptions};
use fn_server::api::DeploySpec;
use fn_server::client::{Client, ClientError, RecordFilter};
use fn_server::gateway::Gateway;

const TOKEN: &str = "admin-s3cret";

struct Server {
    base: String,
    store: Arc<InMemoryRegistry>,
    writer: Arc<RecordWriter>,
}

impl Server {
    fn client(&self) -> Client {
        Client::new(&self.base, Some(TOKEN.into())).unwrap()
    }
}

/// An empty gateway whose records a [`RecordWriter`] keeps in its store, with a 1 MiB
/// module limit.
async fn server() -> Server {
    let store = Arc::new(InMemoryRegistry::new());
    let writer = Arc::new(RecordWriter::start(store.clone(), WriterOptions::default()).unwrap());
    let mut config = Config::default();
    config.pooling.slots = 8;
    config.max_module_bytes = 1 << 20;
    let engine = Engine::builder(store.clone())
        .config(config)
        .invocation_logger(writer.clone())
        .build()
        .unwrap();
    let router = Gateway::new(engine, store.clone(), None, Some(TOKEN.into())).router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Server {
        base,
        store,
        writer,
    }
}

fn guest(name: &str) -> Vec<u8> {
    fn_guests::bytes(name)
}

/// The status and kind of an API error.
fn refusal<T: std::fmt::Debug>(result: Result<T, ClientError>) -> (u16, String) {
    match result {
        Err(ClientError::Api { status, kind, .. }) => (status, kind),
        other => panic!("not an API error: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_invoke_redeploy_rollback_and_delete() {
    let server = server().await;
    let client = server.client();
    let spec = DeploySpec::default();

    let first = client
        .deploy("team", "greet", &spec, guest("hello"))
        .await
        .unwrap();
    assert_eq!(
        (first.namespace.as_str(), first.name.as_str()),
        ("team", "greet")
    );
    assert_eq!(first.version, 1);
    assert_eq!(first.wasm_cid, Cid::of(&guest("hello")));
    let output = client
        .invoke("team", "greet", Bytes::from("ops"))
        .await
        .unwrap();
    assert_eq!(&output[..], b"hello, ops!\n");

    let second = client
        .deploy("team", "greet", &spec, guest("echo"))
        .await
        .unwrap();
    assert_eq!((second.version, second.id.as_str()), (2, first.id.as_str()));
    let output = client
        .invoke("team", "greet", Bytes::from("same bytes"))
        .await
        .unwrap();
    assert_eq!(&output[..], b"same bytes", "version 2 runs");

    let versions = client.versions("team", "greet").await.unwrap();
    let listed: Vec<_> = versions.iter().map(|v| (v.version, v.active)).collect();
    assert_eq!(listed, [(1, false), (2, true)]);

    let rolled = client.activate("team", "greet", 1).await.unwrap();
    assert_eq!(rolled.definition.version, 1);
    assert_eq!(rolled.wasm_cid, first.wasm_cid);
    let output = client
        .invoke("team", "greet", Bytes::from("again"))
        .await
        .unwrap();
    assert_eq!(&output[..], b"hello, again!\n", "version 1 runs again");
    assert_eq!(
        client
            .get("team", "greet")
            .await
            .unwrap()
            .definition
            .version,
        1
    );

    let listing = client.list("team", None, None).await.unwrap();
    assert_eq!(listing.items.len(), 1);
    assert_eq!(
        (
            listing.items[0].active_version,
            listing.items[0].latest_version
        ),
        (1, 2)
    );

    // Every call is recorded, newest first, with the version that ran it.
    server.writer.flush().unwrap();
    let records = client
        .records("team", "greet", &RecordFilter::default())
        .await
        .unwrap();
    let ran: Vec<_> = records.items.iter().map(|r| r.version).collect();
    assert_eq!(ran, [1, 2, 1]);

    let status = client.status().await.unwrap();
    assert_eq!((status.in_flight, status.draining), (0, false));
    assert!(
        ["pooling", "on_demand"].contains(&status.allocator.as_str()),
        "{status:?}"
    );

    client.delete("team", "greet").await.unwrap();
    assert_eq!(
        refusal(client.invoke("team", "greet", Bytes::new()).await),
        (404, "not_found".into())
    );
    assert_eq!(
        refusal(client.versions("team", "greet").await),
        (404, "not_found".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_filtered_by_status_and_paged() {
    let server = server().await;
    let client = server.client();
    client
        .deploy("team", "trap", &DeploySpec::default(), guest("trap"))
        .await
        .unwrap();
    for _ in 0..3 {
        let failed = client.invoke("team", "trap", Bytes::new()).await;
        assert_eq!(refusal(failed), (500, "trap".into()));
    }
    server.writer.flush().unwrap();
    let filter = |status, after| RecordFilter {
        limit: Some(2),
        status: Some(status),
        after,
        since: None,
    };
    let page = client
        .records("team", "trap", &filter(InvocationStatus::Error, None))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert!(
        page.items
            .iter()
            .all(|r| r.status == InvocationStatus::Error)
    );
    let rest = client
        .records("team", "trap", &filter(InvocationStatus::Error, page.next))
        .await
        .unwrap();
    assert_eq!((rest.items.len(), rest.next), (1, None));
    let none = client
        .records("team", "trap", &filter(InvocationStatus::Success, None))
        .await
        .unwrap();
    assert!(none.items.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn management_needs_the_admin_token() {
    let server = server().await;
    server
        .client()
        .deploy("team", "kept", &DeploySpec::default(), guest("hello"))
        .await
        .unwrap();
    for client in [
        Client::new(&server.base, None).unwrap(),
        Client::new(&server.base, Some("admin-s3creT".into())).unwrap(),
    ] {
        let unauthorized = (401, "unauthorized".to_owned());
        let deploy = client
            .deploy("team", "new", &DeploySpec::default(), guest("hello"))
            .await;
        assert_eq!(refusal(deploy), unauthorized);
        assert_eq!(refusal(client.list("team", None, None).await), unauthorized);
        assert_eq!(refusal(client.get("team", "kept").await), unauthorized);
        assert_eq!(refusal(client.versions("team", "kept").await), unauthorized);
        assert_eq!(
            refusal(client.activate("team", "kept", 1).await),
            unauthorized
        );
        let records = client
            .records("team", "kept", &RecordFilter::default())
            .await;
        assert_eq!(refusal(records), unauthorized);
        assert_eq!(refusal(client.delete("team", "kept").await), unauthorized);
        assert_eq!(refusal(client.status().await), unauthorized);
        // Not public: invoking it needs the token too.
        let invoke = client.invoke("team", "kept", Bytes::new()).await;
        assert_eq!(refusal(invoke), unauthorized);
    }
    let raw = reqwest::Client::new()
        .get(format!("{}/v1/functions/team", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.headers()["www-authenticate"], "Bearer");
    // Nothing was changed or made.
    let listed = server.store.list("team", &Page::first(10)).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].latest_version, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_deploy_says_why_and_keeps_nothing() {
    let server = server().await;
    let client = server.client();
    let deploy = |spec: DeploySpec, bytes: Vec<u8>| {
        let client = client.clone();
        async move { client.deploy("team", "f", &spec, bytes).await }
    };
    // Not a module.
    let garbage = deploy(DeploySpec::default(), b"\0asm\x01\0\0\0\x01\xff".to_vec()).await;
    assert_eq!(refusal(garbage), (422, "deploy".into()));
    // A module that imports what the engine does not provide.
    let unknown = r#"(module (import "env" "launch_missiles" (func)) (func (export "_start")))"#;
    let unknown = deploy(DeploySpec::default(), unknown.as_bytes().to_vec()).await;
    assert_eq!(refusal(unknown), (422, "deploy".into()));
    // A definition over the engine's caps, or with a bad name.
    let mut huge = DeploySpec::new();
    huge.max_memory_bytes = 1 << 40;
    assert_eq!(
        refusal(deploy(huge, guest("hello")).await),
        (400, "validation".into())
    );
    let bad_name = client
        .deploy("team", "Bad Name", &DeploySpec::default(), guest("hello"))
        .await;
    assert_eq!(refusal(bad_name), (400, "validation".into()));
    // Over the 1 MiB module limit: 413, before the engine sees it.
    let big = deploy(DeploySpec::default(), vec![0; 2 << 20]).await;
    assert_eq!(refusal(big), (413, "module_too_large".into()));

    // A typo in the definition, or a form without the module.
    let form = |definition: &str, with_module: bool| {
        let mut form = reqwest::multipart::Form::new().text("definition", definition.to_owned());
        if with_module {
            form = form.part("module", reqwest::multipart::Part::bytes(guest("hello")));
        }
        reqwest::Client::new()
            .post(format!("{}/v1/functions/team/f", server.base))
            .bearer_auth(TOKEN)
            .multipart(form)
            .send()
    };
    let typo = form(r#"{"timout":5}"#, true).await.unwrap();
    assert_eq!(typo.status(), 400);
    let body: serde_json::Value = typo.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("unknown field `timout`"), "{message}");
    let missing = form("{}", false).await.unwrap();
    assert_eq!(missing.status(), 400);

    assert!(
        server
            .store
            .list("team", &Page::first(10))
            .await
            .unwrap()
            .items
            .is_empty(),
        "nothing deployed"
    );
    // The active version cannot be deleted alone.
    client
        .deploy("team", "f", &DeploySpec::default(), guest("hello"))
        .await
        .unwrap();
    let active = reqwest::Client::new()
        .delete(format!("{}/v1/functions/team/f/versions/1", server.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(active.status(), 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_input_refused_before_it_is_read_is_still_recorded_once() {
    let server = server().await;
    let client = server.client();
    let spec = DeploySpec::public();
    client
        .deploy("team", "echo", &spec, guest("echo"))
        .await
        .unwrap();
    let url = format!("{}/v1/functions/team/echo/invoke", server.base);
    let http = reqwest::Client::new();
    // Declared over the 6 MiB limit: refused on its length.
    let declared = http
        .post(&url)
        .body(vec![b'x'; (6 << 20) + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), 413);
    // No length declared: refused once it goes past the limit.
    let chunks =
        futures::stream::iter((0..7).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 1 << 20])));
    let streamed = http
        .post(&url)
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), 413);
    let body: serde_json::Value = streamed.json().await.unwrap();
    assert_eq!(body["error"]["kind"], "input_too_large");

    server.writer.flush().unwrap();
    let records = client
        .records("team", "echo", &RecordFilter::default())
        .await
        .unwrap();
    let kinds: Vec<_> = records
        .items
        .iter()
        .map(|r| (r.status, r.error_kind.map(|k| k.as_str())))
        .collect();
    let refused = (InvocationStatus::Error, Some("input_too_large"));
    assert_eq!(kinds, [refused, refused], "one record each");
    assert_eq!(
        records.items[1].input_size,
        (6 << 20) + 1,
        "the size declared"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_deploys_and_invokes_as_a_module_does() {
    let server = server().await;
    let client = server.client();
    let component = fn_guests::component("hello");
    let deployed = client
        .deploy("team", "p2", &DeploySpec::default(), component.clone())
        .await
        .unwrap();
    assert_eq!(deployed.wasm_cid, Cid::of(&component));
    let output = client
        .invoke("team", "p2", Bytes::from("wasip2"))
        .await
        .unwrap();
    assert_eq!(&output[..], b"hello, wasip2!\n");
}
