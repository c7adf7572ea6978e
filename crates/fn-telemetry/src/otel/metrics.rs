//! The invocation metrics: the OpenTelemetry FaaS conventions' instruments with their
//! units and buckets, the engine's finer duration histogram, admission refusals, and
//! the module cache's figures.
//!
//! Why one struct built once: instruments are looked up by name in the meter; building
//! them per call would cost a lock and a map lookup each. A warm call's instruments are
//! measured through handles bound to its function's attribute set (see `bound`); the
//! rest take one attribute set (trigger, function, namespace) built for the call.

use std::sync::{Arc, Mutex, PoisonError};

use fn_core::{InvocationRecord, InvocationStatus};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, Meter};
use opentelemetry_semantic_conventions::{attribute as attr, metric as m};

use super::bound::{self, Sources, Table};

/// The FaaS conventions' bucket boundaries for `faas.invoke_duration` and
/// `faas.init_duration`, in seconds.
pub const FAAS_DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The buckets of the engine's own duration histogram, `fn.invocation.duration`, in
/// seconds: from 1 µs (a warm call takes a few) to 60 s.
pub const ENGINE_DURATION_BUCKETS: [f64; 24] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The buckets of `faas.mem_usage`, in bytes (the conventions give none): powers of
/// four from 64 KiB (one wasm page) to 4 GiB (a 32-bit memory's limit).
pub const MEMORY_BUCKETS: [f64; 9] = [
    65_536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
    268_435_456.0,
    1_073_741_824.0,
    4_294_967_296.0,
];

/// What the module cache holds and has done, as the telemetry reports it (the engine's
/// cache statistics, copied here so this crate needs no cache). Counters are totals
/// since the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheFigures {
    /// Compiled modules in memory.
    pub entries: u64,
    /// Their weighted size, in bytes.
    pub weighted_size_bytes: u64,
    /// Lookups that found the module in memory.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Modules pushed out to make room.
    pub evictions: u64,
    /// Compiles run.
    pub loads: u64,
    /// Misses served from the artifact tier on disk.
    pub disk_hits: u64,
}

/// The instruments, built once.
pub(crate) struct Instruments {
    errors: Counter<u64>,
    timeouts: Counter<u64>,
    coldstarts: Counter<u64>,
    init_duration: Histogram<f64>,
    refusals: Counter<u64>,
    /// The instruments every call touches (invocations, the two durations, memory), with
    /// their handles bound per function.
    bound: Table,
}

impl Instruments {
    pub(crate) fn new(
        meter: &Meter,
        cache: &Given<CacheFigures>,
        records: &Given<RecordFigures>,
    ) -> Instruments {
        let seconds = |name: &'static str, description: &'static str, buckets: &[f64]| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(buckets.to_vec())
                .build()
        };
        register_figures(meter, cache, records);
        Instruments {
            errors: meter
                .u64_counter(m::FAAS_ERRORS)
                .with_unit("{error}")
                .with_description("Number of invocation errors, by error.type")
                .build(),
            timeouts: meter
                .u64_counter(m::FAAS_TIMEOUTS)
                .with_unit("{timeout}")
                .with_description("Number of invocation timeouts")
                .build(),
            coldstarts: meter
                .u64_counter(m::FAAS_COLDSTARTS)
                .with_unit("{coldstart}")
                .with_description("Number of invocation cold starts")
                .build(),
            init_duration: seconds(
                m::FAAS_INIT_DURATION,
                "Duration of a cold start's module preparation (compile or load)",
                &FAAS_DURATION_BUCKETS,
            ),
            refusals: meter
                .u64_counter("fn.admission.refusals")
                .with_unit("{invocation}")
                .with_description("Invocations refused by admission control, by fn.refusal")
                .build(),
            bound: Table::new(Sources {
                invocations: meter
                    .u64_counter(m::FAAS_INVOCATIONS)
                    .with_unit("{invocation}")
                    .with_description("Number of successful invocations")
                    .build(),
                invoke_duration: seconds(
                    m::FAAS_INVOKE_DURATION,
                    "Duration of an invocation, from the engine taking it to its end",
                    &FAAS_DURATION_BUCKETS,
                ),
                mem_usage: meter
                    .u64_histogram(m::FAAS_MEM_USAGE)
                    .with_unit("By")
                    .with_description("Peak linear memory of an invocation's guest")
                    .with_boundaries(MEMORY_BUCKETS.to_vec())
                    .build(),
                engine_duration: seconds(
                    "fn.invocation.duration",
                    "Duration of an invocation, with buckets down to a microsecond",
                    &ENGINE_DURATION_BUCKETS,
                ),
            }),
        }
    }

    /// Counts and measures one invocation: a warm call's instruments through its
    /// function's bound handles (see `bound`), the rarer ones (cold starts, errors,
    /// timeouts, refusals) through the attribute lookup.
    pub(crate) fn record(&self, record: &InvocationRecord) {
        self.bound.measure(record);
        let status = record.status;
        if !record.cold_start && status == InvocationStatus::Success {
            return;
        }
        let attributes = bound::attributes(record);
        if record.cold_start {
            self.coldstarts.add(1, &attributes);
            self.init_duration
                .record(record.compile_duration.as_secs_f64(), &attributes);
        }
        match status {
            InvocationStatus::Success => return,
            InvocationStatus::Timeout => self.timeouts.add(1, &attributes),
            InvocationStatus::RateLimited | InvocationStatus::Overloaded => {
                let [_, name, namespace] = attributes.clone();
                let reason = KeyValue::new(REFUSAL, status.as_str());
                self.refusals.add(1, &[name, namespace, reason]);
            }
            _ => {}
        }
        let error_type = record.error_kind.map_or("_OTHER", |kind| kind.as_str());
        let [trigger, name, namespace] = attributes;
        let error_type = KeyValue::new(attr::ERROR_TYPE, error_type);
        self.errors.add(1, &[trigger, name, namespace, error_type]);
    }
}

