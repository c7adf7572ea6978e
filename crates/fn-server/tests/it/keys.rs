//! API keys over loopback: made by the admin, each confined to its namespace and role
//! (401 for an unknown token, 403 outside its rights, the existence of private
//! functions never told), the caller recorded as the key's name, revocation at once,
//! and per-caller rates that hold over HTTP without draining the shared ones.

use std::sync::Arc;

use bytes::Bytes;
use fn_core::{Config, InvocationLogger as _, RateQuota, Role};
use fn_engine::Engine;
use fn_registry::{InMemoryRegistry, RecordWriter, WriterOptions};
use fn_server::api::DeploySpec;
use fn_server::client::{Client, ClientError, RecordFilter};
use fn_server::gateway::{Gateway, TOKEN_PREFIX};

const TOKEN: &str = "admin-s3cret";

struct Server {
    base: String,
    writer: Arc<RecordWriter>,
}

impl Server {
    fn admin(&self) -> Client {
        self.with(TOKEN)
    }

    fn with(&self, token: &str) -> Client {
        Client::new(&self.base, Some(token.into())).unwrap()
    }

    fn anonymous(&self) -> Client {
        Client::new(&self.base, None).unwrap()
    }
}

async fn server(config: Config) -> Server {
    let store = Arc::new(InMemoryRegistry::new());
    let writer = Arc::new(RecordWriter::start(store.clone(), WriterOptions::default()).unwrap());
    let engine = Engine::builder(store.clone())
        .config(config)
        .invocation_logger(writer.clone())
        .build()
        .unwrap();
    let router = Gateway::new(engine, store, None, Some(TOKEN.into())).router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Server { base, writer }
}

fn small() -> Config {
    let mut config = Config::default();
    config.pooling.slots = 8;
    config
}

fn status<T: std::fmt::Debug>(result: Result<T, ClientError>) -> u16 {
    match result {
        Err(ClientError::Api { status, .. }) => status,
        other => panic!("not an API error: {other:?}"),
    }
}

