//! The instruments a warm call touches, bound once per function to its attribute set,
//! so that a call's measures skip the SDK's attribute lookup.
//!
//! Why: an unbound measure hashes its attribute set (SipHash over the trigger, the
//! function's name and its namespace), compares it and takes the SDK's map lock, once
//! per instrument; a successful call touches four, about 5,000 instructions on a warm
//! call (callgrind, `cargo xtask bench`). Here one lookup (foldhash over two short
//! strings, a read lock) finds the function's handles and each measure is a direct
//! update of its aggregator. The points exported are the same: a handle is bound the
//! first time its instrument is measured for the function, as an unbound measure would
//! create its point then, so no zero point appears for what never happened (a function
//! that never succeeded has no `faas.invocations` point).
//!
//! Bound points are never evicted by the SDK while bound; the table is bounded by
//! [`MAX_FUNCTIONS`] (below the SDK's default cardinality limit of 2,000) and is emptied
//! when it is full, so functions deleted long ago do not hold theirs forever.

use std::sync::{OnceLock, PoisonError, RwLock};

use fn_core::{InvocationRecord, TriggerType};
use hashbrown::{Equivalent, HashMap};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{BoundCounter, BoundHistogram, Counter, Histogram};
use opentelemetry_semantic_conventions::attribute as attr;

/// The most functions (per trigger) whose handles are kept; the table is emptied when a
/// new one would pass it.
pub(crate) const MAX_FUNCTIONS: usize = 1_000;

/// The unbound instruments a function's handles are bound from.
pub(crate) struct Sources {
    pub(crate) invoke_duration: Histogram<f64>,
    pub(crate) engine_duration: Histogram<f64>,
    pub(crate) mem_usage: Histogram<u64>,
    pub(crate) invocations: Counter<u64>,
}

/// One function's handles (for one trigger), each bound on its first measure.
#[derive(Default)]
pub(crate) struct Handles {
    invoke_duration: OnceLock<BoundHistogram<f64>>,
    engine_duration: OnceLock<BoundHistogram<f64>>,
    mem_usage: OnceLock<BoundHistogram<u64>>,
    invocations: OnceLock<BoundCounter<u64>>,
}

impl Handles {
    /// Measures a warm call's instruments for `record`: the durations, the peak memory
    /// when the guest was instantiated, and the success count.
    pub(crate) fn measure(&self, sources: &Sources, record: &InvocationRecord) {
        let seconds = record.duration.as_secs_f64();
        self.invoke_duration
            .get_or_init(|| sources.invoke_duration.bind(&attributes(record)))
            .record(seconds);
        // By trigger alone: the per-function latency is `faas.invoke_duration`'s.
        self.engine_duration
            .get_or_init(|| sources.engine_duration.bind(&attributes(record)[..1]))
            .record(seconds);
        if record.instantiate_duration.is_some() {
            self.mem_usage
                .get_or_init(|| sources.mem_usage.bind(&attributes(record)))
                .record(record.peak_memory_bytes);
        }
        if record.status == fn_core::InvocationStatus::Success {
            self.invocations
                .get_or_init(|| sources.invocations.bind(&attributes(record)))
                .add(1);
        }
    }
}

/// A record's attribute set: trigger, function name, namespace (the trigger first, so
/// that `[..1]` is the trigger alone).
pub(crate) fn attributes(record: &InvocationRecord) -> [KeyValue; 3] {
    [
        KeyValue::new(attr::FAAS_TRIGGER, record.trigger.faas_trigger()),
        KeyValue::new(attr::FAAS_NAME, record.function_name.clone()),
        KeyValue::new(super::metrics::NAMESPACE, record.namespace.clone()),
    ]
}

/// The instruments, and the handles of every function measured so far, by trigger,
/// namespace and name.
pub(crate) struct Table {
    sources: Sources,
    functions: RwLock<HashMap<Key, Handles>>,
}

