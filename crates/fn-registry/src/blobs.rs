//! [`Blobs`]: module bytes as files named by their CID, written so that a crash leaves
//! either no file or the whole one, and verified against their CID on every read.
//!
//! Why files and not database rows: modules are up to megabytes, written once, read
//! whole; a file per CID keeps the database small, and the same bytes deployed twice are
//! one file.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use fn_core::{Cid, Error, Result};

/// The prefix of a file being written (never a CID, which starts with `b`).
const PARTIAL: &str = ".partial-";

/// A folder of module files.
#[derive(Debug, Clone)]
pub(crate) struct Blobs {
    dir: PathBuf,
}

fn storage(what: &Path, error: &std::io::Error) -> Error {
    Error::Storage {
        what: what.display().to_string(),
        reason: error.to_string(),
    }
}

impl Blobs {
    /// The folder `dir`, made if missing.
    pub(crate) fn open(dir: PathBuf) -> Result<Blobs> {
        std::fs::create_dir_all(&dir).map_err(|e| storage(&dir, &e))?;
        std::fs::read_dir(&dir).map_err(|e| storage(&dir, &e))?;
        Ok(Blobs { dir })
    }

    fn path(&self, cid: &Cid) -> PathBuf {
        self.dir.join(cid.to_string())
    }

    /// Writes `bytes` as the file of `cid` (blocking): to a partial file, synced, renamed
    /// into place, the folder synced. A file already there with the right bytes is kept.
    pub(crate) fn write(&self, cid: &Cid, bytes: &[u8]) -> Result<()> {
        let path = self.path(cid);
        if std::fs::read(&path).is_ok_and(|kept| cid.verify(&kept).is_ok()) {
            return Ok(());
        }
        let partial = self.dir.join(format!("{PARTIAL}{}", fn_core::new_id()));
        let written = (|| {
            let mut file = std::fs::File::create(&partial)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&partial, &path)?;
            std::fs::File::open(&self.dir)?.sync_all()
        })();
        if let Err(error) = written {
            let _ = std::fs::remove_file(&partial);
            return Err(storage(&path, &error));
        }
        Ok(())
    }

    /// The bytes of `cid` (blocking), verified.
    pub(crate) fn read(&self, cid: &Cid) -> Result<Bytes> {
        let path = self.path(cid);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound {
                    kind: "module",
                    id: cid.to_string(),
                });
            }
            Err(error) => return Err(storage(&path, &error)),
        };
        cid.verify(&bytes)?;
        Ok(Bytes::from(bytes))
    }

    /// Removes the file of `cid` (blocking); a missing one is no error.
    pub(crate) fn remove(&self, cid: &Cid) {
        let path = self.path(cid);
        if let Err(error) = std::fs::remove_file(&path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %path.display(), %error, "a module file could not be removed");
        }
    }

    /// Removes the files that are not in `kept` — partial writes and modules whose rows
    /// are gone — when older than `grace` (a deploy under way in another process may
    /// have written its file and not yet its row). Returns how many went.
    pub(crate) fn collect(
        &self,
        kept: &std::collections::HashSet<String>,
        grace: Duration,
    ) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let now = SystemTime::now();
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if kept.contains(&name) {
                continue;
            }
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| now.duration_since(modified).unwrap_or_default() >= grace);
            if old && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        removed
    }
}
