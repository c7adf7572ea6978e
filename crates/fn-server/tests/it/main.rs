//! `fnd run` end to end: the binary, a guest built by `cargo xtask guests`, and what an
//! operator sees (output, exit status, errors).

use std::path::PathBuf;
use std::process::{Command, Output};

mod cli;
mod cli_config;
mod cli_exits;
mod cli_serve;
mod gateway;
mod host_services;
mod http;
mod keys;
mod lifecycle;
mod manage;
mod record;
mod routes;
mod run_http;
mod telemetry;

/// Writes ESC [2J (clear the screen) and ESC ]0;owned BEL (retitle the terminal) to
/// stderr, then exits 3.
pub(crate) const ESCAPES_WAT: &str = r#"(module
    (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    (memory (export "memory") 1)
    (data (i32.const 16) "\1b[2J\1b]0;owned\07")
    (data (i32.const 0) "\10\00\00\00\0f\00\00\00")
    (func (export "_start")
        (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
        (call $exit (i32.const 3))))"#;

fn guest(name: &str) -> PathBuf {
    fn_guests::path(name)
}

/// A cache folder of this test binary's own, so `fnd run` never writes to the real
/// `$HOME/.cache`.
static CACHE_HOME: std::sync::LazyLock<tempfile::TempDir> =
    std::sync::LazyLock::new(|| tempfile::tempdir().expect("a temporary folder"));

fn fnd(args: &[&str]) -> Output {
    fnd_with(args, &[])
}

fn fnd_with(args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fnd"))
        .args(args)
        .env("XDG_CACHE_HOME", CACHE_HOME.path())
        .envs(env.iter().copied())
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
fn runs_a_program_built_for_wasm32_wasip2_unchanged() {
    // What `cargo build --target wasm32-wasip2` emits: a component, through the same
    // command (compiled in fnd's compile worker, and again from its artifact).
    let hello = fn_guests::components_dir().join("hello.wasm");
    for _ in 0..2 {
        let out = fnd(&["run", hello.to_str().unwrap(), "--input", "component"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "hello, component!\n");
    }
    let exit = fn_guests::components_dir().join("exit_code.wasm");
    // WASI 0.2's `exit` says failure, not which: status 1.
    let out = fnd(&["run", exit.to_str().unwrap(), "--input", "9"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
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
    let out = fnd(&["run", looping.to_str().unwrap(), "--timeout", "100ms"]);
    assert_eq!(out.status.code(), Some(124), "a failure other than an exit");
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
    assert_eq!(out.status.code(), Some(124));
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
    assert_eq!(out.status.code(), Some(124));
    assert!(
        text(&out.stderr).contains("cannot be deployed"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_guests_exit_status_never_poses_as_fnds_own() {
    let exit = guest("exit_code");
    // WASI preview 1 allows exit statuses 0 to 125; 124 and 125 are fnd's own.
    for (code, status) in [("123", 123), ("124", 124), ("125", 124)] {
        let out = fnd(&["run", exit.to_str().unwrap(), "--input", code]);
        assert_eq!(out.status.code(), Some(status), "guest exit {code}");
        assert!(
            text(&out.stderr).contains(&format!("exited with code {code}")),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn stdin_is_read_only_up_to_the_input_limit() {
    use std::io::Write as _;
    let echo = guest("echo");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fnd"))
        .args(["run", echo.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("fnd runs");
    let mut stdin = child.stdin.take().unwrap();
    // 64 MiB offered, far over the 6 MiB limit: fnd stops reading past the limit (the
    // writer then sees a closed pipe) instead of holding it all in memory.
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'x'; 1 << 20];
        let mut written = 0usize;
        for _ in 0..64 {
            match stdin.write_all(&chunk) {
                Ok(()) => written += chunk.len(),
                Err(_) => break,
            }
        }
        written
    });
    let out = child.wait_with_output().unwrap();
    let written = writer.join().unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("the input from stdin is over the engine's 6291456-byte input limit"),
        "{}",
        text(&out.stderr)
    );
    assert!(written < 64 << 20, "fnd read all {written} bytes");
}

#[test]
fn what_a_guest_writes_cannot_drive_the_operators_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("escapes.wat");
    std::fs::write(&module, ESCAPES_WAT).unwrap();
    let out = fnd(&["run", module.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\u{7}'),
        "{stderr:?}"
    );
    assert!(
        stderr.contains("\\u{1b}[2J\\u{1b}]0;owned\\u{7}"),
        "{stderr}"
    );

    // A WAT parse error quotes the text; the escapes in it are made inert too.
    std::fs::write(&module, "(module \u{1b}[2J oops)").unwrap();
    let out = fnd(&["run", module.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(124));
    let stderr = text(&out.stderr);
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

#[test]
fn a_module_that_is_not_a_regular_file_is_refused_unread() {
    // /dev/zero would never end; a FIFO could block for ever.
    let out = fnd(&["run", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("the module /dev/zero is not a regular file"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_second_run_loads_the_compiled_module_from_the_cache_folder() {
    let cache = tempfile::tempdir().unwrap();
    let upper = guest("upper");
    let log = [("FND_LOG", std::ffi::OsStr::new("fn_cache=debug"))];
    let run = |input: &str| {
        fnd_with(
            &[
                "run",
                upper.to_str().unwrap(),
                "--input",
                input,
                "--cache-dir",
                cache.path().to_str().unwrap(),
            ],
            &log,
        )
    };
    let first = run("first");
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(text(&first.stdout), "FIRST");
    assert!(!text(&first.stderr).contains("from the artifact tier"));
    let files: Vec<_> = std::fs::read_dir(cache.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "one artifact written");

    let second = run("second");
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(text(&second.stdout), "SECOND");
    let stderr = text(&second.stderr);
    assert!(stderr.contains("loaded from the artifact tier"), "{stderr}");
}

#[test]
fn no_cache_compiles_afresh_and_keeps_nothing() {
    let home = tempfile::tempdir().unwrap();
    let hello = guest("hello");
    let out = fnd_with(
        &["run", hello.to_str().unwrap(), "--no-cache"],
        &[("XDG_CACHE_HOME", home.path().as_os_str())],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_dir(home.path()).unwrap().count(), 0);
    // Without the flag, the default folder is `$XDG_CACHE_HOME/fnd`.
    let out = fnd_with(
        &["run", hello.to_str().unwrap()],
        &[("XDG_CACHE_HOME", home.path().as_os_str())],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_dir(home.path().join("fnd")).unwrap().count(),
        1
    );
}

#[test]
fn a_compile_bomb_ends_at_its_timeout_and_fnd_exits() {
    let bomb = guest("bomb_nested_loops");
    let child = Command::new(env!("CARGO_BIN_EXE_fnd"))
        .args(["run", bomb.to_str().unwrap(), "--no-cache"])
        .args(["--compile-timeout-ms", "500"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (done, wait) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    // In process, Cranelift would run on for minutes and fnd with it; the worker is
    // killed at the timeout. (A generous bound: only a hang reaches it.)
    let out = wait
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("fnd exits after the compile timeout")
        .unwrap();
    assert_eq!(out.status.code(), Some(124));
    assert!(
        text(&out.stderr).contains("took longer than 500 ms"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn compile_in_process_still_runs_a_function() {
    let hello = guest("hello");
    let out = fnd(&[
        "run",
        hello.to_str().unwrap(),
        "--no-cache",
        "--compile-in-process",
        "--input",
        "here",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello, here!\n");
}
