//! The metrics a record makes, through the Prometheus exposition: a warm call's go
//! through handles bound per function, and the points must be the ones an unbound
//! measure would make, across more functions than the table of handles keeps.

use std::time::Duration;

use fn_core::{
    Cid, Error, Function, FunctionDefinition, InvocationContext, InvocationRecord, TrapCode,
    TriggerType,
};
use fn_telemetry::Telemetry;

/// A warm call of `acme/{name}` that ran 1 ms; `instantiated` says whether it got as far
/// as a guest (a refused call did not), `failed` ends it in a trap.
fn warm(name: &str, instantiated: bool, failed: bool) -> InvocationRecord {
    let function = Function::new(FunctionDefinition::new("acme", name), Cid::of(b"wasm"));
    let ctx = InvocationContext::new(TriggerType::Http);
    let mut record = InvocationRecord::start(&function, &ctx, 13, chrono::Utc::now());
    record.duration = Duration::from_millis(1);
    if instantiated {
        record.instantiate_duration = Some(Duration::from_micros(50));
        record.peak_memory_bytes = 1 << 16;
    }
    if failed {
        record.set_outcome(Err(&Error::Trap {
            code: TrapCode::UnreachableCodeReached,
            message: "unreachable".into(),
        }));
    } else {
        record.set_outcome(Ok(13));
    }
    record
}

/// The value of the one line of `metric` whose labels include `faas_name="{name}"`, or
/// `None` when there is no such line.
fn value(text: &str, metric: &str, name: &str) -> Option<f64> {
    let label = format!(r#"faas_name="{name}""#);
    let mut found = text
        .lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) && l.contains(&label));
    let line = found.next()?;
    assert!(found.next().is_none(), "one {metric} line for {name}");
    Some(line.rsplit(' ').next().unwrap().parse().unwrap())
}

#[test]
fn counts_stay_exact_across_more_functions_than_the_bound_handles_keep() {
    let telemetry = Telemetry::builder("fn-tests").prometheus().unwrap().build();
    // 1,500 functions, past the 1,000 whose handles are kept, so the table is emptied
    // and functions are bound again in the second round.
    for _round in 0..2 {
        for n in 0..1_500 {
            telemetry.observe(&warm(&format!("f-{n}"), true, false));
        }
    }
    // One function that fails once and one refused before it ran.
    telemetry.observe(&warm("f-0", true, true));
    telemetry.observe(&warm("never-ran", false, true));
    let text = telemetry.prometheus_text().unwrap();
    for name in ["f-0", "f-999", "f-1000", "f-1499"] {
        assert_eq!(
            value(&text, "faas_invocations_total", name),
            Some(2.0),
            "{name}"
        );
    }
    // Every call is timed, the failed ones too.
    assert_eq!(
        value(&text, "faas_invoke_duration_seconds_count", "f-0"),
        Some(3.0)
    );
    assert_eq!(value(&text, "faas_errors_total", "f-0"), Some(1.0));
    assert_eq!(value(&text, "faas_mem_usage_bytes_count", "f-0"), Some(3.0));
    // A call that never instantiated has no memory point and, never having succeeded,
    // no invocations point either: no false zero.
    assert_eq!(
        value(&text, "faas_mem_usage_bytes_count", "never-ran"),
        None
    );
    assert_eq!(value(&text, "faas_invocations_total", "never-ran"), None);
    assert_eq!(
        value(&text, "faas_invoke_duration_seconds_count", "never-ran"),
        Some(1.0)
    );
    // The engine's own duration is by trigger alone: every call of the run.
    let engine: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("fn_invocation_duration_seconds_count{"))
        .collect();
    assert_eq!(engine.len(), 1, "{engine:?}");
    assert!(engine[0].ends_with(" 3002"), "{engine:?}");
}
