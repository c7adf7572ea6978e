//! `fnd` as an operator runs it, for what issue 28 added: the configuration file
//! (`fnd config default | check`, `fnd serve --config`), API keys from the command line,
//! `logs --follow`, flags with units, a closed pipe, and colour only on a terminal.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::cli::{TOKEN, client, fnd, guest, serve, text};

fn fnd_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fnd"))
}

#[test]
fn the_default_file_is_printed_and_checks_and_a_bad_one_is_named() {
    let out = fnd_bin().args(["config", "default"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), fn_server::config::DEFAULT_FILE);
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("fnd.toml");
    std::fs::write(&good, &out.stdout).unwrap();
    let out = fnd_bin()
        .arg("config")
        .arg("check")
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).ends_with(": ok\n"),
        "{}",
        text(&out.stdout)
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[admission]\nmax_wait = \"forever\"\n").unwrap();
    for args in [
        vec!["config", "check"],
        vec!["serve", "--listen", "127.0.0.1:0", "--config"],
    ] {
        let out = fnd_bin()
            .args(&args)
            .arg(&bad)
            .env("FND_TOKEN", TOKEN)
            .env("FND_DATA_DIR", dir.path().join("data"))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        let said = text(&out.stderr);
        assert!(
            said.contains("bad.toml")
                && said.contains("admission.max_wait")
                && said.contains("forever"),
            "{args:?}: {said}"
        );
    }
}

