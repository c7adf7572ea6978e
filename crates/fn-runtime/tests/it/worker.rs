//! The compile worker: modules compiled in a child process run as if compiled here;
//! refusals keep the compiler's words; a compile bomb ends at its time or memory limit
//! with the worker killed and reaped and its compile slot free; a worker that is not one
//! is named, never trusted.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use fn_core::{CompileWorker, Config, Error};
use fn_runtime::Runtime;

use crate::support::*;

/// The worker program of this crate.
fn worker() -> CompileWorker {
    CompileWorker {
        program: PathBuf::from(env!("CARGO_BIN_EXE_fn-compile-worker")),
        args: Vec::new(),
    }
}

fn with_worker(change: impl FnOnce(&mut Config)) -> Runtime {
    runtime_with(|c| {
        c.compile_worker = Some(worker());
        change(c);
    })
}

/// The tests that count this process's workers run one at a time.
static COUNTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// This process's children that are compile workers, zombies included.
fn workers_alive() -> Vec<String> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| std::fs::read_to_string(entry.path().join("stat")).ok())
        .filter(|stat| {
            // pid (comm) state ppid …; comm may hold spaces, so split after its `)`.
            let (comm, rest) = stat.rsplit_once(") ").unwrap_or_default();
            let ppid = rest.split(' ').nth(1);
            comm.contains("fn-compile-work") && ppid == Some(me.as_str())
        })
        .collect()
}

#[tokio::test]
async fn a_module_compiled_in_a_worker_runs_and_the_worker_is_gone() {
    let _one = COUNTING.lock().await;
    // With the pooling allocator here and none in the worker: the hello's fingerprint
    // matched, so the pool does not change the code.
    let runtime = with_worker(|_| {});
    assert!(runtime.uses_pooling());
    let module = runtime.compile(guest("upper")).await.unwrap();
    let outcome = runtime
        .invoke(&module, invocation(), Bytes::from("worker"))
        .await;
    assert_eq!(outcome.result.unwrap(), Bytes::from("WORKER"));
    assert_eq!(runtime.compiles_started(), 1);
    assert_eq!(workers_alive(), Vec::<String>::new());
}

