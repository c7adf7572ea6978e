//! `fnd serve` as a process: SIGTERM finishes the call in flight and a restart serves
//! what was kept; no token, no public address; shell completions.

use std::process::Command;

use crate::cli::{TOKEN, client, fnd, guest, json, serve, serve_with, text};

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
    assert!(
        served
            .banner
            .iter()
            .any(|l| l == "  instances: pooling allocator"
                || l == "  instances: on_demand allocator"),
        "the allocator in use is shown: {:?}",
        served.banner
    );
    let nap = data.path().join("nap.wat");
    // Four seconds: far longer than the status poll and the signal take (and within
    // the default 5 s timeout), so the call is in flight when SIGTERM comes.
    std::fs::write(&nap, fn_guests::sleeper_wat(4_000)).unwrap();
    let out = fnd(&served, &["deploy", nap.to_str().unwrap(), "--name", "nap"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let url = served.url.clone();
    let call = std::thread::spawn(move || client(&url, TOKEN, &["invoke", "nap"], None));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = fn_server::client::Client::new(&served.url, Some(TOKEN.into())).unwrap();
    // A condition, not a delay: each answer says whether the call is in (a generous
    // bound: only a call that never arrives reaches it).
    let arrived = async { while status.status().await.unwrap().in_flight == 0 {} };
    runtime
        .block_on(async { tokio::time::timeout(std::time::Duration::from_secs(60), arrived).await })
        .expect("the call is in flight");
    let pid = rustix::process::Pid::from_raw(served.child.id().try_into().unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
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
fn without_fnd_token_a_token_is_made_once_and_kept_in_the_data_folder() {
    use std::os::unix::fs::PermissionsExt as _;
    let data = tempfile::tempdir().unwrap();
    let served = serve_with(data.path(), &[], None);
    let file = data.path().join("admin-token");
    assert!(
        served
            .banner
            .iter()
            .any(|l| l.contains(&format!("admin token: in {}", file.display()))),
        "{:?}",
        served.banner
    );
    let token = std::fs::read_to_string(&file).unwrap();
    assert_eq!(token.len(), 64, "32 random bytes in hex");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(
        served.banner.iter().all(|l| !l.contains(&token)),
        "never printed"
    );
    // Management needs it, on loopback too.
    assert_eq!(
        client(&served.url, "", &["ls"], None).status.code(),
        Some(4)
    );
    assert_eq!(
        client(&served.url, &token, &["ls"], None).status.code(),
        Some(0)
    );
    drop(served);
    // The next start keeps it.
    let served = serve_with(data.path(), &[], None);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), token);
    assert_eq!(
        client(&served.url, &token, &["ls"], None).status.code(),
        Some(0)
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
