//! What the cache holds and has done: counters kept with relaxed atomics (each is exact,
//! a snapshot of several is not taken at one instant), and moka's own entry count and
//! weighted size once its pending work has run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A snapshot of a cache's contents and activity since it was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CacheStats {
    /// Values in memory.
    pub entries: u64,
    /// Their total weight, in bytes as the values report it.
    pub weighted_size_bytes: u64,
    /// The memory tier's capacity, in the same bytes.
    pub capacity_bytes: u64,
    /// Lookups that found the value in memory.
    pub hits: u64,
    /// Lookups that did not (a refused one included).
    pub misses: u64,
    /// Values pushed out of memory to make room, or refused admission by TinyLFU.
    pub evictions: u64,
    /// Loads run (the loader called: a compile, for modules); a disk hit is not a load.
    pub loads: u64,
    /// Loads that failed.
    pub load_failures: u64,
    /// Time spent in loads, summed over every load.
    pub load_time: Duration,
    /// Lookups refused at once by a remembered failure (a negative entry).
    pub refusals: u64,
    /// Failures remembered now.
    pub negative_entries: u64,
    /// Misses in memory served from the disk tier.
    pub disk_hits: u64,
    /// Misses in memory that the disk tier could not serve (absent, damaged, foreign).
    pub disk_misses: u64,
    /// Artifacts written to disk.
    pub disk_writes: u64,
    /// Artifacts that could not be written (full disk, read-only folder), each logged.
    pub disk_write_errors: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) evictions: AtomicU64,
    pub(crate) loads: AtomicU64,
    pub(crate) load_failures: AtomicU64,
    pub(crate) load_nanos: AtomicU64,
    pub(crate) refusals: AtomicU64,
    pub(crate) disk_hits: AtomicU64,
    pub(crate) disk_misses: AtomicU64,
    pub(crate) disk_writes: AtomicU64,
    pub(crate) disk_write_errors: AtomicU64,
}

/// Adds one to `counter`.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn add_load_time(&self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.load_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The counters into `stats` (whose memory-tier fields the caller fills).
    pub(crate) fn fill(&self, stats: &mut CacheStats) {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        stats.hits = read(&self.hits);
        stats.misses = read(&self.misses);
        stats.evictions = read(&self.evictions);
        stats.loads = read(&self.loads);
        stats.load_failures = read(&self.load_failures);
        stats.load_time = Duration::from_nanos(read(&self.load_nanos));
        stats.refusals = read(&self.refusals);
        stats.disk_hits = read(&self.disk_hits);
        stats.disk_misses = read(&self.disk_misses);
        stats.disk_writes = read(&self.disk_writes);
        stats.disk_write_errors = read(&self.disk_write_errors);
    }
}
