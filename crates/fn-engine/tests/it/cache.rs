//! Precompile, invalidate, close, cache statistics, eviction, and the artifact tier.

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
    let stats = h.engine.cache_stats().await;
    assert_eq!(stats.entries, 1);
    assert!(stats.weighted_size_bytes > 0);
    h.engine.precompile(&cid, bytes.clone()).await.unwrap();
    assert_eq!(h.engine.cache_stats().await.entries, 1);

    // A precompiled module is warm on its first call.
    let hello = h.deploy("hello", bytes).await;
    h.engine.execute(&hello, Bytes::new(), None).await.unwrap();
    assert!(!h.logger.records()[0].cold_start);
    assert_eq!(h.engine.cache_stats().await.hits, 1);
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
    let hello = h.stored("hello", guest("hello")).await;
    h.engine.execute(&hello, Bytes::new(), None).await.unwrap();
    assert!(h.engine.invalidate(&hello.wasm_cid).await);
    assert!(!h.engine.invalidate(&hello.wasm_cid).await);
    assert_eq!(h.engine.cache_stats().await.entries, 0);
    h.engine.execute(&hello, Bytes::new(), None).await.unwrap();
    let records = h.logger.records();
    assert!(records[0].cold_start && records[1].cold_start);
}

#[tokio::test]
async fn a_busy_function_survives_one_off_functions_within_the_byte_capacity() {
    // Measure one module's weight, then allow about three of them.
    let probe = harness();
    let hello = probe.deploy("hello", guest("hello")).await;
    probe
        .engine
        .execute(&hello, Bytes::new(), None)
        .await
        .unwrap();
    let weight = probe.engine.cache_stats().await.weighted_size_bytes;
    assert!(
        weight > 10_000,
        "a Rust guest's image weighs more than {weight} bytes"
    );

    let h = harness_with(|b| {
        let mut config = test_config();
        config.module_cache_capacity_bytes = weight * 3;
        b.config(config)
    });
    let busy = h.deploy("busy", guest("hello")).await;
    let warm = h.deploy("warm", guest("echo")).await;
    h.engine.execute(&warm, Bytes::new(), None).await.unwrap();
    h.engine.execute(&busy, Bytes::new(), None).await.unwrap();
    // The cache is now over half full: moka counts how often each module is used from
    // here on (its maintenance runs with the statistics).
    h.engine.cache_stats().await;
    for _ in 0..10 {
        h.engine.execute(&busy, Bytes::new(), None).await.unwrap();
    }
    h.engine.cache_stats().await;
    // Guests of about the same weight, each called once: WAT modules made distinct.
    for i in 0..6 {
        let wat = format!(
            r#"(module (memory (export "memory") {})
                (data (i32.const 0) "{i}{}")
                (func (export "handle") (param i32 i32) (result i64) i64.const 0))"#,
            weight / 65536 + 1,
            "x".repeat(weight as usize)
        );
        let one_off = h.deploy(&format!("one-off-{i}"), Bytes::from(wat)).await;
        h.engine
            .execute(&one_off, Bytes::new(), None)
            .await
            .unwrap();
        h.engine.cache_stats().await;
    }
    let stats = h.engine.cache_stats().await;
    assert!(
        stats.weighted_size_bytes <= stats.capacity_bytes,
        "{stats:?}"
    );
    assert!(stats.evictions >= 3, "{stats:?}");
    h.engine.execute(&busy, Bytes::new(), None).await.unwrap();
    let last = h.logger.records().pop().unwrap();
    assert_eq!(last.function_name, "busy");
    assert!(!last.cold_start, "the busy function was evicted: {stats:?}");
}

#[tokio::test]
async fn close_refuses_later_calls_and_still_records_them() {
    let h = harness();
    let hello = h.deploy("hello", guest("hello")).await;
    h.engine.execute(&hello, Bytes::new(), None).await.unwrap();
    h.engine.close();
    assert_eq!(h.engine.cache_stats().await.entries, 0);
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
    let hello = h.stored("hello", guest("hello")).await;
    for _ in 0..3 {
        h.engine.execute(&hello, Bytes::new(), None).await.unwrap();
    }
    let stats = h.engine.cache_stats().await;
    assert_eq!((stats.entries, stats.hits, stats.misses), (1, 2, 1));
    assert_eq!(
        stats.capacity_bytes,
        test_config().module_cache_capacity_bytes
    );
}

