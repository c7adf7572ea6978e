//! Arguments and preopened folders: the guest sees exactly the folders its definition
//! names, with the permissions it names, and cannot reach out of them.

use std::path::Path;

use bytes::Bytes;
use fn_core::{Error, Preopen};
use fn_runtime::{Invocation, Outcome, Runtime};

use crate::support::{compile, guest, invocation, runtime_with};

/// A runtime whose only preopen root is `root`.
fn runtime_rooted_at(root: &Path) -> Runtime {
    let root = root.to_path_buf();
    runtime_with(move |config| config.preopen_roots = vec![root])
}

fn preopen(host: &Path, writable: bool) -> Preopen {
    Preopen {
        host: host.to_path_buf(),
        guest: "/".into(),
        writable,
    }
}

async fn files(runtime: &Runtime, args: &[&str], preopens: &[Preopen], input: &str) -> Outcome {
    let module = compile(runtime, guest("files")).await;
    let args: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
    let invocation = Invocation {
        name: "files",
        args: &args,
        preopens,
        ..invocation()
    };
    runtime
        .invoke(&module, invocation, Bytes::from(input.to_string()))
        .await
}

/// The exit code and stderr of a run that must have exited non-zero.
fn exit_of(outcome: Outcome) -> (i32, String) {
    match outcome.result {
        Err(Error::Exit { code, stderr_tail }) => (code, stderr_tail),
        other => panic!("expected a non-zero exit, got {other:?}"),
    }
}

#[tokio::test]
async fn arguments_follow_argv0() {
    let runtime = runtime_with(|_| {});
    let module = compile(&runtime, guest("env")).await;
    let args = vec!["two words".to_string(), "--flag=1".to_string()];
    let invocation = Invocation {
        name: "resize",
        args: &args,
        ..invocation()
    };
    let out = runtime.invoke(&module, invocation, Bytes::new()).await;
    assert_eq!(
        out.result.unwrap(),
        "arg0=resize\narg1=two words\narg2=--flag=1\nfs=none\n"
    );
}

#[tokio::test]
async fn a_preopened_folder_is_the_guests_root() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("hello.txt"), "hello from the host\n").unwrap();
    let runtime = runtime_rooted_at(root.path());
    let preopens = [preopen(&data, false)];

    let out = files(&runtime, &["cat", "/hello.txt"], &preopens, "").await;
    assert_eq!(out.result.unwrap(), "hello from the host\n");
    // Relative paths resolve against the preopen too.
    let out = files(&runtime, &["cat", "hello.txt"], &preopens, "").await;
    assert_eq!(out.result.unwrap(), "hello from the host\n");
    let out = files(&runtime, &["ls", "/"], &preopens, "").await;
    assert_eq!(out.result.unwrap(), "hello.txt\nsub\n");
}

#[tokio::test]
async fn a_read_only_folder_refuses_writes() {
    let root = tempfile::tempdir().unwrap();
    let runtime = runtime_rooted_at(root.path());
    let preopens = [preopen(root.path(), false)];
    let (code, stderr) = exit_of(files(&runtime, &["write", "/new.txt"], &preopens, "x").await);
    assert_eq!(code, 2);
    assert!(stderr.starts_with("write /new.txt: "), "{stderr}");
    assert!(!root.path().join("new.txt").exists());
}

#[tokio::test]
async fn a_writable_folder_takes_writes() {
    let root = tempfile::tempdir().unwrap();
    let runtime = runtime_rooted_at(root.path());
    let preopens = [preopen(root.path(), true)];
    let out = files(
        &runtime,
        &["write", "/out/../new.txt"],
        &preopens,
        "written",
    )
    .await;
    // `out` does not exist, so even a path that would come back inside fails.
    assert_eq!(exit_of(out).0, 2);
    let out = files(&runtime, &["write", "/new.txt"], &preopens, "written").await;
    assert_eq!(out.result.unwrap(), "");
    assert_eq!(
        std::fs::read_to_string(root.path().join("new.txt")).unwrap(),
        "written"
    );
}

#[tokio::test]
async fn the_guest_cannot_climb_out_of_its_folder() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(root.path().join("secret.txt"), "host secret").unwrap();
    std::os::unix::fs::symlink(root.path().join("secret.txt"), data.join("link")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", data.join("relative-link")).unwrap();
    let runtime = runtime_rooted_at(root.path());
    let preopens = [preopen(&data, true)];

    for path in [
        "/../secret.txt",
        "../secret.txt",
        "/link",
        "/relative-link",
        "/../../../../etc/passwd",
    ] {
        let out = files(&runtime, &["cat", path], &preopens, "").await;
        let (code, stderr) = exit_of(out);
        assert_eq!(code, 2, "{path}");
        assert!(!stderr.contains("host secret"), "{path}: {stderr}");
    }
    let out = files(&runtime, &["write", "/../escaped.txt"], &preopens, "x").await;
    assert_eq!(exit_of(out).0, 2);
    assert!(!root.path().join("escaped.txt").exists());
}

#[tokio::test]
async fn without_a_preopen_there_is_no_filesystem() {
    let runtime = runtime_with(|_| {});
    for path in ["/etc/passwd", "Cargo.toml", "."] {
        let out = files(&runtime, &["ls", path], &[], "").await;
        let (code, _) = exit_of(out);
        assert_eq!(code, 2, "{path}");
    }
}

#[tokio::test]
async fn a_folder_outside_the_roots_is_refused_even_through_a_link() {
    let root = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let link = root.path().join("link");
    std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();
    let runtime = runtime_rooted_at(root.path());
    for host in [elsewhere.path(), link.as_path()] {
        let out = files(&runtime, &["ls", "/"], &[preopen(host, false)], "").await;
        match out.result {
            Err(Error::Validation { field, reason }) => {
                assert_eq!(field, "preopens.host");
                assert!(reason.contains("not under any"), "{reason}");
            }
            other => panic!(
                "{}: expected a validation error, got {other:?}",
                host.display()
            ),
        }
    }
    let missing = root.path().join("missing");
    let out = files(&runtime, &["ls", "/"], &[preopen(&missing, false)], "").await;
    match out.result {
        Err(Error::Unavailable { reason }) => assert!(reason.contains("cannot be opened")),
        other => panic!("expected unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_failed_commands_stdout_is_kept() {
    let runtime = runtime_with(|_| {});
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "fd_write"
            (func $fd_write (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") 1)
        (data (i32.const 16) "partial")
        (func (export "_start")
            (i32.store (i32.const 0) (i32.const 16))
            (i32.store (i32.const 4) (i32.const 7))
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
            (call $exit (i32.const 3))))"#;
    let module = compile(&runtime, wat).await;
    let out = runtime.invoke(&module, invocation(), Bytes::new()).await;
    assert_eq!(out.stdout, "partial");
    assert_eq!(exit_of(out).0, 3);
}
