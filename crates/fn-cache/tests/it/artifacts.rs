//! The disk tier under the cache: a restart loads nothing again, and a bad file is a miss.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fn_cache::{ArtifactStore, Cache};
use fn_core::Cid;

use crate::support::{Blob, BlobCodec, TestError, counting};

fn cache_on(
    dir: &std::path::Path,
    fingerprint: [u8; 32],
) -> (Cache<Blob, TestError>, Arc<BlobCodec>) {
    let codec = Arc::new(BlobCodec {
        fingerprint,
        ..BlobCodec::default()
    });
    let store = ArtifactStore::open(dir, 1 << 20, fingerprint).unwrap();
    let cache = Cache::builder(1 << 20)
        .artifacts(store, codec.clone())
        .build();
    (cache, codec)
}

async fn never_loaded(cache: &Cache<Blob, TestError>, cid: &Cid) -> Arc<Blob> {
    cache
        .get_or_try_insert(cid, || async { panic!("loaded although the disk had it") })
        .await
        .unwrap()
}

/// A cache on `dir` that has loaded `cid` (counted in `loads`) and written its artifact.
async fn written(
    dir: &std::path::Path,
    fingerprint: [u8; 32],
    cid: &Cid,
    loads: &Arc<AtomicU64>,
    code: &'static [u8],
) -> Cache<Blob, TestError> {
    let (cache, _) = cache_on(dir, fingerprint);
    cache
        .get_or_try_insert(cid, counting(loads, code))
        .await
        .unwrap();
    cache.flush().await;
    cache
}

#[tokio::test]
async fn a_restarted_cache_loads_nothing_again() {
    let dir = tempfile::tempdir().unwrap();
    let cid = Cid::of(b"module");
    let loads = Arc::new(AtomicU64::new(0));
    {
        let cache = written(dir.path(), [1; 32], &cid, &loads, b"code").await;
        assert_eq!(cache.stats().await.disk_writes, 1);
    }
    let (restarted, codec) = cache_on(dir.path(), [1; 32]);
    assert_eq!(never_loaded(&restarted, &cid).await.0, b"code");
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert_eq!(codec.decodes.load(Ordering::SeqCst), 1);
    let stats = restarted.stats().await;
    assert_eq!((stats.disk_hits, stats.loads, stats.entries), (1, 0, 1));
}

/// Writes `cid`'s artifact with one cache, lets `damage` spoil the file, and checks that a
/// fresh cache misses, loads again, and writes a good file back.
async fn damaged(damage: impl FnOnce(&std::path::Path)) {
    let dir = tempfile::tempdir().unwrap();
    let cid = Cid::of(b"module");
    let loads = Arc::new(AtomicU64::new(0));
    let cache = written(dir.path(), [1; 32], &cid, &loads, b"code").await;
    damage(&cache.artifact_store().unwrap().path(&cid));

    let (fresh, codec) = cache_on(dir.path(), [1; 32]);
    let value = fresh
        .get_or_try_insert(&cid, counting(&loads, b"code"))
        .await
        .unwrap();
    assert_eq!(value.0, b"code");
    assert_eq!(loads.load(Ordering::SeqCst), 2, "loaded again");
    assert_eq!(
        codec.decodes.load(Ordering::SeqCst),
        0,
        "bad bytes never reach the codec"
    );
    fresh.flush().await;
    let stats = fresh.stats().await;
    assert_eq!((stats.disk_misses, stats.disk_writes), (1, 1));
    let (third, _) = cache_on(dir.path(), [1; 32]);
    assert_eq!(
        never_loaded(&third, &cid).await.0,
        b"code",
        "the file was rewritten"
    );
}

#[tokio::test]
async fn a_truncated_artifact_is_a_miss() {
    damaged(|path| {
        let bytes = std::fs::read(path).unwrap();
        std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_flipped_byte_is_a_miss() {
    damaged(|path| {
        let mut bytes = std::fs::read(path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x40;
        std::fs::write(path, bytes).unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_file_that_is_not_an_artifact_is_a_miss() {
    damaged(|path| std::fs::write(path, b"\0asm\x01\0\0\0 not an artifact at all").unwrap()).await;
}

#[tokio::test]
async fn an_artifact_of_another_engine_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let cid = Cid::of(b"module");
    let loads = Arc::new(AtomicU64::new(0));
    let theirs = written(dir.path(), [2; 32], &cid, &loads, b"their code").await;
    let (ours, codec) = cache_on(dir.path(), [1; 32]);
    // Their file where ours would be.
    std::fs::copy(
        theirs.artifact_store().unwrap().path(&cid),
        ours.artifact_store().unwrap().path(&cid),
    )
    .unwrap();
    let value = ours
        .get_or_try_insert(&cid, counting(&loads, b"our code"))
        .await
        .unwrap();
    assert_eq!(value.0, b"our code");
    assert_eq!(codec.decodes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn bytes_the_codec_refuses_are_a_miss_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let cid = Cid::of(b"module");
    let loads = Arc::new(AtomicU64::new(0));
    let cache = written(dir.path(), [1; 32], &cid, &loads, b"!stale").await;
    let path = cache.artifact_store().unwrap().path(&cid);
    assert!(path.exists());
    let (fresh, codec) = cache_on(dir.path(), [1; 32]);
    fresh
        .get_or_try_insert(&cid, counting(&loads, b"code"))
        .await
        .unwrap();
    assert_eq!(codec.decodes.load(Ordering::SeqCst), 1);
    assert_eq!(loads.load(Ordering::SeqCst), 2);
    fresh.flush().await;
    assert_eq!(
        std::fs::read(&path)
            .unwrap()
            .windows(4)
            .filter(|w| w == b"code")
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_caches_writing_one_artifact_at_once_leave_one_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let loads = Arc::new(AtomicU64::new(0));
    let caches: Vec<_> = (0..2).map(|_| cache_on(dir.path(), [1; 32]).0).collect();
    for round in 0..20u32 {
        let cid = Cid::of(&round.to_le_bytes());
        let payload = vec![round as u8; 64 << 10];
        let writers: Vec<_> = caches
            .iter()
            .map(|cache| {
                let (cache, loads, payload) = (cache.clone(), loads.clone(), payload.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_try_insert(&cid, counting(&loads, &payload))
                        .await
                        .unwrap();
                    cache.flush().await;
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let (reader, _) = cache_on(dir.path(), [1; 32]);
        assert_eq!(
            never_loaded(&reader, &cid).await.0,
            payload,
            "round {round}"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn a_write_that_fails_is_counted_and_the_value_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let cid = Cid::of(b"module");
    let (cache, _) = cache_on(dir.path(), [1; 32]);
    // A folder where the artifact should go: the write fails as on a full disk.
    std::fs::create_dir(cache.artifact_store().unwrap().path(&cid)).unwrap();
    let loads = Arc::new(AtomicU64::new(0));
    let value = cache
        .get_or_try_insert(&cid, counting(&loads, b"code"))
        .await
        .unwrap();
    assert_eq!(value.0, b"code");
    cache.flush().await;
    let stats = cache.stats().await;
    assert_eq!((stats.disk_writes, stats.disk_write_errors), (0, 1));
    assert!(cache.get(&cid).await.is_some());
}
