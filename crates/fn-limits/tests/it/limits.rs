//! [`Limits`]: an engine's config behind the admission seam — the rates, then the slots,
//! a function's own limits from its definition, refusals naming the key.

use std::time::Duration;

use fn_core::{
    Admission, AdmissionRequest, Cid, Config, Error, Function, FunctionDefinition,
    InvocationContext, RateQuota,
};
use fn_limits::Limits;

fn function(namespace: &str, name: &str, change: impl FnOnce(&mut FunctionDefinition)) -> Function {
    let mut definition = FunctionDefinition::new(namespace, name);
    change(&mut definition);
    Function::new(definition, Cid::of(name.as_bytes()))
}

fn no_queue() -> Config {
    let mut config = Config::default();
    config.admission.max_waiters = 0;
    config
}

#[tokio::test]
async fn the_default_config_limits_nothing_but_the_pools_slots() {
    let limits = Limits::new(&Config::default());
    let f = function("a", "f", |_| {});
    let mut held = Vec::new();
    for _ in 0..128 {
        held.push(limits.admit_call(&f, Some("x")).await.unwrap());
    }
    assert_eq!(limits.rates().keys_kept(), 0, "no rate, no state");
    let mut config = no_queue();
    config.pooling.slots = 4;
    config.admission.namespace_share_percent = 100;
    let limits = Limits::new(&config);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(limits.admit_call(&f, None).await.unwrap());
    }
    match limits.admit_call(&f, None).await {
        Err(Error::Overloaded { key, retry_after }) => {
            assert_eq!(key, "global");
            assert_eq!(retry_after, Duration::from_secs(1));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn through_the_seam_a_permit_holds_its_slot_until_dropped() {
    let mut config = no_queue();
    config.admission.function_max_concurrent = Some(1);
    let limits: Box<dyn Admission> = Box::new(Limits::new(&config));
    let f = function("shop", "checkout", |_| {});
    let ctx = InvocationContext::default();
    let request = AdmissionRequest {
        function: &f,
        context: &ctx,
    };
    let permit = limits.admit(&request).await.unwrap();
    match limits.admit(&request).await {
        Err(error @ Error::Overloaded { .. }) => {
            assert_eq!(
                error.to_string(),
                "overloaded on `function:shop/checkout`, retry after 1000 ms",
                "a function is named by namespace and name, not its id"
            );
        }
        other => panic!("{other:?}"),
    }
    drop(permit);
    drop(limits.admit(&request).await.unwrap());
}

#[tokio::test]
async fn a_functions_own_limits_replace_the_defaults() {
    let mut config = no_queue();
    config.admission.function_rate = Some(RateQuota::per_second(100));
    config.admission.function_max_concurrent = Some(100);
    let limits = Limits::new(&config);
    let own = function("shop", "report", |d| {
        d.rate = Some(RateQuota::per_second(1).with_burst(2));
        d.max_concurrency = Some(1);
    });
    let first = limits.admit_call(&own, None).await.unwrap();
    match limits.admit_call(&own, None).await {
        Err(Error::Overloaded { key, .. }) => assert_eq!(key, "function:shop/report"),
        other => panic!("{other:?}"),
    }
    drop(first);
    // Two calls of the burst are spent (the refused one counted against the rate).
    match limits.admit_call(&own, None).await {
        Err(Error::RateLimited { key, retry_after }) => {
            assert_eq!(key, "function:shop/report");
            let wait = retry_after.expect("fn-limits always knows the wait");
            assert!(
                wait > Duration::ZERO && wait <= Duration::from_secs(1),
                "{wait:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Other functions keep the defaults.
    let other = function("shop", "list", |_| {});
    let _held: Vec<_> = futures_join(&limits, &other, 10).await;
}

/// `n` permits for `function`, all admitted.
async fn futures_join(
    limits: &Limits,
    function: &Function,
    n: usize,
) -> Vec<fn_limits::ConcurrencyPermit> {
    let mut permits = Vec::with_capacity(n);
    for _ in 0..n {
        permits.push(limits.admit_call(function, None).await.unwrap());
    }
    permits
}
