//! `fnd run` end to end: the binary, a guest built by `cargo xtask guests`, and what an
//! operator sees (output, exit status, errors).

use std::path::PathBuf;
use std::process::{Command, Output};

fn guest(name: &str) -> PathBuf {
    fn_guests::path(name)
}

fn fnd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fnd"))
        .args(args)
        .output()
        .expect("fnd runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn runs_a_function_and_prints_its_output() {
    let hello = guest("hello");
    let out = fnd(&["run", hello.to_str().unwrap(), "--input", "operator"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello, operator!\n");
}

#[test]
fn passes_on_the_guests_exit_status_and_names_other_failures() {
    let exit = guest("exit_code");
    let out = fnd(&["run", exit.to_str().unwrap(), "--input", "7"]);
    assert_eq!(out.status.code(), Some(7));
    assert!(
        text(&out.stderr).contains("exited with code 7"),
        "{}",
        text(&out.stderr)
    );

    let looping = guest("infinite_loop");
    let out = fnd(&["run", looping.to_str().unwrap(), "--timeout-ms", "100"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("exceeded its 100 ms deadline"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn arguments_and_folders_are_only_what_is_given() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("note.txt"), "from the host").unwrap();
    let files = guest("files");
    let files = files.to_str().unwrap();
    let host = dir.path().to_str().unwrap();

    let out = fnd(&["run", files, "--dir", host, "--", "cat", "/note.txt"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "from the host");

    // Read-only unless --dir-rw.
    let out = fnd(&[
        "run", files, "--dir", host, "--input", "x", "--", "write", "/new.txt",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("exited with code 2: write /new.txt: "),
        "the guest's own refusal: {}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("new.txt").exists());
    let guest_path = format!("{host}::/data");
    let out = fnd(&[
        "run",
        files,
        "--dir-rw",
        &guest_path,
        "--input",
        "x",
        "--",
        "write",
        "/data/new.txt",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("new.txt")).unwrap(),
        "x"
    );

    // Without --dir there is no filesystem at all.
    let out = fnd(&["run", files, "--", "cat", "/note.txt"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cat /note.txt: "),
        "{}",
        text(&out.stderr)
    );

    let out = fnd(&["run", files, "--dir-rw", "/no/such/folder", "--", "ls", "/"]);
    assert_eq!(out.status.code(), Some(125), "fnd's own failure");
    assert!(
        text(&out.stderr).contains("--dir-rw `/no/such/folder`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_failed_commands_stdout_is_still_shown() {
    let trap = guest("trap");
    let out = fnd(&["run", trap.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "about to trap\n");
    assert!(
        text(&out.stderr).contains("wasm trap: wasm `unreachable`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_malformed_module_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.wasm");
    std::fs::write(&bad, b"\0asm\x01\0\0\0\x01\xff").unwrap();
    let out = fnd(&["run", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot be deployed"),
        "{}",
        text(&out.stderr)
    );
}
