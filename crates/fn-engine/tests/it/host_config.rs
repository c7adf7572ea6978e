//! A function's config values through `wasi:config/store`, from a real component
//! (`config-reader`): read by key and all at once, a missing key absent, and nothing of
//! another function's.

use bytes::Bytes;

use crate::support::*;

fn reader() -> Bytes {
    Bytes::from(fn_guests::component("config-reader"))
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
        h.get(&shop, "/greeting").await,
        (200, "hello, shop\n".into())
    );
    assert_eq!(
        h.get(&shop, "/").await,
        (200, "currency=EUR\ngreeting=hello, shop\n".into())
    );
    assert_eq!(
        h.get(&shop, "/missing").await,
        (404, "no config value missing\n".into())
    );
    assert_eq!(h.get(&bare, "/").await, (200, String::new()));
    assert_eq!(h.get(&bare, "/greeting").await.0, 404);
}
