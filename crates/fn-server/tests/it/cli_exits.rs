//! Each exit status of the client commands means one thing: 0 ok, 1 the function
//! failed, 2 usage, 3 unreachable, 4 refused; and what a failing guest wrote reaches
//! `fnd logs` with its escapes made inert.

use serde_json::Value;

use crate::ESCAPES_WAT;

use crate::cli::{TOKEN, client, fnd, guest, json, newest_records, serve, text};

#[test]
fn each_exit_status_means_one_thing() {
    let data = tempfile::tempdir().unwrap();
    let served = serve(data.path(), &[]);
    fnd(&served, &["deploy", &guest("trap"), "--name", "trap"]);

    // 1: the function failed; its error on stderr, and in the envelope.
    let out = fnd(&served, &["invoke", "trap"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("(trap, HTTP 500"),
        "{}",
        text(&out.stderr)
    );
    let out = fnd(&served, &["invoke", "trap", "--output", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let envelope = json(&out);
    assert_eq!(
        (envelope["ok"].as_bool(), envelope["error"]["kind"].as_str()),
        (Some(false), Some("trap"))
    );
    assert_eq!(envelope["data"], Value::Null);

    // 2: usage.
    assert_eq!(fnd(&served, &["invoke"]).status.code(), Some(2));
    assert_eq!(
        fnd(&served, &["deploy", &guest("hello")]).status.code(),
        Some(2),
        "no --name"
    );
    assert_eq!(
        fnd(&served, &["ls", "--output", "yaml"]).status.code(),
        Some(2)
    );

    // 3: nothing answers.
    let out = client(
        "http://127.0.0.1:1",
        TOKEN,
        &["ls", "--output", "json"],
        None,
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(json(&out)["error"]["kind"], "unreachable");

    // 4: refused: a wrong token, a bad module, an unknown function, a bad flag value.
    let out = client(&served.url, "wrong", &["ls"], None);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        text(&out.stderr).contains("unauthorized"),
        "{}",
        text(&out.stderr)
    );
    let bad = data.path().join("bad.wasm");
    std::fs::write(&bad, b"not wasm").unwrap();
    let out = fnd(
        &served,
        &[
            "deploy",
            bad.to_str().unwrap(),
            "--name",
            "bad",
            "--output",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(json(&out)["error"]["status"], 422);
    assert_eq!(fnd(&served, &["invoke", "nobody"]).status.code(), Some(4));

    // What a failing guest wrote reaches `fnd logs` with its escapes made inert.
    let escapes = data.path().join("escapes.wat");
    std::fs::write(&escapes, ESCAPES_WAT).unwrap();
    fnd(
        &served,
        &["deploy", escapes.to_str().unwrap(), "--name", "escapes"],
    );
    assert_eq!(fnd(&served, &["invoke", "escapes"]).status.code(), Some(1));
    newest_records(&served, "escapes", 1);
    let logs = text(&fnd(&served, &["logs", "escapes"]).stdout);
    assert!(
        !logs.contains('\u{1b}') && !logs.contains('\u{7}'),
        "{logs:?}"
    );
    assert!(
        logs.contains("exited with code 3: \\u{1b}[2J\\u{1b}]0;owned\\u{7}"),
        "{logs}"
    );
    let out = fnd(
        &served,
        &["deploy", &guest("hello"), "--name", "x", "--timeout", "0"],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "a flag's bad value is a usage error"
    );
}
