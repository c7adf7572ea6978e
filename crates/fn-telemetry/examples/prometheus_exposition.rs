//! Prints the Prometheus exposition of a few invocations' metrics — a cold success, a
//! warm one, a timeout, a trap, a rate-limited call — and the module cache's figures:
//! what a `/metrics` endpoint serves. CI checks it with `promtool check metrics`:
//!
//! `cargo run -q -p fn-telemetry --example prometheus_exposition | promtool check metrics`
#![allow(clippy::print_stdout, reason = "an example prints its result")]

use std::time::Duration;

use fn_core::{
    Cid, Error, Function, FunctionDefinition, InvocationContext, InvocationRecord, TriggerType,
};
use fn_telemetry::{CacheFigures, RecordFigures, Telemetry};

fn record(name: &str, trigger: TriggerType, outcome: Result<u64, &Error>) -> InvocationRecord {
    let function = Function::new(
        FunctionDefinition::new("acme", name),
        Cid::of(name.as_bytes()),
    );
    let mut record = InvocationRecord::start(
        &function,
        &InvocationContext::new(trigger),
        13,
        chrono::Utc::now(),
    );
    record.duration = Duration::from_micros(42);
    record.instantiate_duration = Some(Duration::from_micros(10));
    record.execute_duration = Some(Duration::from_micros(30));
    record.peak_memory_bytes = 1 << 17;
    record.set_outcome(outcome);
    record
}

fn main() -> Result<(), Error> {
    let telemetry = Telemetry::builder("fnd").prometheus()?.build();
    let mut cold = record("resize", TriggerType::Http, Ok(13));
    cold.cold_start = true;
    cold.compile_duration = Duration::from_millis(40);
    telemetry.observe(&cold);
    telemetry.observe(&record("resize", TriggerType::Http, Ok(13)));
    let timeout = Error::Timeout {
        limit: Duration::from_millis(100),
    };
    telemetry.observe(&record("report", TriggerType::Cron, Err(&timeout)));
    let trap = Error::Trap {
        code: fn_core::TrapCode::UnreachableCodeReached,
        message: "unreachable".into(),
    };
    telemetry.observe(&record("report", TriggerType::Pubsub, Err(&trap)));
    let limited = Error::RateLimited {
        key: "function:acme/resize".into(),
        retry_after: Some(Duration::from_secs(1)),
    };
    let mut refused = record("resize", TriggerType::Http, Err(&limited));
    // Refused before anything ran.
    refused.instantiate_duration = None;
    refused.execute_duration = None;
    refused.peak_memory_bytes = 0;
    telemetry.observe(&refused);
    telemetry.update_cache(CacheFigures {
        entries: 2,
        weighted_size_bytes: 3 << 20,
        hits: 3,
        misses: 2,
        evictions: 0,
        loads: 2,
        disk_hits: 0,
    });
    telemetry.update_records(RecordFigures {
        written: 4,
        dropped: 0,
    });
    print!("{}", telemetry.prometheus_text()?);
    Ok(())
}