/// The file's admission settings reach the engine, the keys made by `fnd keys` are the
/// callers, and the flag's listen address comes before the file's.
#[test]
fn serve_runs_from_a_file_and_keys_are_made_listed_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fnd.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:1\"\n\
         [admission]\ncaller_rate = { requests = 1, per = \"1h\", burst = 1 }\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let served = serve(&data, &["--config", file.to_str().unwrap()]);

    let out = fnd(
        &served,
        &["deploy", &guest("hello"), "--name", "greet", "-n", "shop"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = fnd(
        &served,
        &["keys", "create", "till", "-n", "shop", "--role", "invoke"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    let token = said.lines().last().unwrap().to_owned();
    assert!(
        token.starts_with("fnd_"),
        "the token is the last line: {said}"
    );

    let invoke = |token: &str| {
        client(
            &served.url,
            token,
            &["invoke", "greet", "-n", "shop", "--data", "x"],
            None,
        )
    };
    let out = invoke(&token);
    assert_eq!(text(&out.stdout), "hello, x!\n", "{}", text(&out.stderr));
    let out = invoke(&token);
    assert_eq!(
        out.status.code(),
        Some(4),
        "the file's caller rate: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("caller:till"),
        "{}",
        text(&out.stderr)
    );

    let out = fnd(&served, &["keys", "ls"]);
    let listed = text(&out.stdout);
    assert!(
        listed.contains("till") && listed.contains("invoke"),
        "{listed}"
    );
    assert!(!listed.contains(&token), "{listed}");
    let out = fnd(&served, &["keys", "rm", "till"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = invoke(&token);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        text(&out.stderr).contains("unauthorized"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn logs_follow_prints_records_as_they_arrive() {
    let data = tempfile::tempdir().unwrap();
    let served = serve(data.path(), &[]);
    let out = fnd(&served, &["deploy", &guest("hello"), "--name", "greet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut follower = fnd_bin()
        .args(["logs", "greet", "--follow"])
        .env("FND_URL", &served.url)
        .env("FND_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines, arrive) = mpsc::channel();
    let stdout = follower.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let wait = Duration::from_secs(30);
    assert!(arrive.recv_timeout(wait).unwrap().starts_with("STARTED"));
    for n in 0..2 {
        let id = format!("follow-{n}");
        let out = client(
            &served.url,
            TOKEN,
            &["invoke", "greet", "--data", &id],
            None,
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        // Its record arrives as a line of its own (its request id is fnd's fresh one:
        // the line is known by the function's version and status).
        let line = arrive.recv_timeout(wait).expect("a record line");
        assert!(line.contains("success"), "{line}");
    }
    let _ = follower.kill();
    let _ = follower.wait();
}

/// `fnd ls | true` and the like: the reader is gone before fnd writes; fnd ends
/// quietly instead of panicking.
#[test]
fn a_closed_pipe_ends_each_command_quietly() {
    let data = tempfile::tempdir().unwrap();
    let served = serve(data.path(), &[]);
    assert!(
        fnd(&served, &["deploy", &guest("hello"), "--name", "greet"])
            .status
            .success()
    );
    for args in [
        vec!["ls"],
        vec!["versions", "greet"],
        vec!["logs", "greet"],
        vec!["keys", "ls"],
        vec!["invoke", "greet", "--data", "x"],
        vec!["config", "default"],
        vec!["completions", "bash"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = fnd_bin()
            .args(&args)
            .env("FND_URL", &served.url)
            .env("FND_TOKEN", TOKEN)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn run_and_deploy_take_units_and_the_old_spellings() {
    let looping = guest("infinite_loop");
    for args in [
        ["--timeout", "150ms"],
        ["--timeout-ms", "150"],
        ["--timeout", "0.15"],
    ] {
        let out = fnd_bin()
            .args(["run", &looping])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(124), "{args:?}");
        assert!(
            text(&out.stderr).contains("150 ms deadline"),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let out = fnd_bin()
        .args(["run", &guest("hello"), "--memory", "32MiB", "--input", "u"])
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "hello, u!\n", "{}", text(&out.stderr));
    let out = fnd_bin()
        .args(["run", &guest("hello"), "--timeout", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(text(&out.stderr).contains("soon"), "{}", text(&out.stderr));

    let data = tempfile::tempdir().unwrap();
    let served = serve(data.path(), &[]);
    let out = fnd(
        &served,
        &[
            "deploy",
            &guest("hello"),
            "--name",
            "g",
            "--memory",
            "32MiB",
            "--timeout",
            "1500ms",
            "--output",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let api = fn_server::client::Client::new(&served.url, Some(TOKEN.into())).unwrap();
    let function = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(api.get("default", "g"))
        .unwrap();
    let function = serde_json::to_value(function).unwrap();
    assert_eq!(function["max_memory_bytes"], 32 << 20);
    assert_eq!(function["timeout"], 1500);
    assert_eq!(function["version"], 1, "a number, not a string");
}

/// fnd's own log lines carry colour codes only on a terminal, and never with
/// NO_COLOR. The terminal is `script`'s pseudo-terminal (util-linux).
#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let hello = guest("hello");
    let command = format!("{} run {hello} --input x", env!("CARGO_BIN_EXE_fnd"));
    let run = |no_color: Option<&str>, terminal: bool| {
        let mut cmd = if terminal {
            let mut cmd = Command::new("script");
            cmd.args(["-qec", &command, "/dev/null"]);
            cmd
        } else {
            let mut cmd = fnd_bin();
            cmd.args(["run", &hello, "--input", "x"]);
            cmd
        };
        cmd.env("FND_LOG", "debug").env_remove("NO_COLOR");
        if let Some(value) = no_color {
            cmd.env("NO_COLOR", value);
        }
        let out = cmd.output().expect("runs");
        format!("{}{}", text(&out.stdout), text(&out.stderr))
    };
    let piped = run(None, false);
    assert!(piped.contains("DEBUG"), "debug lines are written: {piped}");
    assert!(
        !piped.contains('\u{1b}'),
        "no colour into a pipe: {piped:?}"
    );
    let tty = run(None, true);
    assert!(tty.contains('\u{1b}'), "colour on a terminal: {tty:?}");
    let tty = run(Some("1"), true);
    assert!(
        tty.contains("DEBUG") && !tty.contains('\u{1b}'),
        "NO_COLOR: {tty:?}"
    );
}

#[test]
fn a_huge_memory_limit_is_refused_not_wrapped() {
    let hello = fn_guests::path("hello");
    for (flag, value) in [
        ("--memory-mib", "18446744073709551615"),
        ("--memory-mib", "17592186044416"),
        ("--memory-mib", "4097"),
        ("--memory", "4097"),
        ("--memory", "5GiB"),
    ] {
        let out = super::fnd(&["run", hello.to_str().unwrap(), flag, value]);
        assert_eq!(out.status.code(), Some(125), "{flag} {value}");
        assert!(
            text(&out.stderr).contains("--memory is over the 4096 MiB"),
            "{}",
            text(&out.stderr)
        );
    }
    // Within what wasm32 addresses but over the engine's cap: the definition is refused.
    let out = super::fnd(&["run", hello.to_str().unwrap(), "--memory", "4GiB"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("max_memory_bytes"),
        "{}",
        text(&out.stderr)
    );
}
