//! A function's config values through `wasi:config/store`, from a real component
//! (`config-reader`): read by key and all at once, a missing key absent, and nothing of
//! another function's.

use bytes::Bytes;
use fn_engine::full_body;
use http_body_util::BodyExt as _;

use crate::support::*;

fn reader() -> Bytes {
    Bytes::from(fn_guests::component("config-reader"))
}

async fn get(h: &Harness, function: &fn_engine::Function, path: &str) -> (u16, String) {
    let request = http::Request::get(path)
        .body(full_body(Bytes::new()))
        .unwrap();
    let response = h.engine.serve_http(function, request, None).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn a_component_reads_its_own_config_values_and_no_others() {
    let h = harness();
    let shop = h
        .deploy_with("shop", reader(), |d| {
            d.config.insert("greeting".into(), "hello, shop".into());
            d.config.insert("currency".into(), "EUR".into());
        })
        .await;
    let bare = h.deploy("bare", reader()).await;
    assert_eq!(
        get(&h, &shop, "/greeting").await,
        (200, "hello, shop\n".into())
    );
    assert_eq!(
        get(&h, &shop, "/").await,
        (200, "currency=EUR\ngreeting=hello, shop\n".into())
    );
    assert_eq!(
        get(&h, &shop, "/missing").await,
        (404, "no config value missing\n".into())
    );
    assert_eq!(get(&h, &bare, "/").await, (200, String::new()));
    assert_eq!(get(&h, &bare, "/greeting").await.0, 404);
}
