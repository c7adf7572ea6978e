//! Hit ratios of three eviction policies on Zipf-distributed traces of module ids:
//! this crate's cache (moka, TinyLFU admission), plain LRU, and the Go engine's policy
//! (when full, evict an arbitrary entry: Go's map iteration order, i.e. random).
//!
//! `cargo run --release -p fn-cache --example hit_ratio` prints a Markdown table for
//! docs/performance.md. Every module weighs the same, so the capacity is a number of
//! modules; a fixed seed makes every run replay the same traces.

#![allow(clippy::print_stdout, reason = "the report is this program's output")]

use std::collections::HashMap;
use std::num::NonZeroUsize;

use fn_cache::{Cache, LoadPanicked, Weigh};
use fn_core::Cid;
use rand::rngs::SmallRng;
use rand::{RngExt as _, SeedableRng as _};
use rand_distr::{Distribution as _, Zipf};

/// Distinct modules in the working set.
const MODULES: u64 = 10_000;
/// Requests per trace.
const REQUESTS: usize = 200_000;
/// Capacities, as fractions of the working set.
const CAPACITIES: [f64; 3] = [0.01, 0.05, 0.10];
/// Zipf exponents: 0.6 is a flat platform, 1.2 a few very hot functions.
const SKEWS: [f64; 4] = [0.6, 0.8, 1.0, 1.2];

struct Unit;

impl Weigh for Unit {
    fn weight_bytes(&self) -> u64 {
        1
    }
}

#[derive(Clone, Debug)]
struct NoError;

impl From<LoadPanicked> for NoError {
    fn from(_: LoadPanicked) -> NoError {
        NoError
    }
}

fn trace(skew: f64, seed: u64) -> Vec<u64> {
    let zipf = Zipf::new(MODULES as f64, skew).expect("valid Zipf parameters");
    let mut rng = SmallRng::seed_from_u64(seed);
    // Ranks shuffled onto ids, so a module's popularity has nothing to do with its id.
    let mut ids: Vec<u64> = (0..MODULES).collect();
    for i in (1..ids.len()).rev() {
        ids.swap(i, rng.random_range(0..=i));
    }
    (0..REQUESTS)
        .map(|_| ids[zipf.sample(&mut rng) as usize - 1])
        .collect()
}

async fn fn_cache_hits(trace: &[u64], cids: &[Cid], capacity: u64) -> f64 {
    let cache: Cache<Unit, NoError> = Cache::builder(capacity).build();
    for &id in trace {
        let cid = &cids[id as usize];
        cache
            .get_or_try_insert(cid, || async { Ok(Unit) })
            .await
            .ok();
    }
    let stats = cache.stats().await;
    stats.hits as f64 / (stats.hits + stats.misses) as f64
}

fn lru_hits(trace: &[u64], capacity: u64) -> f64 {
    let mut cache = lru::LruCache::new(NonZeroUsize::new(capacity as usize).unwrap());
    let mut hits = 0;
    for &id in trace {
        if cache.get(&id).is_some() {
            hits += 1;
        } else {
            cache.put(id, ());
        }
    }
    hits as f64 / trace.len() as f64
}

fn random_eviction_hits(trace: &[u64], capacity: u64, seed: u64) -> f64 {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut slots: Vec<u64> = Vec::new();
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut hits = 0;
    for &id in trace {
        if index.contains_key(&id) {
            hits += 1;
            continue;
        }
        if slots.len() as u64 >= capacity {
            let victim = rng.random_range(0..slots.len());
            index.remove(&slots[victim]);
            let last = slots.pop().expect("not empty");
            if victim < slots.len() {
                slots[victim] = last;
                index.insert(last, victim);
            }
        }
        index.insert(id, slots.len());
        slots.push(id);
    }
    hits as f64 / trace.len() as f64
}

#[tokio::main]
async fn main() {
    let cids: Vec<Cid> = (0..MODULES).map(|i| Cid::of(&i.to_le_bytes())).collect();
    println!(
        "{MODULES} modules, {REQUESTS} requests per trace, capacity as a share of the modules\n"
    );
    println!(
        "| Zipf s | capacity | fn-cache (moka TinyLFU) | plain LRU | Go engine (random eviction) |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for skew in SKEWS {
        let trace = trace(skew, 42);
        for share in CAPACITIES {
            let capacity = (MODULES as f64 * share) as u64;
            let ours = fn_cache_hits(&trace, &cids, capacity).await;
            let lru = lru_hits(&trace, capacity);
            let random = random_eviction_hits(&trace, capacity, 7);
            println!(
                "| {skew} | {:.0}% ({capacity}) | {:.1}% | {:.1}% | {:.1}% |",
                share * 100.0,
                ours * 100.0,
                lru * 100.0,
                random * 100.0
            );
        }
    }
}
