//! The memory tier: weights, TinyLFU admission, the removal listener, invalidation.

use std::sync::{Arc, Mutex};

use fn_cache::{Cache, Removal};
use fn_core::Cid;

use crate::support::{Blob, TestError};

type Removed = Arc<Mutex<Vec<(Cid, Removal)>>>;

fn cache(capacity: u64) -> (Cache<Blob, TestError>, Removed) {
    let removed = Removed::default();
    let log = removed.clone();
    let cache = Cache::builder(capacity)
        .on_removal(move |cid, _, removal| log.lock().unwrap().push((*cid, removal)))
        .build();
    (cache, removed)
}

async fn load(cache: &Cache<Blob, TestError>, name: &str, weight: usize) {
    let value = Blob(vec![0; weight]);
    cache
        .get_or_try_insert(&Cid::of(name.as_bytes()), || async { Ok(value) })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_frequently_used_module_survives_a_burst_of_one_off_modules() {
    let (cache, _) = cache(100);
    let hot = Cid::of(b"hot");
    // A cache in use: more than half full (moka counts frequencies from then on).
    load(&cache, "hot", 20).await;
    for i in 0..4 {
        load(&cache, &format!("warm {i}"), 10).await;
    }
    cache.stats().await;
    for _ in 0..30 {
        assert!(cache.get(&hot).await.is_some());
    }
    // 200 modules used once each, ten times the capacity. Plain LRU, weighted the same
    // and fed the same trace, keeps the latest of them and loses `hot`.
    let mut lru = lru::LruCache::unbounded();
    let mut lru_weight = 0;
    let mut lru_load = |name: String, weight: u64| {
        lru_weight += weight;
        lru.put(name, weight);
        while lru_weight > 100 {
            lru_weight -= lru.pop_lru().map_or(0, |(_, w)| w);
        }
    };
    lru_load("hot".into(), 20);
    for i in 0..4 {
        lru_load(format!("warm {i}"), 10);
    }
    for i in 0..200 {
        load(&cache, &format!("one-off {i}"), 10).await;
        lru_load(format!("one-off {i}"), 10);
        if i % 10 == 0 {
            cache.stats().await;
        }
    }
    assert!(!lru.contains("hot"), "plain LRU kept it");
    let stats = cache.stats().await;
    assert!(
        cache.contains(&hot),
        "the hot module was evicted: {stats:?}"
    );
    assert!(stats.weighted_size_bytes <= 100, "{stats:?}");
    assert!(stats.evictions >= 190, "{stats:?}");
}

#[tokio::test]
async fn the_capacity_is_in_bytes_the_values_report() {
    let (cache, removed) = cache(100);
    for name in ["a", "b", "c"] {
        load(&cache, name, 30).await;
    }
    let stats = cache.stats().await;
    assert_eq!((stats.entries, stats.weighted_size_bytes), (3, 90));
    // A value heavier than the whole capacity is returned but not kept.
    load(&cache, "huge", 101).await;
    let stats = cache.stats().await;
    assert_eq!(stats.weighted_size_bytes, 90);
    assert!(!cache.contains(&Cid::of(b"huge")));
    assert!(
        removed
            .lock()
            .unwrap()
            .contains(&(Cid::of(b"huge"), Removal::Evicted))
    );
    assert_eq!(stats.evictions, 1);
}

#[tokio::test]
async fn invalidate_removes_and_tells_the_listener() {
    let (cache, removed) = cache(100);
    let cid = Cid::of(b"a");
    load(&cache, "a", 10).await;
    assert!(cache.invalidate(&cid).await);
    assert!(!cache.invalidate(&cid).await, "already gone");
    cache.stats().await;
    assert_eq!(*removed.lock().unwrap(), vec![(cid, Removal::Invalidated)]);
    load(&cache, "a", 10).await;
    load(&cache, "b", 10).await;
    cache.invalidate_all();
    let stats = cache.stats().await;
    assert_eq!((stats.entries, stats.loads), (0, 3));
}
