//! The data folder of `fnd serve`: where it is, that it is private, and the admin token
//! kept in it when `FND_TOKEN` is not set.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};

/// Makes `dir` (mode 0700) when it is missing, and warns when an existing one is open to
/// other users: the store holds every function's environment (its secrets) and records.
pub(super) fn private_folder(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating the data folder {}", dir.display()))?;
    }
    let mode = std::fs::metadata(dir)
        .with_context(|| format!("the data folder {}", dir.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            folder = %dir.display(),
            mode = format!("{:o}", mode & 0o777),
            "the data folder is open to other users; it holds functions' environments: chmod 700 it"
        );
    }
    Ok(())
}

/// The file in the data folder holding the admin token when `FND_TOKEN` is not set.
pub(super) const TOKEN_FILE: &str = "admin-token";

/// The token kept at `path`, made there first (32 random bytes as hex, the file created
/// new with mode 0600) when there is none.
pub(super) fn kept_token(path: &Path) -> Result<String> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::read_to_string(path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_owned()),
        Ok(_) => bail!("the admin token file {} is empty", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("making a token: {e}"))?;
    let token: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(token.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(token)
}

/// `--data-dir`, else `$XDG_DATA_HOME/fnd`, else `$HOME/.local/share/fnd`.
pub(super) fn data_dir(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(dir) = given {
        return Ok(std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned()));
    }
    crate::xdg_dir("XDG_DATA_HOME", ".local/share")
        .context("no --data-dir, and neither XDG_DATA_HOME nor HOME is set")
}