/// The function's namespace, on every point.
pub(crate) const NAMESPACE: &str = "fn.namespace";
/// Why admission refused a call: `rate_limited` or `overloaded`.
const REFUSAL: &str = "fn.refusal";

/// Figures the program gives from time to time (the cache's, the record writer's), read
/// at each collection; nothing is reported until some are given (a zero would be a false
/// figure).
pub(crate) type Given<T> = Arc<Mutex<Option<T>>>;

/// What the record writer has done, as the telemetry reports it: totals since the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordFigures {
    /// Records written to the store.
    pub written: u64,
    /// Records dropped (a full queue, a store that kept failing).
    pub dropped: u64,
}

/// Registers an observable counter (`gauge` false) or gauge of `pick` of the last
/// figures given.
fn observe<T: Copy + Send + Sync + 'static>(
    meter: &Meter,
    given: &Given<T>,
    (name, unit, description): (&'static str, &'static str, &'static str),
    gauge: bool,
    pick: fn(&T) -> u64,
) {
    let given = given.clone();
    let callback = move |observer: &dyn opentelemetry::metrics::AsyncInstrument<u64>| {
        if let Some(figures) = *given.lock().unwrap_or_else(PoisonError::into_inner) {
            observer.observe(pick(&figures), &[]);
        }
    };
    if gauge {
        meter
            .u64_observable_gauge(name)
            .with_unit(unit)
            .with_description(description)
            .with_callback(callback)
            .build();
    } else {
        meter
            .u64_observable_counter(name)
            .with_unit(unit)
            .with_description(description)
            .with_callback(callback)
            .build();
    }
}

/// The module cache's and the record writer's figures as observable instruments.
fn register_figures(meter: &Meter, cache: &Given<CacheFigures>, records: &Given<RecordFigures>) {
    let lookups = |name, description| (name, "{lookup}", description);
    observe(
        meter,
        cache,
        lookups("fn.cache.hits", "Module cache lookups found in memory"),
        false,
        |c| c.hits,
    );
    observe(
        meter,
        cache,
        lookups(
            "fn.cache.misses",
            "Module cache lookups not found in memory",
        ),
        false,
        |c| c.misses,
    );
    observe(
        meter,
        cache,
        (
            "fn.cache.evictions",
            "{module}",
            "Modules pushed out of the cache",
        ),
        false,
        |c| c.evictions,
    );
    observe(
        meter,
        cache,
        (
            "fn.cache.loads",
            "{compile}",
            "Compiles run by the module cache",
        ),
        false,
        |c| c.loads,
    );
    observe(
        meter,
        cache,
        lookups(
            "fn.cache.disk_hits",
            "Cache misses served from the artifact tier",
        ),
        false,
        |c| c.disk_hits,
    );
    observe(
        meter,
        cache,
        ("fn.cache.entries", "{module}", "Compiled modules in memory"),
        true,
        |c| c.entries,
    );
    observe(
        meter,
        cache,
        (
            "fn.cache.size",
            "By",
            "Weighted size of the compiled modules in memory",
        ),
        true,
        |c| c.weighted_size_bytes,
    );
    observe(
        meter,
        records,
        (
            "fn.records.written",
            "{record}",
            "Invocation records written to the store",
        ),
        false,
        |r| r.written,
    );
    observe(
        meter,
        records,
        (
            "fn.records.dropped",
            "{record}",
            "Invocation records dropped: a full queue, a failing store",
        ),
        false,
        |r| r.dropped,
    );
}
