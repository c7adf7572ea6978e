//! The invocation record: every field filled from what the engine measured, and none
//! when records are switched off.

use std::time::Duration;

use bytes::Bytes;
use fn_core::{InvocationContext, InvocationStatus, TriggerType};

use crate::support::*;

#[tokio::test]
async fn success_record_has_every_field() {
    let h = harness();
    let echo = h.stored("echo", guest("echo")).await;
    let ctx = InvocationContext::new(TriggerType::Cron).with_caller("alice");
    let request_id = ctx.request_id.clone();
    let input = Bytes::from(vec![b'z'; 100_000]);
    h.engine.execute(&echo, input, Some(ctx)).await.unwrap();
    let record = only(&h.logger, &request_id);
    assert_eq!(record.function_id, echo.id);
    assert_eq!(record.function_name, "echo");
    assert_eq!(record.namespace, "test");
    assert_eq!(record.version, 1);
    assert_eq!(record.trigger, TriggerType::Cron);
    assert_eq!(record.caller.as_deref(), Some("alice"));
    assert_eq!(record.input_size, 100_000);
    assert_eq!(record.output_size, 100_000);
    assert_eq!(record.status, InvocationStatus::Success);
    assert_eq!(record.error_message, None);
    assert!(
        record.peak_memory_bytes >= 100_000,
        "{}",
        record.peak_memory_bytes
    );
    assert!(record.cold_start, "the first call compiles");
    assert!(record.compile_duration > Duration::ZERO);
    assert!(
        record.compile_duration < record.duration,
        "part of the call"
    );
    assert_eq!(
        record.max_memory_bytes,
        64 << 20,
        "the definition's default"
    );
    assert!(record.duration > Duration::ZERO);
    assert_eq!(
        (record.completed_at - record.started_at).to_std().unwrap(),
        record.duration,
        "the two instants are the duration apart"
    );
    assert_eq!(record.wasm_cid, echo.wasm_cid);
    assert_eq!(record.trace, None, "no trace context was given");
    let instantiate = record.instantiate_duration.expect("a sandbox was made");
    let execute = record.execute_duration.expect("the guest ran");
    assert!(
        record.compile_duration + instantiate + execute <= record.duration,
        "the phases are parts of the call: {record:?}"
    );

    let trace = fn_core::TraceContext::parse(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        Some("congo=t61rcWkgMzE"),
    )
    .expect("a valid traceparent");
    let ctx = InvocationContext::default().with_trace(trace.clone());
    let request_id = ctx.request_id.clone();
    h.engine
        .execute(&echo, Bytes::new(), Some(ctx))
        .await
        .unwrap();
    let warm = only(&h.logger, &request_id);
    assert!(!warm.cold_start, "the second call is warm");
    assert_eq!(warm.compile_duration, Duration::ZERO);
    assert_eq!(
        warm.trace,
        Some(trace),
        "the caller's trace context is kept"
    );
}

#[tokio::test]
async fn records_can_be_switched_off() {
    let h = harness_with(|b| {
        let mut config = test_config();
        config.log_invocations = false;
        b.config(config)
    });
    let hello = h.deploy("hello", guest("hello")).await;
    h.engine.execute(&hello, Bytes::new(), None).await.unwrap();
    assert!(h.logger.records().is_empty());
}
