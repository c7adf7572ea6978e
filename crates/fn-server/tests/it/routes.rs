//! Routes over loopback, deployed through the management API as `fnd deploy --route`
//! does: an HTTP function served at its prefix and everything under it (the guest seeing
//! the whole path), the longest prefix first, a clash refused with 409, `/v1` and the
//! probes kept for the gateway, a route only for an HTTP function, and a route that
//! moves with a rollback and is freed by a delete.

use std::sync::Arc;

use fn_core::Config;
use fn_engine::Engine;
use fn_registry::InMemoryRegistry;
use fn_server::api::DeploySpec;
use fn_server::client::{Client, ClientError};
use fn_server::gateway::Gateway;

const TOKEN: &str = "routes-admin";

async fn server() -> (String, Client) {
    let store = Arc::new(InMemoryRegistry::new());
    let mut config = Config::default();
    config.pooling.slots = 8;
    let engine = Engine::builder(store.clone())
        .config(config)
        .build()
        .unwrap();
    let router = Gateway::new(engine, store, None, Some(TOKEN.into())).router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client = Client::new(&base, Some(TOKEN.into())).unwrap();
    (base, client)
}

/// A public function at `route`, told its route in `BASE_PATH` (the example guest
/// strips it to find its own routes).
fn spec(route: Option<&str>) -> DeploySpec {
    let mut spec = DeploySpec::public();
    spec.route = route.map(str::to_owned);
    if let Some(route) = route {
        spec.env.insert("BASE_PATH".into(), route.into());
    }
    spec
}

fn routes_guest() -> Vec<u8> {
    fn_guests::component("http-routes")
}

/// The path the guest saw for `GET base+path`, or the status when it was not served.
async fn seen(base: &str, path: &str) -> Result<String, u16> {
    let response = reqwest::get(format!("{base}{path}")).await.unwrap();
    if response.status() != 200 {
        return Err(response.status().as_u16());
    }
    let seen: serde_json::Value = response.json().await.unwrap();
    let query = seen["query"]
        .as_str()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    Ok(format!("{}{query}", seen["path"].as_str().unwrap()))
}

fn status_of<T: std::fmt::Debug>(result: Result<T, ClientError>) -> u16 {
    match result {
        Err(ClientError::Api { status, .. }) => status,
        other => panic!("not an API error: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_serves_its_prefix_and_moves_with_the_function() {
    let (base, client) = server().await;
    client
        .deploy("web", "shop", &spec(Some("/shop")), routes_guest())
        .await
        .unwrap();
    // The route and everything under it, the whole path and query as sent; not a
    // longer word, not the API's paths.
    assert_eq!(
        seen(&base, "/shop/json?x=1").await,
        Ok("/shop/json?x=1".into())
    );
    assert_eq!(seen(&base, "/shopping/json").await, Err(404));
    assert_eq!(seen(&base, "/v1/nothing").await, Err(404));
    // The route itself is the guest's root; its own 404 names the whole path it saw.
    let root = reqwest::get(format!("{base}/shop")).await.unwrap();
    assert_eq!(
        root.text().await.unwrap(),
        "Hello from a wasi:http function\n"
    );
    let missing = reqwest::get(format!("{base}/shop/nope")).await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.text().await.unwrap(), "no such route: /shop/nope\n");

    // A clash is refused, in any namespace; a longer prefix is another route and wins.
    let clash = client
        .deploy("other", "shop", &spec(Some("/shop")), routes_guest())
        .await;
    assert_eq!(status_of(clash), 409);
    client
        .deploy("web", "cart", &spec(Some("/shop/cart")), routes_guest())
        .await
        .unwrap();
    assert_eq!(
        seen(&base, "/shop/cart/json").await,
        Ok("/shop/cart/json".into())
    );

    // A redeploy moves the route; a rollback moves it back; a delete frees it.
    client
        .deploy("web", "shop", &spec(Some("/store")), routes_guest())
        .await
        .unwrap();
    assert_eq!(seen(&base, "/shop/json").await, Err(404));
    assert_eq!(seen(&base, "/store/json").await, Ok("/store/json".into()));
    client.activate("web", "shop", 1).await.unwrap();
    assert_eq!(seen(&base, "/shop/json").await, Ok("/shop/json".into()));
    assert_eq!(seen(&base, "/store/json").await, Err(404));
    client.delete("web", "shop").await.unwrap();
    assert_eq!(seen(&base, "/shop/json").await, Err(404));
    client
        .deploy("other", "shop", &spec(Some("/shop")), routes_guest())
        .await
        .unwrap();
    assert_eq!(seen(&base, "/shop/json").await, Ok("/shop/json".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_http_function_claims_a_route_and_never_the_gateways_own() {
    let (_, client) = server().await;
    let command = client
        .deploy(
            "web",
            "hello",
            &spec(Some("/hello")),
            fn_guests::bytes("hello"),
        )
        .await;
    assert_eq!(status_of(command), 400);
    for reserved in ["/v1", "/v1/functions", "/healthz", "/metrics"] {
        let refused = client
            .deploy("web", "r", &spec(Some(reserved)), routes_guest())
            .await;
        assert_eq!(status_of(refused), 400, "{reserved}");
    }
}
