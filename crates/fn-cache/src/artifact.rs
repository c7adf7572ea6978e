//! The artifact tier: values serialized to files in one folder, so a restarted process
//! loads what an earlier one built instead of building it again.
//!
//! Why so careful: for compiled modules an artifact is machine code that the process
//! will map and run without compiling it, so a file is used only when every byte is
//! the one written. Each file carries a magic, a format version, the fingerprint of
//! whatever made it (for modules: the wasmtime version, its compatibility hash and the
//! configuration that shapes code), the CID it holds, its length and a sha2-256 digest
//! of all of that; anything off is a miss, and the file is removed. Files are written
//! to a temporary file in the same folder, synced and renamed, so two processes sharing
//! the folder never see half a file. The folder is capped in bytes, least recently used
//! files out first (a read refreshes a file's modification time).
//!
//! File layout (integers little-endian):
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `fnartif\0` |
//! | 4 | format version, 1 |
//! | 32 | the fingerprint |
//! | 32 | the CID's sha2-256 digest |
//! | 8 | payload length *n* |
//! | *n* | payload (the codec's bytes) |
//! | 32 | sha2-256 of everything before it |

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use fn_core::Cid;
use sha2::{Digest, Sha256};

/// How a value becomes the bytes of an artifact and back. fn-engine implements it with
/// fn-runtime's serialize and deserialize of compiled modules.
pub trait ArtifactCodec<V>: Send + Sync + 'static {
    /// Everything the encoded bytes depend on besides the value itself, as a digest:
    /// an artifact written under another fingerprint is never decoded.
    fn fingerprint(&self) -> [u8; 32];

    /// The bytes to store for `value`.
    ///
    /// # Errors
    ///
    /// Why the value cannot be serialized; it is logged and nothing is written.
    fn encode(&self, value: &V) -> Result<Vec<u8>, String>;

    /// The value back from `bytes`: exactly the bytes [`ArtifactCodec::encode`] returned
    /// under the same fingerprint, for the CID `cid`, checked against their digest
    /// before this is called.
    ///
    /// # Errors
    ///
    /// Why the bytes cannot be used; the file is removed and the value loaded afresh.
    fn decode(&self, cid: &Cid, bytes: &[u8]) -> Result<V, String>;
}

const MAGIC: &[u8; 8] = b"fnartif\0";
const VERSION: u32 = 1;
const HEADER_BYTES: usize = 8 + 4 + 32 + 32 + 8;
const DIGEST_BYTES: usize = 32;
const EXTENSION: &str = "fnart";
/// A temporary file older than this was left by a writer that died; it is removed.
const STALE_TEMPORARY: Duration = Duration::from_secs(3600);

/// A folder of artifacts under one fingerprint, capped in bytes.
#[derive(Debug)]
pub struct ArtifactStore {
    dir: PathBuf,
    fingerprint: [u8; 32],
    /// The fingerprint's first bytes in hex: part of every file name, so artifacts of
    /// other engines sharing the folder keep their own names.
    tag: String,
    capacity_bytes: u64,
    /// Serialises this process's evictions (other processes may evict too: a file that
    /// vanished meanwhile is skipped).
    evicting: Mutex<()>,
}

