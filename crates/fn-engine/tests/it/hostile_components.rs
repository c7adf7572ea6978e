//! Hostile guests in component form, under both allocators (the pool, and on-demand
//! allocation): deep nesting of component instances, a flood of resource handles, an
//! unbounded response stream. Each ends as a typed error with exactly one record, never
//! a hang or a crash. (A compile bomb inside a component: fn-runtime's worker tests.)

use bytes::Bytes;
use fn_core::{Error, ErrorKind, InvocationContext, InvocationStatus};
use fn_engine::full_body;
use http_body_util::BodyExt as _;

use crate::support::*;

/// Both allocators: the pool, then on-demand allocation.
fn harnesses() -> [Harness; 2] {
    [
        harness_configured(|c| c.pooling.enabled = true),
        harness_configured(|c| c.pooling.enabled = false),
    ]
}

fn ctx(request_id: &str) -> Option<InvocationContext> {
    Some(InvocationContext {
        request_id: request_id.into(),
        ..InvocationContext::default()
    })
}

/// A command component `depth` components deep, each level instantiating its child and
/// a core module of its own: `depth + 2` core instances in all.
fn nested_components(depth: usize) -> String {
    let mut inner = "(component (core module $m) (core instance (instantiate $m)))".to_owned();
    for _ in 0..depth {
        inner = format!(
            "(component (component $c {inner}) (instance (instantiate $c)) \
             (core module $m) (core instance (instantiate $m)))"
        );
    }
    format!(
        r#"(component
            (component $nested {inner})
            (instance (instantiate $nested))
            (core module $run (func (export "run") (result i32) i32.const 0))
            (core instance $i (instantiate $run))
            (func $run (result (result)) (canon lift (core func $i "run")))
            (instance $cli (export "run" (func $run)))
            (export "wasi:cli/run@0.2.0" (instance $cli)))"#
    )
}

#[tokio::test]
async fn components_nested_past_the_instance_cap_are_refused_typed() {
    for h in harnesses() {
        let pooling = h.engine.uses_pooling();
        // Within the cap (16 core instances): runs.
        let shallow = h.deploy("shallow", Bytes::from(nested_components(4))).await;
        h.engine
            .execute(&shallow, Bytes::new(), None)
            .await
            .unwrap();
        // Far past it: refused at deploy by the pool, or at instantiation by the
        // store's limiter; never run.
        let deep = nested_components(200);
        let definition = fn_core::FunctionDefinition::new("test", "deep");
        let deployed = h
            .engine
            .deploy(h.registry.as_ref(), definition, Bytes::from(deep.clone()))
            .await;
        match deployed {
            Err(error) => {
                assert_eq!(
                    error.root().kind(),
                    ErrorKind::Deploy,
                    "pooling {pooling}: {error}"
                );
            }
            Ok(function) => {
                let error = h
                    .engine
                    .execute(&function, Bytes::new(), ctx("deep"))
                    .await
                    .unwrap_err();
                assert_eq!(
                    error.root().kind(),
                    ErrorKind::ResourceLimit,
                    "pooling {pooling}: {error}"
                );
                let record = only(&h.logger, "deep");
                assert_eq!(record.error_kind, Some(ErrorKind::ResourceLimit));
                assert_ne!(record.status, InvocationStatus::Success);
            }
        }
    }
}

#[tokio::test]
async fn a_flood_of_resource_handles_ends_at_the_table_cap() {
    for h in harnesses() {
        let routes = h
            .deploy("routes", Bytes::from(fn_guests::component("http-routes")))
            .await;
        let request = http::Request::get("/flood")
            .body(full_body(Bytes::new()))
            .unwrap();
        let error = h
            .engine
            .serve_http(&routes, request, ctx("flood"))
            .await
            .unwrap_err();
        match error.root() {
            Error::ResourceLimit { resource, limit } => {
                assert_eq!((*resource, *limit), ("WASI resources", 256), "{error}");
            }
            other => panic!("{other:?}"),
        }
        let record = wait_for_record(&h, "flood").await;
        assert_eq!(record.error_kind, Some(ErrorKind::ResourceLimit));
    }
}

#[tokio::test]
async fn an_unbounded_response_stream_is_cut_at_the_output_limit() {
    for h in harnesses() {
        let routes = h
            .deploy("routes", Bytes::from(fn_guests::component("http-routes")))
            .await;
        let request = http::Request::get("/stream?chunks=100000000&size=65536")
            .body(full_body(Bytes::new()))
            .unwrap();
        let response = h
            .engine
            .serve_http(&routes, request, ctx("unbounded"))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let cut = response.into_body().collect().await.unwrap_err();
        assert!(cut.to_string().contains("output limit"), "{cut}");
        let record = wait_for_record(&h, "unbounded").await;
        assert_eq!(record.error_kind, Some(ErrorKind::OutputTooLarge));
        assert_eq!(record.http_status, Some(200), "the head had left");
    }
}

/// The one record of `request_id`, waited for (an exchange is recorded when it ends).
async fn wait_for_record(h: &Harness, request_id: &str) -> fn_core::InvocationRecord {
    let logger = h.logger.clone();
    let id = request_id.to_owned();
    let records = tokio::task::spawn_blocking(move || {
        logger.wait_for(&id, std::time::Duration::from_secs(30))
    })
    .await
    .unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    records.into_iter().next().unwrap()
}
