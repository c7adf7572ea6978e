//! Hostile and malformed cases: each is a failed case, never a crashed or hung runner.

use fn_conformance::Verdict;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn hostile_and_malformed_cases_are_failed_cases_not_a_crashed_runner() {
    let suite = SuiteDir::new("hostile");
    suite
        .file("garbage.wasm", b"\0asm\x01\0\0\0\x01\xffnonsense")
        .file("elf.wasm", b"\x7fELF\x02\x01\x01\0")
        .file(
            "unknown_import.wasm",
            r#"(module (import "env" "launch" (func)) (func (export "_start")))"#,
        )
        .case(
            "loop",
            json!({ "module": module(&guest("infinite_loop")), "timeout_ms": 200 }),
        )
        .case(
            "bomb",
            json!({ "module": module(&guest("memory_bomb")), "memory_mib": 16 }),
        )
        .case("flood", json!({ "module": module(&guest("stdout_flood")) }))
        .case(
            "recursion",
            json!({ "module": module(&guest("deep_recursion")) }),
        )
        .case("missing_module", json!({}))
        .case("unknown_field", json!({ "argz": [] }))
        .case(
            "bad_env",
            json!({ "module": module(&guest("hello")), "env": { "A=B": "x" } }),
        )
        .file("not_json.json", "{ nope")
        .file("not_json.wasm", "(module (func (export \"_start\")))")
        .case(
            "escape",
            json!({ "module": module(&guest("files")), "args": ["cat", "/../../../../etc/passwd"], "root": "." }),
        );
    let report = suite.run("").await;
    assert!(!report.ok);
    let expect = |name: &str, kind: Option<&str>, text: &str| {
        let case = case(&report, name);
        assert_eq!(case.verdict, Verdict::Fail, "{case:#?}");
        assert_eq!(case.error_kind.map(|k| k.as_str()), kind, "{case:#?}");
        let problems = case.problems.join("; ");
        assert!(problems.contains(text), "{name}: {problems}");
    };
    expect("garbage", Some("deploy"), "cannot be deployed");
    expect("elf", Some("deploy"), "not a wasm binary");
    expect("unknown_import", Some("deploy"), "env::launch");
    expect("loop", Some("timeout"), "200 ms deadline");
    expect("bomb", Some("memory_limit"), "memory limit");
    expect("flood", Some("output_too_large"), "output limit");
    expect("recursion", Some("trap"), "wasm trap: call stack exhausted");
    expect("missing_module", None, "missing_module.wasm: No such file");
    expect("unknown_field", None, "unknown field `argz`");
    expect("bad_env", Some("validation"), "invalid env");
    expect("not_json", None, "not a case specification");
    expect("escape", Some("exit"), "exit code 2");
}

#[tokio::test]
async fn cases_that_would_hang_or_exhaust_the_runner_fail_instead() {
    let suite = SuiteDir::new("setup");
    let fifo = suite.dir.join("pipe.wasm");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    suite
        .case("pipe", json!({}))
        .case("device", json!({ "module": "/dev/zero" }))
        .case(
            "huge_input",
            json!({ "module": module(&guest("echo")), "input_size": u64::MAX }),
        )
        .case(
            "root_outside",
            json!({ "module": module(&guest("files")), "root": "/" }),
        );
    let report = tokio::time::timeout(std::time::Duration::from_secs(60), suite.run(""))
        .await
        .expect("the runner does not hang");
    for (name, text) in [
        ("pipe", "not a regular file"),
        ("device", "not a regular file"),
        ("huge_input", "`input_size` is over"),
        ("root_outside", "`root` must be a folder inside the suite"),
    ] {
        let case = case(&report, name);
        assert_eq!(case.verdict, Verdict::Fail, "{case:#?}");
        assert!(case.problems.join("; ").contains(text), "{case:#?}");
    }
}
