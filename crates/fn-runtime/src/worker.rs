//! The compile worker: Cranelift in a child process that can be capped and killed.
//!
//! Why: wasmtime puts slow compilation out of its scope, and a compile cannot be stopped
//! from outside the thread that runs it. A compile bomb (deep loop nests, a million
//! functions) given a thread of the host runs on past its timeout, holding a core, its
//! memory and its compile slot, and keeps the process from exiting. In a child process
//! it has an address-space cap (`RLIMIT_AS`, `Config::compile_memory_limit_bytes`), a
//! CPU-time cap as a backstop and a lower priority than the host (`nice` 10), and is
//! killed and reaped at the compile timeout, its memory returned to the system at once.
//!
//! The protocol, version [`PROTOCOL_VERSION`], over the child's standard input and
//! output (little-endian integers):
//!
//! 1. host → worker: `fncw-req`, the version (u32), the config as JSON (u32 length,
//!    bytes), the module (u64 length, bytes);
//! 2. worker → host: `fncw-hi!`, its version (u32), its engine's artifact fingerprint
//!    (32 bytes) — the host refuses a worker of another version or build;
//! 3. worker → host: `fncw-res`, a status (0: an artifact follows; 1: the module is
//!    refused and the compiler's message follows), the length (u64) and the bytes.
//!
//! Nothing else is written to the worker's stdout: it moves the pipe to a private
//! descriptor and points descriptor 1 at stderr before any other code runs. What it
//! writes to stderr (a panic, an allocation failure) is read by the host, bounded, to
//! explain an answer that never came. The worker checks only what it must to compile;
//! the host runs every other check when it loads the artifact (`compile.rs`).

pub(crate) mod client;

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use fn_core::Config;

/// The version of the protocol above; bump it with any change to what either side sends.
pub const PROTOCOL_VERSION: u32 = 1;

pub(crate) const REQUEST: [u8; 8] = *b"fncw-req";
pub(crate) const HELLO: [u8; 8] = *b"fncw-hi!";
pub(crate) const RESULT: [u8; 8] = *b"fncw-res";
pub(crate) const ARTIFACT: u8 = 0;
pub(crate) const REFUSED: u8 = 1;
/// The worker's scheduling priority (`nice`): compiles yield the CPU to invocations.
const COMPILE_NICENESS: i32 = 10;
/// The largest config the worker reads.
const MAX_CONFIG_BYTES: u32 = 1 << 20;

/// Runs one compile worker on this process's standard input and output, then exits:
/// the `main` of `fnd compile-worker` and of `fn-compile-worker`. It expects a host
/// (fn-runtime with `Config::compile_worker`) at the other end of its pipes; run by
/// hand, it waits for a request and refuses anything else.
#[must_use]
pub fn serve() -> ExitCode {
    match serve_once() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            // stderr is the host's to read: one line saying why.
            let _ = writeln!(std::io::stderr(), "compile worker: {message}");
            ExitCode::from(2)
        }
    }
}

fn serve_once() -> Result<(), String> {
    let mut answer = private_stdout()?;
    // Die with the host rather than compile for nobody.
    #[cfg(target_os = "linux")]
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    let mut input = std::io::stdin().lock();
    let mut magic = [0; 8];
    input.read_exact(&mut magic).map_err(reading)?;
    if magic != REQUEST {
        return Err("the input is not a compile request".into());
    }
    let version = read_u32(&mut input)?;
    let config_len = read_u32(&mut input)?;
    if config_len > MAX_CONFIG_BYTES {
        return Err(format!("a config of {config_len} bytes is too large"));
    }
    let mut config = vec![0; config_len as usize];
    input.read_exact(&mut config).map_err(reading)?;
    let config: Config =
        serde_json::from_slice(&config).map_err(|e| format!("the config is not valid: {e}"))?;
    config.validate().map_err(|e| e.to_string())?;
    limit_self(&config)?;

    let engine = compile_engine(&config)?;
    answer.write_all(&HELLO).map_err(writing)?;
    answer
        .write_all(&PROTOCOL_VERSION.to_le_bytes())
        .map_err(writing)?;
    answer
        .write_all(&crate::engine::fingerprint(&engine))
        .map_err(writing)?;
    answer.flush().map_err(writing)?;
    if version != PROTOCOL_VERSION {
        // The host reads our version in the hello and gives up; so do we.
        return Err(format!(
            "the host speaks protocol version {version}, this worker {PROTOCOL_VERSION}"
        ));
    }

    let module_len = read_u64(&mut input)?;
    if module_len > config.max_module_bytes {
        return Err(format!(
            "a module of {module_len} bytes is over max_module_bytes"
        ));
    }
    let mut module = vec![0; usize::try_from(module_len).map_err(|e| e.to_string())?];
    input.read_exact(&mut module).map_err(reading)?;
    let (status, payload) = match crate::compile::new_wasm(&engine, &module) {
        Ok(compiled) => {
            let artifact = compiled
                .serialize()
                .map_err(|e| format!("serializing the module: {e:#}"))?;
            (ARTIFACT, artifact)
        }
        Err(message) => (REFUSED, message.into_bytes()),
    };
    answer.write_all(&RESULT).map_err(writing)?;
    answer.write_all(&[status]).map_err(writing)?;
    answer
        .write_all(&(payload.len() as u64).to_le_bytes())
        .map_err(writing)?;
    answer.write_all(&payload).map_err(writing)?;
    answer.flush().map_err(writing)
}

