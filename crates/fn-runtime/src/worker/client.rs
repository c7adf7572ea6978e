//! The host's side of the compile worker: start it, send the request, check the hello,
//! read the artifact, and kill and reap it on every other path (timeout, a bad answer,
//! the caller going away: `kill_on_drop`).

use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use fn_core::{Cid, CompileWorker, Config, Error, Result};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::process::{Child, Command};

use super::{ARTIFACT, HELLO, PROTOCOL_VERSION, REFUSED, REQUEST, RESULT};

/// How much of the worker's stderr is kept to explain a death.
const STDERR_BYTES: usize = 4 << 10;
/// How long a worker that has answered, or closed its stdout, may take to exit before it
/// is killed.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// Why an exchange with the worker stopped short.
enum Broken {
    /// The worker answered, but not in the protocol: a bug or another build.
    Protocol(String),
    /// A pipe closed or failed: the worker died, and its status will say why.
    Pipe,
}

/// Compiles `bytes` in a new worker and returns the artifact it made, within
/// `config.compile_timeout`: past it the worker is killed and reaped before this returns.
///
/// # Errors
///
/// [`Error::Deploy`] when the compiler refuses the module or the compile needs more
/// memory than `compile_memory_limit_bytes`; [`Error::CompileTimeout`]; otherwise
/// [`Error::Internal`] naming the worker and what went wrong (it cannot be started, it
/// speaks another protocol or is another build, it died).
pub(crate) async fn compile(
    worker: &CompileWorker,
    config: &Config,
    fingerprint: [u8; 32],
    cid: Cid,
    bytes: Bytes,
) -> Result<Vec<u8>> {
    let name = worker.program.display().to_string();
    let mut child = Command::new(&worker.program)
        .args(&worker.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::Internal {
            message: format!("cannot start the compile worker `{name}`: {e}"),
        })?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        unreachable!("all three pipes were asked for");
    };
    let stderr = tokio::spawn(read_bounded(stderr));
    let request = request(config, &bytes);
    let send = async move {
        let mut stdin = stdin;
        // A worker that dies early closes the pipe: its status says why, not this.
        let _ = stdin.write_all(&request).await;
        let _ = stdin.write_all(&bytes).await;
    };
    let receive = answer(stdout, fingerprint, config.compile_memory_limit_bytes);
    let exchange = async { tokio::join!(send, receive).1 };
    let outcome = tokio::time::timeout(config.compile_timeout, exchange).await;
    // Whatever happened, the worker is gone before this returns: its memory is back and
    // its compile slot (held by the caller) frees only now. One that answered or closed
    // its pipe is exiting: it gets a moment, so its status tells how it ended.
    let grace = match outcome {
        Ok(Ok(_) | Err(Broken::Pipe)) => EXIT_GRACE,
        Err(_) | Ok(Err(Broken::Protocol(_))) => Duration::ZERO,
    };
    let status = reap(&mut child, grace).await;
    let stderr = stderr.await.unwrap_or_default();
    let died = |what: String| Error::Internal {
        message: format!("the compile worker `{name}` {what}"),
    };
    match outcome {
        Err(_) => Err(Error::CompileTimeout {
            cid,
            limit: config.compile_timeout,
        }),
        Ok(Ok((ARTIFACT, artifact))) => Ok(artifact),
        Ok(Ok((_, message))) => Err(Error::Deploy {
            cid,
            message: String::from_utf8_lossy(&message).into_owned(),
        }),
        Ok(Err(Broken::Protocol(what))) => Err(died(what)),
        Ok(Err(Broken::Pipe)) => {
            if stderr.contains("memory allocation of") {
                return Err(Error::Deploy {
                    cid,
                    message: format!(
                        "compiling it needs more memory than compile_memory_limit_bytes \
                         ({} MiB) allows",
                        config.compile_memory_limit_bytes >> 20
                    ),
                });
            }
            if cpu_exceeded(status.as_ref()) {
                return Err(Error::CompileTimeout {
                    cid,
                    limit: config.compile_timeout,
                });
            }
            let status = status.map_or_else(|| "an unknown status".into(), |s| s.to_string());
            Err(died(format!(
                "ended without an answer ({status}): {}",
                stderr.escape_debug()
            )))
        }
    }
}

