//! Precompile, invalidate, close and cache statistics.

use bytes::Bytes;
use fn_core::{Cid, Error, InvocationStatus};

use crate::support::*;

#[tokio::test]
async fn precompile_validates_compiles_and_is_a_noop_when_cached() {
    let h = harness();
    let bytes = guest("hello");
    let cid = Cid::of(&bytes);
    assert!(matches!(
        h.engine.precompile(&cid, Bytes::new()).await,
        Err(Error::Validation { field, .. }) if field == "wasm_bytes"
    ));
    assert!(matches!(
        h.engine.precompile(&Cid::of(b"other"), bytes.clone()).await,
        Err(Error::Integrity { .. })
    ));
    h.engine.precompile(&cid, bytes.clone()).await.unwrap();
    let stats = h.engine.cache_stats();
    assert_eq!(stats.entries, 1);
    assert!(stats.weight_bytes > 0);
    h.engine.precompile(&cid, bytes.clone()).await.unwrap();
    assert_eq!(h.engine.cache_stats().entries, 1);

    // A precompiled module is warm on its first call.
    let hello = h.deploy("hello", bytes);
    h.engine.execute(&hello, Bytes::new(), None).await.unwrap();
    assert!(!h.logger.records()[0].cold_start);
    assert_eq!(h.engine.cache_stats().hits, 1);
}

#[tokio::test]
async fn precompile_keeps_the_compiler_text() {
    let h = harness();
    let bytes = Bytes::from_static(b"\0asm\x01\0\0\0\x01\x05garbage");
    match h.engine.precompile(&Cid::of(&bytes), bytes.clone()).await {
        Err(Error::Deploy { cid, message }) => {
            assert_eq!(cid, Cid::of(&bytes));
            assert!(!message.is_empty());
            assert_ne!(message, "compilation failed");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn invalidate_forces_a_recompile() {
    let h = harness();
    let hello = h.deploy("hello", guest("hello"));
    h.engine.execute(&hello, Bytes::new(), None).await.unwrap();
    assert!(h.engine.invalidate(&hello.wasm_cid));
    assert!(!h.engine.invalidate(&hello.wasm_cid));
    assert_eq!(h.engine.cache_stats().entries, 0);
    h.engine.execute(&hello, Bytes::new(), None).await.unwrap();
    let records = h.logger.records();
    assert!(records[0].cold_start && records[1].cold_start);
}

#[tokio::test]
async fn eviction_is_least_recently_used_by_weight() {
    // Measure one module's weight, then allow two of them.
    let probe = harness();
    let hello = probe.deploy("hello", guest("hello"));
    probe
        .engine
        .execute(&hello, Bytes::new(), None)
        .await
        .unwrap();
    let weight = probe.engine.cache_stats().weight_bytes;

    let h = harness_with(|b| {
        let mut config = test_config();
        config.module_cache_capacity_bytes = weight * 5 / 2;
        b.config(config)
    });
    // Three guests of about the same weight (each a small Rust command).
    let a = h.deploy("a", guest("hello"));
    let b = h.deploy("b", guest("echo"));
    h.engine.execute(&a, Bytes::new(), None).await.unwrap();
    h.engine.execute(&b, Bytes::new(), None).await.unwrap();
    // Touch `a`, so `b` is the least recently used.
    h.engine.execute(&a, Bytes::new(), None).await.unwrap();
    let c = h.deploy("c", guest("upper"));
    h.engine.execute(&c, Bytes::new(), None).await.unwrap();
    let stats = h.engine.cache_stats();
    assert!(stats.weight_bytes <= stats.capacity_bytes);
    assert!(stats.evictions >= 1, "{stats:?}");
    // `a` survived, `b` was evicted.
    h.engine.execute(&a, Bytes::new(), None).await.unwrap();
    h.engine.execute(&b, Bytes::new(), None).await.unwrap();
    let records = h.logger.records();
    let cold: Vec<_> = records
        .iter()
        .map(|r| (r.function_name.as_str(), r.cold_start))
        .collect();
    assert_eq!(
        cold,
        [
            ("a", true),
            ("b", true),
            ("a", false),
            ("c", true),
            ("a", false),
            ("b", true)
        ]
    );
}

#[tokio::test]
async fn close_refuses_later_calls_and_still_records_them() {
    let h = harness();
    let hello = h.deploy("hello", guest("hello"));
    h.engine.execute(&hello, Bytes::new(), None).await.unwrap();
    h.engine.close();
    assert_eq!(h.engine.cache_stats().entries, 0);
    let error = h
        .engine
        .execute(&hello, Bytes::new(), None)
        .await
        .unwrap_err();
    assert!(matches!(error.root(), Error::Unavailable { .. }));
    let records = h.logger.records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].status, InvocationStatus::Error);
    assert!(matches!(
        h.engine.precompile(&hello.wasm_cid, guest("hello")).await,
        Err(Error::Unavailable { .. })
    ));
}

#[tokio::test]
async fn stats_count_hits_and_misses() {
    let h = harness();
    let hello = h.deploy("hello", guest("hello"));
    for _ in 0..3 {
        h.engine.execute(&hello, Bytes::new(), None).await.unwrap();
    }
    let stats = h.engine.cache_stats();
    assert_eq!((stats.entries, stats.hits, stats.misses), (1, 2, 1));
    assert_eq!(
        stats.capacity_bytes,
        test_config().module_cache_capacity_bytes
    );
}
