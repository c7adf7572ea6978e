//! `fnd serve` and the client commands as an operator runs them: real processes over
//! loopback. Every client command in text and `--output json`, each exit status (0 ok,
//! 1 the function failed, 2 usage, 3 unreachable, 4 refused), SIGTERM finishing the call
//! in flight, and a restart serving what was deployed and recorded before.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

pub(crate) const TOKEN: &str = "cli-admin-token";

/// A running `fnd serve`.
pub(crate) struct Served {
    pub(crate) child: Child,
    pub(crate) url: String,
    pub(crate) banner: Vec<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `fnd serve` on a free loopback port with `data` as its folder, and waits for
/// its banner.
pub(crate) fn serve(data: &Path, extra: &[&str]) -> Served {
    serve_with(data, extra, Some(TOKEN))
}

/// [`serve`] with `token` as `FND_TOKEN`, or none.
pub(crate) fn serve_with(data: &Path, extra: &[&str], token: Option<&str>) -> Served {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fnd"));
    match token {
        Some(token) => command.env("FND_TOKEN", token),
        None => command.env_remove("FND_TOKEN"),
    };
    let mut child = command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(extra)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("fnd serve starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a banner").expect("a banner line");
    let url = first
        .strip_prefix("fnd serving on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("not the banner: {first}"))
        .to_owned();
    let mut banner = vec![first];
    for line in lines.by_ref() {
        let line = line.unwrap();
        let last = line.starts_with("stop with Ctrl-C");
        banner.push(line);
        if last {
            break;
        }
    }
    // The rest of stdout is read so that the server never blocks on it.
    std::thread::spawn(move || lines.for_each(drop));
    Served { child, url, banner }
}

/// Runs a client command against `url` with `token`, and `stdin` as its input.
pub(crate) fn client(url: &str, token: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fnd"))
        .args(args)
        .env("FND_URL", url)
        .env("FND_TOKEN", token)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fnd runs");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

pub(crate) fn fnd(served: &Served, args: &[&str]) -> Output {
    client(&served.url, TOKEN, args, None)
}

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub(crate) fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)))
}

pub(crate) fn guest(name: &str) -> String {
    fn_guests::path(name).to_str().unwrap().to_owned()
}

#[test]
fn every_client_command_against_a_running_server() {
    let data = tempfile::tempdir().unwrap();
    let served = serve(data.path(), &[]);
    let (hello, echo) = (guest("hello"), guest("echo"));

    let out = fnd(
        &served,
        &[
            "deploy",
            &hello,
            "--name",
            "greet",
            "--memory",
            "32",
            "--timeout",
            "2.5",
            "--env",
            "K=V",
            "--rate",
            "100",
            "--max-concurrency",
            "4",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        out.stderr.is_empty(),
        "no spinner off a terminal: {}",
        text(&out.stderr)
    );
    let said = text(&out.stdout);
    assert!(
        said.starts_with("deployed default/greet version 1 (bafk"),
        "{said}"
    );
    let out = fnd(&served, &["invoke", "greet", "--data", "ops"]);
    assert_eq!(
        (out.status.code(), text(&out.stdout).as_str()),
        (Some(0), "hello, ops!\n")
    );

    // Output bytes exactly, input from stdin.
    let out = fnd(
        &served,
        &["deploy", &echo, "--name", "echo", "--output", "json"],
    );
    let deployed = json(&out);
    assert_eq!(
        (
            deployed["ok"].as_bool(),
            deployed["data"]["version"].as_u64()
        ),
        (Some(true), Some(1))
    );
    let bytes = b"\x00\xffbinary\x1b[2J\n".as_slice();
    let out = client(&served.url, TOKEN, &["invoke", "echo"], Some(bytes));
    assert_eq!(out.stdout, bytes);
    let out = fnd(
        &served,
        &["invoke", "echo", "--data", "hi", "--output", "json"],
    );
    let answer = json(&out);
    assert_eq!(answer["data"]["output"], "hi");
    assert_eq!(answer["data"]["output_base64"], "aGk=");
    assert_eq!(answer["error"], Value::Null);

    // A new version, then back to the first.
    let out = fnd(&served, &["deploy", &echo, "--name", "greet"]);
    assert!(
        text(&out.stdout).contains("version 2"),
        "{}",
        text(&out.stdout)
    );
    let versions = json(&fnd(&served, &["versions", "greet", "--output", "json"]));
    let active: Vec<_> = versions["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["active"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(active, [(1, false), (2, true)]);
    assert!(text(&fnd(&served, &["versions", "greet"]).stdout).contains("VERSION"));
    let out = fnd(&served, &["rollback", "greet", "1"]);
    assert_eq!(
        text(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .split(" (")
            .next(),
        Some("default/greet now runs version 1")
    );
    let out = fnd(&served, &["invoke", "greet", "--data", "back"]);
    assert_eq!(text(&out.stdout), "hello, back!\n");

    let listing = text(&fnd(&served, &["ls"]).stdout);
    assert!(
        listing.contains("greet") && listing.contains("echo"),
        "{listing}"
    );
    let listing = json(&fnd(&served, &["ls", "--output", "json"]));
    assert_eq!(listing["data"].as_array().unwrap().len(), 2);

    // Records, newest first; the writer lands them within its linger.
    let logs = newest_records(&served, "greet", 2);
    let versions: Vec<_> = logs
        .iter()
        .map(|r| r["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [1, 1], "--limit 2, newest first");
    let table = text(&fnd(&served, &["logs", "greet", "--status", "success"]).stdout);
    assert_eq!(
        table.lines().count(),
        3,
        "a header and two records: {table}"
    );
    let none = json(&fnd(
        &served,
        &["logs", "greet", "--status", "timeout", "--output", "json"],
    ));
    assert_eq!(none["data"], serde_json::json!([]));

    // Another namespace is another world.
    let out = fnd(
        &served,
        &["deploy", &hello, "--name", "greet", "-n", "team"],
    );
    assert!(
        text(&out.stdout).contains("team/greet version 1"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        json(&fnd(&served, &["ls", "-n", "team", "--output", "json"]))["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let out = fnd(&served, &["rm", "echo"]);
    assert_eq!(text(&out.stdout), "deleted default/echo\n");
    assert_eq!(fnd(&served, &["invoke", "echo"]).status.code(), Some(4));
    let rolled = json(&fnd(
        &served,
        &["rollback", "greet", "2", "--output", "json"],
    ));
    assert_eq!(
        (rolled["ok"].as_bool(), rolled["data"]["version"].as_u64()),
        (Some(true), Some(2))
    );
    let removed = json(&fnd(
        &served,
        &["rm", "greet", "-n", "team", "--output", "json"],
    ));
    assert_eq!(
        removed["data"],
        serde_json::json!({"namespace": "team", "name": "greet"})
    );
}

/// `fnd logs NAME --limit 2 --output json`, after checking that `count` records of it
/// are there: the server writes what ended before it answers a records query.
pub(crate) fn newest_records(served: &Served, name: &str, count: usize) -> Vec<Value> {
    let all = json(&fnd(served, &["logs", name, "--output", "json"]));
    assert_eq!(all["data"].as_array().unwrap().len(), count, "{all}");
    let out = json(&fnd(
        served,
        &["logs", name, "--limit", "2", "--output", "json"],
    ));
    out["data"].as_array().unwrap().clone()
}