/// Makes a key and returns its token.
async fn key(server: &Server, name: &str, namespace: &str, role: Role) -> String {
    let made = server
        .admin()
        .create_key(name, namespace, role)
        .await
        .unwrap();
    assert_eq!(made.key.name, name);
    assert!(made.token.starts_with(TOKEN_PREFIX));
    made.token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_confine_their_holders_to_their_namespace_and_role() {
    let server = server(small()).await;
    let admin = server.admin();
    let private = DeploySpec::default();
    let hello = fn_guests::bytes("hello");
    admin
        .deploy("orders", "greet", &private, hello.clone())
        .await
        .unwrap();
    admin
        .deploy("billing", "greet", &private, hello.clone())
        .await
        .unwrap();

    let invoker = server.with(&key(&server, "shop", "orders", Role::Invoke).await);
    let deployer = server.with(&key(&server, "orders-ci", "orders", Role::Deploy).await);

    // invoke: its namespace's functions, private ones too; nothing else.
    let out = invoker
        .invoke("orders", "greet", Bytes::from("shop"))
        .await
        .unwrap();
    assert_eq!(&out[..], b"hello, shop!\n");
    assert_eq!(
        status(invoker.deploy("orders", "x", &private, hello.clone()).await),
        403
    );
    assert_eq!(status(invoker.list("orders", None, None).await), 403);
    assert_eq!(
        status(invoker.invoke("billing", "greet", Bytes::new()).await),
        403
    );
    // Another namespace's unknown name answers as its private function does...
    assert_eq!(
        status(invoker.invoke("billing", "nothing", Bytes::new()).await),
        403
    );
    // ...and its own namespace's unknown name is a 404: it may list what is there.
    assert_eq!(
        status(invoker.invoke("orders", "nothing", Bytes::new()).await),
        404
    );

    // deploy: manages and invokes its namespace's functions; not another's, no keys.
    let made = deployer
        .deploy("orders", "greet", &private, hello.clone())
        .await
        .unwrap();
    assert_eq!(made.version, 2);
    assert_eq!(
        deployer
            .list("orders", None, None)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    deployer.activate("orders", "greet", 1).await.unwrap();
    assert!(
        deployer
            .invoke("orders", "greet", Bytes::new())
            .await
            .is_ok()
    );
    assert_eq!(
        status(
            deployer
                .deploy("billing", "greet", &private, hello.clone())
                .await
        ),
        403
    );
    assert_eq!(status(deployer.versions("billing", "greet").await), 403);
    assert_eq!(status(deployer.delete("billing", "greet").await), 403);
    assert_eq!(status(deployer.keys().await), 403);
    assert_eq!(
        status(deployer.create_key("mine", "orders", Role::Admin).await),
        403
    );
    assert_eq!(status(deployer.status().await), 403);

    // admin keys are the admin token's equal.
    let root = server.with(&key(&server, "ops", "ops", Role::Admin).await);
    assert!(root.versions("billing", "greet").await.is_ok());
    assert_eq!(root.keys().await.unwrap().len(), 3);

    // A token that is no one's is 401 wherever it goes, a public function included.
    admin
        .deploy("orders", "open", &DeploySpec::public(), hello)
        .await
        .unwrap();
    let stranger = server.with("fnd_not-a-key");
    assert_eq!(
        status(stranger.invoke("orders", "open", Bytes::new()).await),
        401
    );
    assert_eq!(status(stranger.list("orders", None, None).await), 401);
    assert!(
        server
            .anonymous()
            .invoke("orders", "open", Bytes::new())
            .await
            .is_ok()
    );
    assert_eq!(
        status(
            server
                .anonymous()
                .invoke("orders", "greet", Bytes::new())
                .await
        ),
        401
    );
    // Listing keys shows no token.
    let listed = serde_json::to_string(&admin.keys().await.unwrap()).unwrap();
    assert!(!listed.contains(TOKEN_PREFIX), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caller_is_the_keys_name_and_a_removed_key_is_refused_at_once() {
    let server = server(small()).await;
    let admin = server.admin();
    admin
        .deploy(
            "orders",
            "greet",
            &DeploySpec::default(),
            fn_guests::bytes("hello"),
        )
        .await
        .unwrap();
    let token = key(&server, "shop", "orders", Role::Invoke).await;
    let shop = server.with(&token);
    shop.invoke("orders", "greet", Bytes::from("a"))
        .await
        .unwrap();
    admin
        .invoke("orders", "greet", Bytes::from("b"))
        .await
        .unwrap();
    server.writer.flush().unwrap();
    let records = admin
        .records("orders", "greet", &RecordFilter::default())
        .await
        .unwrap();
    let callers: Vec<_> = records.items.iter().map(|r| r.caller.as_deref()).collect();
    assert_eq!(callers, [None, Some("shop")], "newest first");

    admin.delete_key("shop").await.unwrap();
    assert_eq!(
        status(shop.invoke("orders", "greet", Bytes::new()).await),
        401
    );
    assert_eq!(status(admin.delete_key("shop").await), 404);
    // A name is one key at a time; a new key of the name gets a new token.
    let again = key(&server, "shop", "orders", Role::Invoke).await;
    assert_ne!(again, token);
    assert_eq!(
        status(shop.invoke("orders", "greet", Bytes::new()).await),
        401
    );
    assert!(
        server
            .with(&again)
            .invoke("orders", "greet", Bytes::new())
            .await
            .is_ok()
    );
    assert_eq!(
        status(admin.create_key("shop", "orders", Role::Invoke).await),
        409
    );
    assert_eq!(
        status(admin.create_key("Bad Name", "orders", Role::Invoke).await),
        400
    );
}

/// A caller over its own rate is refused (429, its key named) and leaves the global
/// rate to the others: over HTTP, the caller is the key's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callers_rate_holds_over_http_without_draining_the_global_one() {
    let mut config = small();
    // Rates of minutes: no cell comes back while the test runs.
    let per_minute = |n| RateQuota {
        requests: n,
        per: std::time::Duration::from_secs(60),
        burst: n,
    };
    config.admission.caller_rate = Some(per_minute(1));
    config.admission.global_rate = Some(per_minute(4));
    let server = server(config).await;
    let admin = server.admin();
    let public = DeploySpec::public();
    admin
        .deploy("orders", "greet", &public, fn_guests::bytes("hello"))
        .await
        .unwrap();
    let mallory = server.with(&key(&server, "mallory", "orders", Role::Invoke).await);
    let alice = server.with(&key(&server, "alice", "orders", Role::Invoke).await);
    let bob = server.with(&key(&server, "bob", "orders", Role::Invoke).await);

    assert!(
        mallory
            .invoke("orders", "greet", Bytes::new())
            .await
            .is_ok()
    );
    for _ in 0..20 {
        match mallory.invoke("orders", "greet", Bytes::new()).await {
            Err(ClientError::Api {
                status: 429,
                message,
                ..
            }) => {
                assert!(message.contains("caller:mallory"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
    // Three of the four global cells are left: mallory's refusals spent none.
    assert!(alice.invoke("orders", "greet", Bytes::new()).await.is_ok());
    assert!(bob.invoke("orders", "greet", Bytes::new()).await.is_ok());
    match server
        .anonymous()
        .invoke("orders", "greet", Bytes::new())
        .await
    {
        Ok(_) => {}
        other => panic!("the fourth global cell: {other:?}"),
    }
    match server
        .anonymous()
        .invoke("orders", "greet", Bytes::new())
        .await
    {
        Err(ClientError::Api {
            status: 429,
            message,
            ..
        }) => {
            assert!(message.contains("global"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}
