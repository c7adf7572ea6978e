//! `cargo xtask bench`'s HTTP parts: `fn-bench http` in process ([`in_process`]); and
//! `fnd serve` (release) with the upper guest and the two wasi:http guests deployed
//! public, then wrk with 64 connections against `/healthz`, against invoke, and against
//! each HTTP function's route, one after the other on the same server: each rate is
//! read as a share of the same server's `/healthz` rate.

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};

use serde_json::Value;

use crate::bench::{have, stdout_of};
use crate::guests_out;

/// Stops `fnd serve` (SIGTERM, then a wait) however the measuring ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}

/// Requests per second from wrk's output.
fn rate(output: &str) -> Option<f64> {
    output
        .lines()
        .find_map(|line| line.trim().strip_prefix("Requests/sec:"))
        .and_then(|n| n.trim().parse().ok())
}

fn wrk(url: &str, script: Option<&Path>, seconds: u32) -> Result<(f64, String)> {
    let mut command = Command::new("wrk");
    command.args(["-t2", "-c64", &format!("-d{seconds}s"), "--latency"]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let output = command.arg(url).output().context("running wrk")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if text.contains("Non-2xx") {
        bail!("wrk saw failed requests against {url}:\n{text}");
    }
    let rate = rate(&text).with_context(|| format!("no rate in wrk's output:\n{text}"))?;
    let p99 = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("99%"))
        .map_or_else(|| "-".into(), |v| v.trim().to_owned());
    Ok((rate, p99))
}

pub(crate) fn http(root: &Path, fnd: &Path, quick: bool) -> Result<String> {
    let mut out = String::from(
        "\n## HTTP through `fnd serve` (wrk -t2 -c64, on the same two cores as the server)\n\n",
    );
    if !have("wrk") {
        out.push_str("Skipped: wrk is not installed.\n");
        return Ok(out);
    }
    let dir = std::env::temp_dir().join(format!("fn-bench-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(fnd)
        .args(["serve", "--listen", &listen, "--data-dir"])
        .arg(dir.join("data"))
        .arg("--deploy-public")
        .arg(guests_out(root).join("upper.wasm"))
        .arg("--deploy-public")
        .arg(crate::guests::components_out(root).join("http-routes.wasm"))
        .arg("--deploy-public")
        .arg(crate::guests::components_out(root).join("http-hello.wasm"))
        .env("FND_TOKEN", "bench-token")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting fnd serve")?;
    let stdout = child.stdout.take().context("fnd's stdout")?;
    let server = Server(child);
    // The banner is printed once the server listens and the example is deployed; its
    // last line says how to stop it.
    let mut lines = BufReader::new(stdout).lines();
    let ready = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.starts_with("stop with Ctrl-C"));
    if !ready {
        bail!("fnd serve ended before it was ready");
    }
    // Keep reading the banner's remaining lines so the server never blocks on its pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let script = dir.join("post.lua");
    std::fs::write(
        &script,
        "wrk.method = \"POST\"\nwrk.body = \"hello, world!\"\n",
    )?;
    let seconds = if quick { 3 } else { 10 };
    let base = format!("http://{listen}");
    // A short run first, so both measured runs find the server warm.
    wrk(&format!("{base}/healthz"), None, 1)?;
    let (health, health_p99) = wrk(&format!("{base}/healthz"), None, seconds)?;
    let invoke_url = format!("{base}/v1/functions/default/upper/invoke");
    let (invoke, invoke_p99) = wrk(&invoke_url, Some(&script), seconds)?;
    let hello_url = format!("{base}/v1/functions/default/http-hello/http/");
    let (hello, hello_p99) = wrk(&hello_url, None, seconds)?;
    let routes_url = format!("{base}/v1/functions/default/http-routes/http/");
    let (routes, routes_p99) = wrk(&routes_url, None, seconds)?;
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
    writeln!(
        out,
        "| endpoint | requests/s | p99 latency |\n|---|---:|---:|\n\
         | `GET /healthz` | {health:.0} | {health_p99} |\n\
         | `POST …/upper/invoke` (13 bytes, every record written to SQLite) | {invoke:.0} | {invoke_p99} |\n\
         | `GET …/http-hello/http/` (the smallest wasi:http component, 32 bytes back) | {hello:.0} | {hello_p99} |\n\
         | `GET …/http-routes/http/` (a wstd wasi:http component, 32 bytes back) | {routes:.0} | {routes_p99} |\n\n\
         Invoke is {:.1} % of `/healthz` (target ≥ 35 %, and ≥ 20 000/s); the HTTP \
         hello {:.1} % (target ≥ 25 %), the wstd one {:.1} %.",
        100.0 * invoke / health,
        100.0 * hello / health,
        100.0 * routes / health
    )?;
    Ok(out)
}

/// HTTP functions in process (`fn-bench http`): the engine's exchange against a bare
/// `ProxyPre` embedding, for the smallest guest (the target) and for the wstd example,
/// and their memory.
pub(crate) fn in_process(fn_bench: &Path, quick: bool) -> Result<String> {
    let rounds = if quick { "3" } else { "10" };
    let mut out = String::from(
        "\n## HTTP functions in process (`fn-bench http`: `GET /`, alternating rounds)\n\n\
         | guest | requests each | bare `ProxyPre` (pool, fresh store, instantiate, handle, \
         collect) | `Engine::serve_http` (admission, record, the exchange's task, the body) \
         | engine / bare (target ≤ 1.2x) |\n|---|---:|---:|---:|---:|\n",
    );
    let mut figures = Value::Null;
    for guest in ["http-hello", "http-routes"] {
        let json = stdout_of(
            Command::new(fn_bench).args(["http", "--rounds", rounds, "--guest", guest]),
            "fn-bench http",
        )?;
        figures = serde_json::from_str(&json)?;
        let us = |field: &str| figures[field].as_f64().unwrap_or(0.0) / 1e3;
        writeln!(
            out,
            "| `{guest}` | {} | {:.1} µs | {:.1} µs | {:.2}x |",
            figures["calls"],
            us("bare_median_ns"),
            us("engine_median_ns"),
            figures["ratio"].as_f64().unwrap_or(0.0),
        )?;
    }
    let kib = |field: &str| figures[field].as_f64().unwrap_or(0.0) / 1024.0;
    write!(
        out,
        "\n`http-hello` is on the `wasip2` bindings alone; `http-routes` is written with \
         wstd, whose async runtime starts on every request.\n\n\
         | what | resident per one ({} of each) |\n|---|---:|\n\
         | an idle cached component (the wstd example, 376 KB of wasm) | {:.0} KiB |\n\
         | a request in flight (parked in the guest's sleep) | {:.0} KiB |\n",
        figures["count"],
        kib("idle_component_resident_bytes"),
        kib("in_flight_request_resident_bytes"),
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rate_off_wrk() {
        let output = "Running 10s test\n  2 threads\nRequests/sec:  99612.31\nTransfer/sec: 1MB\n";
        assert_eq!(rate(output), Some(99612.31));
        assert_eq!(rate("nothing"), None);
    }
}