impl ArtifactStore {
    /// Opens (creating it, mode 0700, when absent) the folder `dir` for artifacts made
    /// under `fingerprint`, keeping at most `capacity_bytes` of files in it. Temporary
    /// files a dead writer left behind are removed.
    ///
    /// # Errors
    ///
    /// When the folder cannot be created or read, or `dir` is not a folder.
    pub fn open(
        dir: impl Into<PathBuf>,
        capacity_bytes: u64,
        fingerprint: [u8; 32],
    ) -> io::Result<ArtifactStore> {
        let dir = dir.into();
        create_private_dir(&dir)?;
        if !fs::metadata(&dir)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a folder", dir.display()),
            ));
        }
        let store = ArtifactStore {
            tag: hex(&fingerprint[..8]),
            dir,
            fingerprint,
            capacity_bytes,
            evicting: Mutex::new(()),
        };
        store.remove_stale_temporaries()?;
        Ok(store)
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path `cid`'s artifact has under this store's fingerprint.
    pub fn path(&self, cid: &Cid) -> PathBuf {
        self.dir.join(format!("{cid}.{}.{EXTENSION}", self.tag))
    }

    /// The payload stored for `cid`, verified; `None` when there is none or the file is
    /// damaged, foreign or stale (such a file is removed, and the reason logged).
    pub fn read(&self, cid: &Cid) -> Option<Vec<u8>> {
        let path = self.path(cid);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return None,
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot read a cached artifact");
                return None;
            }
        };
        match self.verify(cid, bytes) {
            Ok(payload) => {
                // Recency for the eviction order; a failure only makes it look older.
                let _ = File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|file| file.set_modified(SystemTime::now()));
                Some(payload)
            }
            Err(reason) => {
                tracing::warn!(
                    path = %path.display(),
                    reason,
                    "a cached artifact cannot be used; removing it"
                );
                self.remove(cid);
                None
            }
        }
    }

    /// The payload of a file's `bytes` if they are an intact artifact of `cid` under this
    /// store's fingerprint.
    fn verify(&self, cid: &Cid, mut bytes: Vec<u8>) -> Result<Vec<u8>, String> {
        if bytes.len() < HEADER_BYTES + DIGEST_BYTES {
            return Err(format!(
                "{} bytes, too short to be an artifact",
                bytes.len()
            ));
        }
        let (body, digest) = bytes.split_at(bytes.len() - DIGEST_BYTES);
        if !bytes.starts_with(MAGIC) {
            return Err("not an artifact (wrong magic)".into());
        }
        if Sha256::digest(body).as_slice() != digest {
            return Err("its checksum does not match its bytes".into());
        }
        let version = u32::from_le_bytes(body[8..12].try_into().expect("4 bytes"));
        if version != VERSION {
            return Err(format!(
                "format version {version}, this build reads {VERSION}"
            ));
        }
        if body[12..44] != self.fingerprint {
            return Err("made by another engine (its fingerprint differs)".into());
        }
        if body[44..76] != cid.digest()[..] {
            return Err("it holds another module".into());
        }
        let length = u64::from_le_bytes(body[76..84].try_into().expect("8 bytes"));
        if length != (body.len() - HEADER_BYTES) as u64 {
            return Err(format!(
                "it says {length} payload bytes and has {}",
                body.len() - HEADER_BYTES
            ));
        }
        bytes.truncate(bytes.len() - DIGEST_BYTES);
        bytes.drain(..HEADER_BYTES);
        Ok(bytes)
    }

    /// Stores `payload` for `cid`: written to a temporary file (mode 0600) in the folder,
    /// synced, and renamed over the artifact's path, then the oldest files are removed
    /// until the folder is within its capacity. An artifact larger than the whole
    /// capacity is not written.
    ///
    /// # Errors
    ///
    /// Any I/O error (a full disk, a read-only folder); nothing half-written remains.
    pub fn write(&self, cid: &Cid, payload: &[u8]) -> io::Result<()> {
        let total = (HEADER_BYTES + payload.len() + DIGEST_BYTES) as u64;
        if total > self.capacity_bytes {
            tracing::debug!(%cid, total, capacity = self.capacity_bytes, "artifact larger than the disk tier; not written");
            return Ok(());
        }
        let mut header = Vec::with_capacity(HEADER_BYTES);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        header.extend_from_slice(&self.fingerprint);
        header.extend_from_slice(cid.digest());
        header.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        let digest = Sha256::new()
            .chain_update(&header)
            .chain_update(payload)
            .finalize();

        let mut file = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(&self.dir)?;
        file.write_all(&header)?;
        file.write_all(payload)?;
        file.write_all(&digest)?;
        file.as_file().sync_all()?;
        file.persist(self.path(cid)).map_err(|e| e.error)?;
        // The rename itself, durable; a folder that cannot be synced still has the file.
        let _ = File::open(&self.dir).and_then(|dir| dir.sync_all());
        self.evict_to_capacity()
    }

    /// Removes `cid`'s artifact; whether there was one.
    pub fn remove(&self, cid: &Cid) -> bool {
        fs::remove_file(self.path(cid)).is_ok()
    }

    /// The artifacts in the folder (of every fingerprint) and their total size in bytes.
    ///
    /// # Errors
    ///
    /// When the folder cannot be listed.
    pub fn usage(&self) -> io::Result<(u64, u64)> {
        let files = self.artifacts()?;
        Ok((files.len() as u64, files.iter().map(|f| f.1).sum()))
    }

    /// Every artifact file: path, size, modification time.
    fn artifacts(&self) -> io::Result<Vec<(PathBuf, u64, SystemTime)>> {
        let mut files = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let Ok(entry) = entry else { continue };
            let path = entry.path();
            if path.extension().is_none_or(|ext| ext != EXTENSION) {
                continue;
            }
            // Vanished meanwhile (another process evicted it): skip.
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_file() {
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                files.push((path, meta.len(), modified));
            }
        }
        Ok(files)
    }

    fn evict_to_capacity(&self) -> io::Result<()> {
        let _one_at_a_time = self.evicting.lock().unwrap_or_else(PoisonError::into_inner);
        let mut files = self.artifacts()?;
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        if total <= self.capacity_bytes {
            return Ok(());
        }
        files.sort_by_key(|f| f.2);
        for (path, size, _) in files {
            if total <= self.capacity_bytes {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                tracing::debug!(path = %path.display(), "artifact evicted from the disk tier");
            }
            total = total.saturating_sub(size);
        }
        Ok(())
    }

    fn remove_stale_temporaries(&self) -> io::Result<()> {
        let now = SystemTime::now();
        for entry in fs::read_dir(&self.dir)? {
            let Ok(entry) = entry else { continue };
            if !entry.file_name().to_string_lossy().starts_with(".tmp-") {
                continue;
            }
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| {
                    now.duration_since(modified).unwrap_or_default() > STALE_TEMPORARY
                });
            if stale {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(())
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