/// The engine the worker compiles with: the host's config without the pooling allocator,
/// whose reservation would count against the address-space cap. The pool does not change
/// the generated code: the host checks that with the fingerprint in the hello.
fn compile_engine(config: &Config) -> Result<wasmtime::Engine, String> {
    let mut config = config.clone();
    config.pooling.enabled = false;
    crate::engine::build(&config)
        .map(|(engine, _)| engine)
        .map_err(|e| e.to_string())
}

/// Takes the stdout pipe for the answer alone: a private duplicate of descriptor 1, which
/// then points at stderr, so a stray print anywhere in the process cannot corrupt it.
fn private_stdout() -> Result<std::io::BufWriter<std::fs::File>, String> {
    use std::os::fd::AsFd as _;
    let pipe = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("duplicating stdout: {e}"))?;
    rustix::stdio::dup2_stdout(std::io::stderr())
        .map_err(|e| format!("pointing stdout at stderr: {e}"))?;
    Ok(std::io::BufWriter::new(std::fs::File::from(pipe)))
}

/// Caps this process: its address space (`compile_memory_limit_bytes`), its CPU time a
/// little past the compile timeout on every core the compile uses (a backstop for a host
/// that failed to kill it), and its priority.
fn limit_self(config: &Config) -> Result<(), String> {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let cap = |limit: u64| Rlimit {
        current: Some(limit),
        maximum: Some(limit),
    };
    setrlimit(Resource::As, cap(config.compile_memory_limit_bytes))
        .map_err(|e| format!("capping the address space: {e}"))?;
    // CPU time counts every thread: wasmtime's parallel compilation runs one per core,
    // so a compile spends up to that many CPU seconds a second. The soft cap (SIGXCPU,
    // which the host reads as a compile timeout) comes a second before the hard one
    // (SIGKILL, which it could not tell from any other kill).
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    let cpu = config
        .compile_timeout
        .saturating_add(Duration::from_secs(1))
        .as_secs()
        .max(1)
        .saturating_mul(threads);
    let cpu_cap = Rlimit {
        current: Some(cpu),
        maximum: Some(cpu.saturating_add(1)),
    };
    setrlimit(Resource::Cpu, cpu_cap).map_err(|e| format!("capping the CPU time: {e}"))?;
    // Below the host's invocations when they compete for a core: a compile can wait a
    // little, a running function's latency cannot. Best effort.
    let _ = rustix::process::setpriority_process(None, COMPILE_NICENESS);
    Ok(())
}

fn read_u32(input: &mut impl Read) -> Result<u32, String> {
    let mut bytes = [0; 4];
    input.read_exact(&mut bytes).map_err(reading)?;
    Ok(u32::from_le_bytes(bytes))
}

fn read_u64(input: &mut impl Read) -> Result<u64, String> {
    let mut bytes = [0; 8];
    input.read_exact(&mut bytes).map_err(reading)?;
    Ok(u64::from_le_bytes(bytes))
}

fn reading(e: std::io::Error) -> String {
    format!("reading the request: {e}")
}

fn writing(e: std::io::Error) -> String {
    format!("writing the answer: {e}")
}