#[tokio::test]
async fn refusals_keep_the_compilers_words_from_either_side() {
    let runtime = with_worker(|_| {});
    // Refused in the worker, in the words an in-process compile would use.
    let in_process = runtime_with(|_| {});
    for refused in [&b"\0asm\x01\0\0\0\x01\x05garbage"[..], b"\x1b[2J not wasm"] {
        let here = in_process.compile(Bytes::from(refused)).await;
        let there = runtime.compile(Bytes::from(refused)).await;
        match (here, there) {
            (Err(Error::Deploy { message: here, .. }), Err(Error::Deploy { message, .. })) => {
                assert_eq!(message, here);
            }
            other => panic!("{other:?}"),
        }
    }
    // Compiled there, refused here by the linker's checks on the artifact.
    let import = r#"(module (import "env" "nope" (func)) (func (export "_start")))"#;
    match runtime.compile(Bytes::from(import)).await {
        Err(Error::Deploy { message, .. }) => {
            assert!(message.contains("nope"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_compile_bomb_ends_at_the_timeout_and_frees_its_slot() {
    let _one = COUNTING.lock().await;
    // 2 s: each bomb needs far longer (docs/performance.md), a healthy module far less,
    // even with the machine busy.
    let runtime = with_worker(|c| {
        c.compile_timeout = Duration::from_secs(2);
        c.max_concurrent_compiles = 1;
    });
    let bomb = guest("bomb_nested_loops");
    assert!(matches!(
        runtime.compile(bomb.clone()).await,
        Err(Error::CompileTimeout { .. })
    ));
    assert_eq!(workers_alive(), Vec::<String>::new(), "killed and reaped");
    // A second bomb (seconds of Cranelift, docs/performance.md), then a healthy
    // module: the one compile slot is free each time.
    assert!(matches!(
        runtime.compile(guest("bomb_million_functions")).await,
        Err(Error::CompileTimeout { .. })
    ));
    assert_eq!(workers_alive(), Vec::<String>::new(), "killed and reaped");
    runtime.compile(guest("hello")).await.unwrap();
    assert_eq!(workers_alive(), Vec::<String>::new());
}

/// `module` as the one core module of a component: the component binary's header, then
/// a core module section (id 1) holding it.
fn inside_a_component(module: &[u8]) -> Bytes {
    let mut component = b"\0asm\x0d\x00\x01\x00\x01".to_vec();
    let mut size = module.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            component.push(byte);
            break;
        }
        component.push(byte | 0x80);
    }
    component.extend_from_slice(module);
    Bytes::from(component)
}

#[tokio::test]
async fn a_compile_bomb_inside_a_component_is_contained_the_same_way() {
    let _one = COUNTING.lock().await;
    let runtime = with_worker(|c| {
        c.compile_timeout = Duration::from_secs(2);
        c.max_concurrent_compiles = 1;
    });
    let bomb = inside_a_component(&guest("bomb_nested_loops"));
    assert!(wasmparser::Parser::is_component(&bomb));
    assert!(matches!(
        runtime.compile(bomb).await,
        Err(Error::CompileTimeout { .. })
    ));
    assert_eq!(workers_alive(), Vec::<String>::new(), "killed and reaped");
    // A healthy module wrapped the same way compiles (and is refused for exporting
    // nothing a function exports): the wrapping is not what failed above.
    let empty = inside_a_component(&wat::parse_str("(module)").unwrap());
    match runtime.compile(empty).await {
        Err(Error::Deploy { message, .. }) => {
            assert!(message.contains("exports nothing"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_compile_over_its_memory_cap_is_refused_and_says_so() {
    let _one = COUNTING.lock().await;
    let runtime = with_worker(|c| {
        c.compile_memory_limit_bytes = 256 << 20;
        c.compile_timeout = Duration::from_secs(60);
    });
    match runtime.compile(guest("bomb_million_functions")).await {
        Err(Error::Deploy { message, .. }) => {
            assert!(message.contains("compile_memory_limit_bytes"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(workers_alive(), Vec::<String>::new());
}

#[tokio::test]
async fn a_large_healthy_module_compiles_under_the_smallest_memory_cap() {
    // RLIMIT_AS counts every mapping of the worker, not only the heap: the worker's
    // engine reserves no pool, so the smallest cap the config allows (256 MiB) still
    // holds a 2.2 MB module's compile.
    let _one = COUNTING.lock().await;
    let runtime = with_worker(|c| c.compile_memory_limit_bytes = 256 << 20);
    let module = runtime.compile(guest("json_report")).await.unwrap();
    let outcome = runtime
        .invoke(
            &module,
            invocation(),
            Bytes::from(r#"{"id":"1","email":"a@b.co","currency":"EUR","lines":[{"sku":"ABC-1234","quantity":2,"unit_price":1.5}]}"#),
        )
        .await;
    let report = String::from_utf8(outcome.result.unwrap().to_vec()).unwrap();
    assert!(report.contains(r#""total": 3.0"#), "{report}");
}

#[tokio::test]
async fn a_dropped_compile_kills_its_worker() {
    use std::os::fd::AsFd as _;

    use rustix::process::{Pid, PidfdFlags, WaitId, WaitIdOptions, pidfd_open, waitid};

    let _one = COUNTING.lock().await;
    // The worker started through a shell that first tells its pid on a FIFO, then
    // becomes the worker (`exec`: the same pid).
    let dir = tempfile::tempdir().unwrap();
    let started = dir.path().join("started");
    let made = std::process::Command::new("mkfifo")
        .arg(&started)
        .status()
        .unwrap();
    assert!(made.success());
    let runtime = runtime_with(|c| {
        c.compile_timeout = Duration::from_secs(60);
        c.compile_worker = Some(CompileWorker {
            program: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                r#"echo $$ > "$0"; exec "$1""#.into(),
                started.display().to_string(),
                worker().program.display().to_string(),
            ],
        });
    });
    let mut compile = Box::pin(runtime.compile(guest("bomb_nested_loops")));
    let told = tokio::task::spawn_blocking(move || std::fs::read_to_string(started));
    // The compile runs until the worker has told its pid (the read waits for it).
    let pid = tokio::select! {
        told = told => told.unwrap().unwrap(),
        ended = &mut compile => panic!("the compile ended first: {ended:?}"),
    };
    let pid = Pid::from_raw(pid.trim().parse().unwrap()).unwrap();
    let worker = pidfd_open(pid, PidfdFlags::empty()).expect("the worker is running");
    drop(compile);
    // kill_on_drop sent SIGKILL: the worker ends (a generous bound: only a worker that
    // outlived its compile would reach it). Waited for without reaping it, which is
    // tokio's to do; already reaped is ended too.
    let ended = tokio::task::spawn_blocking(move || {
        waitid(
            WaitId::PidFd(worker.as_fd()),
            WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
        )
    });
    match tokio::time::timeout(Duration::from_secs(30), ended)
        .await
        .expect("the worker ended")
        .unwrap()
    {
        Ok(Some(status)) => assert!(status.killed(), "{status:?}"),
        Ok(None) => panic!("waitid without WNOHANG answered nothing"),
        Err(rustix::io::Errno::CHILD) => {}
        Err(error) => panic!("{error}"),
    }
}

#[tokio::test]
async fn a_program_that_is_not_a_worker_is_named_and_not_trusted() {
    let cases: [(&str, Vec<&str>, &str); 4] = [
        ("/nonexistent/worker", vec![], "cannot start"),
        (
            "/bin/sh",
            vec!["-c", "cat >/dev/null; exit 3"],
            "without an answer",
        ),
        // It echoes the request: not a hello.
        ("/bin/cat", vec![], "does not speak"),
        (
            "/bin/sh",
            vec![
                "-c",
                r"printf 'fncw-hi!\001\000\000\000'; head -c 32 /dev/zero; cat >/dev/null",
            ],
            "another build",
        ),
    ];
    for (program, args, expected) in cases {
        let runtime = runtime_with(|c| {
            c.compile_worker = Some(CompileWorker {
                program: program.into(),
                args: args.iter().map(|a| a.to_string()).collect(),
            });
        });
        match runtime.compile(guest("hello")).await {
            Err(Error::Internal { message }) => {
                assert!(message.contains(expected), "{program}: {message}");
            }
            other => panic!("{program}: {other:?}"),
        }
    }
}

#[test]
fn the_worker_run_by_hand_refuses_anything_else_and_writes_nothing_to_stdout() {
    use std::io::Write as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fn-compile-worker"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello, worker")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(output.stdout, b"");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "compile worker: the input is not a compile request\n"
    );
}
