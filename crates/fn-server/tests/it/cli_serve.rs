//! `fnd serve` as a process: SIGTERM finishes the call in flight and a restart serves
//! what was kept; no token, no public address; shell completions.

use std::process::Command;
use std::time::Duration;

use crate::cli::{TOKEN, client, fnd, guest, json, serve, text};

#[test]
fn sigterm_finishes_the_call_in_flight_and_a_restart_serves_what_was_kept() {
    let data = tempfile::tempdir().unwrap();
    let mut served = serve(data.path(), &["--deploy-public", &guest("hello")]);
    assert!(
        served
            .banner
            .iter()
            .any(|l| l.contains("deployed default/hello version 1 (public)")),
        "{:?}",
        served.banner
    );
    assert!(
        served
            .banner
            .iter()
            .any(|l| l.contains("curl --data 'you'"))
    );
    let nap = data.path().join("nap.wat");
    std::fs::write(&nap, crate::sleep_wat(1500)).unwrap();
    let out = fnd(&served, &["deploy", nap.to_str().unwrap(), "--name", "nap"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let url = served.url.clone();
    let call = std::thread::spawn(move || client(&url, TOKEN, &["invoke", "nap"], None));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = fn_server::client::Client::new(&served.url, Some(TOKEN.into())).unwrap();
    runtime.block_on(async {
        while status.status().await.unwrap().in_flight == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    let killed = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = call.join().unwrap();
    assert_eq!(
        (out.status.code(), text(&out.stdout).as_str()),
        (Some(0), "done"),
        "{}",
        text(&out.stderr)
    );
    let exit = served.child.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    drop(served);

    // The same folder: the functions, their versions and the records are still there,
    // and the example is kept, not deployed again.
    let served = serve(data.path(), &["--deploy-public", &guest("hello")]);
    assert!(
        served
            .banner
            .iter()
            .any(|l| l.contains("kept default/hello version 1")),
        "{:?}",
        served.banner
    );
    // Public: no token needed.
    let out = client(
        &served.url,
        "",
        &["invoke", "hello", "--data", "again"],
        None,
    );
    assert_eq!(text(&out.stdout), "hello, again!\n");
    let records = json(&fnd(&served, &["logs", "nap", "--output", "json"]));
    let statuses: Vec<_> = records["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["success"],
        "the call that finished at shutdown was recorded"
    );
}

#[test]
fn serve_without_a_token_listens_only_on_loopback() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fnd"))
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(data.path())
        .env_remove("FND_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        text(&out.stderr).contains("without FND_TOKEN"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = Command::new(env!("CARGO_BIN_EXE_fnd"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = text(&out.stdout);
        assert!(
            script.contains("rollback") && script.contains("output"),
            "{shell}: {script}"
        );
    }
}