impl Table {
    /// A table with no function yet, binding from `sources`.
    pub(crate) fn new(sources: Sources) -> Table {
        Table {
            sources,
            functions: RwLock::default(),
        }
    }

    /// Measures `record` with its function's handles, binding them on first sight.
    pub(crate) fn measure(&self, record: &InvocationRecord) {
        let key = KeyRef {
            trigger: record.trigger,
            namespace: &record.namespace,
            name: &record.function_name,
        };
        {
            let functions = self
                .functions
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(handles) = functions.get(&key) {
                handles.measure(&self.sources, record);
                return;
            }
        }
        let mut functions = self
            .functions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if functions.len() >= MAX_FUNCTIONS && !functions.contains_key(&key) {
            functions.clear();
        }
        functions
            .entry_ref(&key)
            .or_default()
            .measure(&self.sources, record);
    }

    /// How many functions have handles.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.functions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A function's key in the table. Hashes as [`KeyRef`] does (same fields, same order).
#[derive(Hash, PartialEq, Eq)]
pub(crate) struct Key {
    trigger: TriggerType,
    namespace: Box<str>,
    name: Box<str>,
}

/// A key borrowed from a record, looked up without allocating.
#[derive(Hash)]
struct KeyRef<'a> {
    trigger: TriggerType,
    namespace: &'a str,
    name: &'a str,
}

impl Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.trigger == key.trigger && *self.namespace == *key.namespace && *self.name == *key.name
    }
}

impl From<&KeyRef<'_>> for Key {
    fn from(key: &KeyRef<'_>) -> Key {
        Key {
            trigger: key.trigger,
            namespace: key.namespace.into(),
            name: key.name.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn a_borrowed_key_hashes_and_compares_as_the_owned_one() {
        let borrowed = KeyRef {
            trigger: TriggerType::Cron,
            namespace: "team",
            name: "resize",
        };
        let owned = Key::from(&borrowed);
        let state = hashbrown::DefaultHashBuilder::default();
        assert_eq!(state.hash_one(&borrowed), state.hash_one(&owned));
        assert!(borrowed.equivalent(&owned));
        for (trigger, namespace, name) in [
            (TriggerType::Http, "team", "resize"),
            (TriggerType::Cron, "teams", "resize"),
            (TriggerType::Cron, "team", "resizer"),
            // The fields' boundary is part of the key.
            (TriggerType::Cron, "teamr", "esize"),
        ] {
            let other = KeyRef {
                trigger,
                namespace,
                name,
            };
            assert!(!other.equivalent(&owned), "{trigger} {namespace} {name}");
        }
    }

    #[test]
    fn the_table_is_emptied_when_a_new_function_would_pass_the_bound() {
        use fn_core::{Cid, Function, FunctionDefinition, InvocationContext};
        use opentelemetry::metrics::MeterProvider;

        let provider = opentelemetry_sdk::metrics::SdkMeterProvider::default();
        let meter = provider.meter("test");
        let table = Table::new(Sources {
            invoke_duration: meter.f64_histogram("i").build(),
            engine_duration: meter.f64_histogram("e").build(),
            mem_usage: meter.u64_histogram("m").build(),
            invocations: meter.u64_counter("c").build(),
        });
        let ctx = InvocationContext::new(TriggerType::Http);
        let record = |name: &str| {
            let function = Function::new(FunctionDefinition::new("acme", name), Cid::of(b"x"));
            InvocationRecord::start(&function, &ctx, 0, chrono::Utc::now())
        };
        for n in 0..MAX_FUNCTIONS {
            table.measure(&record(&format!("f-{n}")));
        }
        assert_eq!(table.len(), MAX_FUNCTIONS);
        // A function already there does not empty it.
        table.measure(&record("f-0"));
        assert_eq!(table.len(), MAX_FUNCTIONS);
        table.measure(&record("one-more"));
        assert_eq!(table.len(), 1);
    }
}
