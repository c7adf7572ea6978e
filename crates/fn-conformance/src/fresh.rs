//! Fresh copies of a case's root folder, made with cap-std so that a link in the source
//! can never make the copy read or write outside the two folders.

use std::io;
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

/// Whether `name` is a leftover of an earlier run, to be deleted and never copied.
pub fn is_cleanup(name: &std::ffi::OsStr) -> bool {
    Path::new(name)
        .extension()
        .is_some_and(|ext| ext == "cleanup")
}

/// Copies the folder `source` into `dest` (created, must not exist): files with their
/// contents (fresh, writable files, whatever the source's permissions), folders, and
/// symbolic links as links with the same contents. `*.cleanup` files are left out; a
/// pipe, socket or device is an error.
///
/// # Errors
///
/// The first I/O error, naming the path it happened on.
pub fn copy_tree(source: &Path, dest: &Path) -> io::Result<()> {
    let from = Dir::open_ambient_dir(source, ambient_authority())
        .map_err(|e| at(source.to_path_buf(), e))?;
    std::fs::create_dir_all(dest).map_err(|e| at(dest.to_path_buf(), e))?;
    let to =
        Dir::open_ambient_dir(dest, ambient_authority()).map_err(|e| at(dest.to_path_buf(), e))?;
    copy_dir(&from, &to, source)
}

fn copy_dir(from: &Dir, to: &Dir, shown: &Path) -> io::Result<()> {
    for entry in from.entries().map_err(|e| at(shown.to_path_buf(), e))? {
        let entry = entry?;
        let name = entry.file_name();
        let path = shown.join(&name);
        let kind = entry.file_type().map_err(|e| at(path.clone(), e))?;
        if kind.is_dir() {
            to.create_dir(&name).map_err(|e| at(path.clone(), e))?;
            let sub_from = from.open_dir(&name).map_err(|e| at(path.clone(), e))?;
            let sub_to = to.open_dir(&name).map_err(|e| at(path.clone(), e))?;
            copy_dir(&sub_from, &sub_to, &path)?;
        } else if kind.is_symlink() {
            let target = from
                .read_link_contents(&name)
                .map_err(|e| at(path.clone(), e))?;
            to.symlink_contents(target, &name)
                .map_err(|e| at(path.clone(), e))?;
        } else if kind.is_file() {
            if is_cleanup(&name) {
                continue;
            }
            // Streamed, and a fresh file: writable whatever the source's permissions.
            let mut source = from.open(&name).map_err(|e| at(path.clone(), e))?;
            let mut dest = to.create(&name).map_err(|e| at(path.clone(), e))?;
            io::copy(&mut source, &mut dest).map_err(|e| at(path.clone(), e))?;
        } else {
            return Err(at(
                path,
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "neither a file, a folder nor a link (a pipe or device cannot be copied)",
                ),
            ));
        }
    }
    Ok(())
}

/// Deletes every `*.cleanup` file at or under `dir` (links are not followed). Returns the
/// ones that could not be deleted, with why.
pub fn remove_cleanup_files(dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                problems.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(kind) if is_cleanup(&entry.file_name()) => {
                    let removed = if kind.is_dir() {
                        std::fs::remove_dir_all(&path)
                    } else {
                        std::fs::remove_file(&path)
                    };
                    if let Err(e) = removed {
                        problems.push(format!("{}: {e}", path.display()));
                    }
                }
                Ok(kind) if kind.is_dir() => stack.push(path),
                Ok(_) => {}
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            }
        }
    }
    problems
}

fn at(path: PathBuf, error: io::Error) -> io::Error {
    io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_files_folders_and_links_but_not_leftovers() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir(src.path().join("sub")).unwrap();
        std::fs::write(src.path().join("sub/file"), "content").unwrap();
        std::fs::write(src.path().join("old.cleanup"), "").unwrap();
        std::os::unix::fs::symlink("sub/file", src.path().join("link")).unwrap();
        let mut perms = std::fs::metadata(src.path().join("sub/file"))
            .unwrap()
            .permissions();
        perms.set_readonly(true);
        std::fs::set_permissions(src.path().join("sub/file"), perms).unwrap();

        let dst = tempfile::tempdir().unwrap();
        let copy = dst.path().join("copy");
        copy_tree(src.path(), &copy).unwrap();
        assert_eq!(
            std::fs::read_to_string(copy.join("sub/file")).unwrap(),
            "content"
        );
        assert_eq!(
            std::fs::read_link(copy.join("link")).unwrap(),
            Path::new("sub/file")
        );
        assert!(!copy.join("old.cleanup").exists());
        // The copy is the case's to write, whatever the source's permissions.
        std::fs::write(copy.join("sub/file"), "changed").unwrap();
        assert_eq!(
            std::fs::read_to_string(src.path().join("sub/file")).unwrap(),
            "content"
        );
    }

    #[test]
    fn removes_leftovers_at_any_depth() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("a/x.cleanup"), "").unwrap();
        std::fs::write(dir.path().join("y.cleanup"), "").unwrap();
        std::fs::create_dir(dir.path().join("z.cleanup")).unwrap();
        std::fs::write(dir.path().join("z.cleanup/inner"), "").unwrap();
        std::fs::write(dir.path().join("keep.txt"), "").unwrap();
        assert!(remove_cleanup_files(dir.path()).is_empty());
        assert!(!dir.path().join("a/x.cleanup").exists());
        assert!(!dir.path().join("y.cleanup").exists());
        assert!(!dir.path().join("z.cleanup").exists());
        assert!(dir.path().join("keep.txt").exists());
    }

    #[test]
    fn a_pipe_in_a_root_is_an_error_not_a_hang() {
        let src = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(src.path().join("pipe"))
            .status()
            .unwrap();
        assert!(status.success());
        let dst = tempfile::tempdir().unwrap();
        let error = copy_tree(src.path(), &dst.path().join("copy")).unwrap_err();
        assert!(error.to_string().contains("pipe"), "{error}");
    }
}
