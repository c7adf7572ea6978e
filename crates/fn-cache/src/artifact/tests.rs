//! The artifact store's file format, verification, eviction and permissions.

use super::*;

fn store(dir: &Path, capacity: u64) -> ArtifactStore {
    ArtifactStore::open(dir, capacity, [7; 32]).unwrap()
}

#[test]
fn a_written_artifact_reads_back_and_damage_is_a_miss_that_removes_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), 1 << 20);
    let cid = Cid::of(b"module");
    store.write(&cid, b"machine code").unwrap();
    assert_eq!(store.read(&cid).as_deref(), Some(&b"machine code"[..]));

    let path = store.path(&cid);
    let good = fs::read(&path).unwrap();
    // Every single flipped byte, header, payload or digest, is caught.
    for at in 0..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        fs::write(&path, &bad).unwrap();
        assert_eq!(store.read(&cid), None, "byte {at} flipped");
        assert!(!path.exists(), "byte {at}: the damaged file is removed");
    }
    for len in [0, 1, HEADER_BYTES, good.len() - 1] {
        fs::write(&path, &good[..len]).unwrap();
        assert_eq!(store.read(&cid), None, "truncated to {len}");
        assert!(!path.exists());
    }
}

#[test]
fn another_fingerprint_or_another_cid_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let ours = store(dir.path(), 1 << 20);
    let theirs = ArtifactStore::open(dir.path(), 1 << 20, [8; 32]).unwrap();
    let cid = Cid::of(b"module");
    theirs.write(&cid, b"their code").unwrap();
    assert_ne!(
        ours.path(&cid),
        theirs.path(&cid),
        "each keeps its own name"
    );
    assert_eq!(ours.read(&cid), None);
    // Their file put where ours would be: refused by the fingerprint inside.
    fs::copy(theirs.path(&cid), ours.path(&cid)).unwrap();
    assert_eq!(ours.read(&cid), None);
    assert!(!ours.path(&cid).exists());
    assert_eq!(theirs.read(&cid).as_deref(), Some(&b"their code"[..]));
    // Another CID's file under this CID's name.
    let other = Cid::of(b"other");
    ours.write(&other, b"other code").unwrap();
    fs::rename(ours.path(&other), ours.path(&cid)).unwrap();
    assert_eq!(ours.read(&cid), None);
}

#[test]
fn the_folder_stays_within_capacity_least_recently_used_out_first() {
    let dir = tempfile::tempdir().unwrap();
    let per_file = (HEADER_BYTES + 1000 + DIGEST_BYTES) as u64;
    let store = store(dir.path(), per_file * 3);
    let cids: Vec<Cid> = (0..4u8).map(|i| Cid::of(&[i])).collect();
    let epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    for (i, cid) in cids.iter().take(3).enumerate() {
        store.write(cid, &[0; 1000]).unwrap();
        let file = File::options().write(true).open(store.path(cid)).unwrap();
        file.set_modified(epoch + Duration::from_secs(i as u64))
            .unwrap();
    }
    // Reading the oldest makes it the newest.
    assert!(store.read(&cids[0]).is_some());
    store.write(&cids[3], &[0; 1000]).unwrap();
    assert!(store.path(&cids[0]).exists(), "read recently: kept");
    assert!(
        !store.path(&cids[1]).exists(),
        "least recently used: evicted"
    );
    assert!(store.path(&cids[2]).exists());
    assert!(store.path(&cids[3]).exists());
    assert_eq!(store.usage().unwrap(), (3, per_file * 3));
    // Larger than the whole capacity: not written, nothing evicted.
    store.write(&Cid::of(b"huge"), &[0; 4000]).unwrap();
    assert_eq!(store.usage().unwrap(), (3, per_file * 3));
}

#[cfg(unix)]
#[test]
fn the_folder_is_private_and_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("cache/fnd");
    let store = store(&dir, 1 << 20);
    let cid = Cid::of(b"module");
    store.write(&cid, b"code").unwrap();
    let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&store.path(&cid)), 0o600);
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path(), 1 << 20);
    let cid = Cid::of(b"module");
    // A folder where the artifact should go: the rename fails.
    fs::create_dir(store.path(&cid)).unwrap();
    assert!(store.write(&cid, b"code").is_err());
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    assert_eq!(store.read(&cid), None);
}

#[test]
fn a_path_that_is_a_file_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, b"").unwrap();
    assert!(ArtifactStore::open(&file, 1 << 20, [0; 32]).is_err());
}