/// An engine whose artifact tier is `dir`, with its logger.
fn engine_on_disk(dir: &std::path::Path) -> Harness {
    let dir = dir.to_path_buf();
    harness_with(move |b| {
        let mut config = test_config();
        config.artifact_cache_dir = Some(dir);
        b.config(config)
    })
}

#[tokio::test]
async fn a_restarted_engine_invokes_a_cached_function_without_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let first = engine_on_disk(dir.path());
    let upper = first.stored("upper", guest("upper")).await;
    let output = first
        .engine
        .execute(&upper, Bytes::from("disk"), None)
        .await
        .unwrap();
    assert_eq!(output, Bytes::from("DISK"));
    first.engine.flush_artifacts().await;
    let stats = first.engine.cache_stats().await;
    assert_eq!(
        (stats.loads, stats.disk_misses, stats.disk_writes),
        (1, 1, 1)
    );
    drop(first);

    let restarted = engine_on_disk(dir.path());
    let upper = restarted.stored("upper", guest("upper")).await;
    let output = restarted
        .engine
        .execute(&upper, Bytes::from("again"), None)
        .await
        .unwrap();
    assert_eq!(output, Bytes::from("AGAIN"));
    let stats = restarted.engine.cache_stats().await;
    assert_eq!(
        (stats.loads, stats.disk_hits),
        (0, 1),
        "nothing compiled: {stats:?}"
    );
    // Still a cold start: the module was not in memory.
    assert!(restarted.logger.records()[0].cold_start);
}

#[tokio::test]
async fn a_damaged_artifact_is_compiled_again_and_a_folder_that_cannot_be_used_is_only_logged() {
    let dir = tempfile::tempdir().unwrap();
    let first = engine_on_disk(dir.path());
    let hello = first.deploy("hello", guest("hello")).await;
    first
        .engine
        .execute(&hello, Bytes::new(), None)
        .await
        .unwrap();
    first.engine.flush_artifacts().await;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    }
    let second = engine_on_disk(dir.path());
    let hello = second.deploy("hello", guest("hello")).await;
    second
        .engine
        .execute(&hello, Bytes::new(), None)
        .await
        .unwrap();
    let stats = second.engine.cache_stats().await;
    assert_eq!((stats.loads, stats.disk_misses, stats.disk_hits), (1, 1, 0));

    // A file where the folder should be: the engine builds, runs, and only logs it.
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"").unwrap();
    let third = engine_on_disk(&file);
    let hello = third.deploy("hello", guest("hello")).await;
    third
        .engine
        .execute(&hello, Bytes::new(), None)
        .await
        .unwrap();
    assert_eq!(third.engine.cache_stats().await.loads, 1);
}

#[tokio::test]
async fn a_large_guest_runs_and_a_restarted_engine_loads_it_from_disk() {
    // json_report is 2 MB+ of wasm built on serde_json, toml and regex: what a real
    // function weighs. Its artifact round-trips whole, and it runs the same from disk.
    let order = Bytes::from_static(
        br#"{"id":"A-1","email":"ana@example.org","currency":"EUR",
            "lines":[{"sku":"ABC-1234","quantity":2,"unit_price":1.5},
                     {"sku":"bad","quantity":0,"unit_price":9.0}],
            "extras":[{"type":"gift","message":"hi","wrap":true,"from":"a","to":"b"}]}"#,
    );
    let bytes = guest("json_report");
    assert!(
        bytes.len() > 2 << 20,
        "json_report is {} bytes",
        bytes.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let h = engine_on_disk(dir.path());
        let report = h.deploy("report", bytes.clone()).await;
        outputs.push(
            h.engine
                .execute(&report, order.clone(), None)
                .await
                .unwrap(),
        );
        h.engine.flush_artifacts().await;
        let stats = h.engine.cache_stats().await;
        outputs.push(Bytes::from(format!("{:?}", (stats.loads, stats.disk_hits))));
    }
    let report = std::str::from_utf8(&outputs[0]).unwrap();
    for expected in [
        r#""total": 3.0"#,
        r#""items": 2"#,
        "line 1: sku `bad` is malformed",
        "line 1: quantity is zero",
        r#""wrap": "true""#,
    ] {
        assert!(report.contains(expected), "no {expected} in {report}");
    }
    assert_eq!(outputs[2], outputs[0], "the same report from the artifact");
    assert_eq!(
        (&outputs[1][..], &outputs[3][..]),
        (&b"(1, 0)"[..], &b"(0, 1)"[..])
    );
}