/// The request's header and config; the module's bytes follow it.
fn request(config: &Config, module: &[u8]) -> Vec<u8> {
    let json = serde_json::to_vec(config).expect("a Config serializes");
    let mut request = Vec::with_capacity(json.len() + 24);
    request.extend_from_slice(&REQUEST);
    request.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    request.extend_from_slice(&(json.len() as u32).to_le_bytes());
    request.extend_from_slice(&json);
    request.extend_from_slice(&(module.len() as u64).to_le_bytes());
    request
}

/// Reads the hello and the result: the status and its payload, at most `limit` bytes.
async fn answer(
    mut out: impl AsyncRead + Unpin,
    fingerprint: [u8; 32],
    limit: u64,
) -> Result<(u8, Vec<u8>), Broken> {
    let mut hello = [0; 8 + 4 + 32];
    out.read_exact(&mut hello).await.map_err(|_| Broken::Pipe)?;
    if hello[..8] != HELLO {
        return Err(Broken::Protocol(
            "does not speak the compile-worker protocol".into(),
        ));
    }
    let version = u32::from_le_bytes(hello[8..12].try_into().expect("4 bytes"));
    if version != PROTOCOL_VERSION {
        return Err(Broken::Protocol(format!(
            "speaks protocol version {version}, this runtime {PROTOCOL_VERSION}"
        )));
    }
    if hello[12..] != fingerprint {
        return Err(Broken::Protocol(
            "is another build: its engine fingerprint differs from this runtime's, so \
             its artifacts would not load here"
                .into(),
        ));
    }
    let mut head = [0; 8 + 1 + 8];
    out.read_exact(&mut head).await.map_err(|_| Broken::Pipe)?;
    let status = head[8];
    let len = u64::from_le_bytes(head[9..].try_into().expect("8 bytes"));
    if head[..8] != RESULT || !(status == ARTIFACT || status == REFUSED) || len > limit {
        return Err(Broken::Protocol(format!(
            "sent a malformed result (status {status}, {len} bytes)"
        )));
    }
    let mut payload = Vec::new();
    (&mut out)
        .take(len)
        .read_to_end(&mut payload)
        .await
        .map_err(|_| Broken::Pipe)?;
    if payload.len() as u64 != len {
        return Err(Broken::Pipe);
    }
    Ok((status, payload))
}

/// Waits up to `grace` for the worker to exit, then kills it, and waits for it: no
/// zombie, no orphan.
async fn reap(child: &mut Child, grace: Duration) -> Option<std::process::ExitStatus> {
    if let Ok(Ok(status)) = tokio::time::timeout(grace, child.wait()).await {
        return Some(status);
    }
    let _ = child.start_kill();
    child.wait().await.ok()
}

/// The first [`STDERR_BYTES`] of what the worker wrote to stderr; the rest is drained so
/// the worker never blocks on a full pipe.
async fn read_bounded(mut stderr: impl AsyncRead + Unpin) -> String {
    let mut kept = Vec::new();
    let mut buffer = [0; 4096];
    while let Ok(n @ 1..) = stderr.read(&mut buffer).await {
        let room = STDERR_BYTES.saturating_sub(kept.len());
        kept.extend_from_slice(&buffer[..n.min(room)]);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// Whether the worker was ended by its CPU-time cap (`SIGXCPU`).
fn cpu_exceeded(status: Option<&std::process::ExitStatus>) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.and_then(ExitStatusExt::signal) == Some(rustix::process::Signal::XCPU.as_raw())
}
