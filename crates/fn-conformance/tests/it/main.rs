//! The runner end to end, on suites made in a temporary folder from this repository's
//! guests (built by `cargo xtask guests`) and small WAT modules.

use std::path::{Path, PathBuf};

use fn_conformance::{CaseReport, Expectations, Report, Runner, Verdict};
use serde_json::json;

fn guest(name: &str) -> PathBuf {
    fn_guests::path(name)
}

/// A suite folder being written.
struct SuiteDir {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl SuiteDir {
    fn new(name: &str) -> SuiteDir {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("suite");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(
            dir.join("manifest.json"),
            json!({ "name": name }).to_string(),
        )
        .unwrap();
        SuiteDir { _tmp: tmp, dir }
    }

    fn case(&self, name: &str, spec: serde_json::Value) -> &SuiteDir {
        std::fs::write(self.dir.join(format!("{name}.json")), spec.to_string()).unwrap();
        self
    }

    fn file(&self, path: &str, contents: impl AsRef<[u8]>) -> &SuiteDir {
        let path = self.dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
        self
    }

    async fn run(&self, expectations: &str) -> Report {
        let work = self.dir.parent().unwrap().join("work");
        Runner::new(Expectations::parse(expectations).unwrap(), work)
            .run(std::slice::from_ref(&self.dir))
            .await
            .expect("the runner runs")
    }
}

fn case<'r>(report: &'r Report, name: &str) -> &'r CaseReport {
    report.suites[0]
        .cases
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case `{name}` in {report:#?}"))
}

fn module(path: &Path) -> String {
    path.display().to_string()
}

#[tokio::test]
async fn every_field_of_a_specification_is_honoured() {
    let suite = SuiteDir::new("fields");
    suite
        .case(
            "env",
            json!({
                "module": module(&guest("env")),
                "args": ["one", "two words"],
                "env": { "B": "2", "A": "1" },
                "stdout": "arg0=env\narg1=one\narg2=two words\nenv A=1\nenv B=2\nfs=none\n",
                "stderr": ""
            }),
        )
        .case(
            "exit",
            json!({
                "module": module(&guest("exit_code")),
                "input": "7",
                "exit_code": 7,
                "stdout": "",
                "stderr": "giving up with code 7\n"
            }),
        )
        .case(
            "handle",
            json!({
                "module": module(&guest("handle_upper")),
                "input": "shout",
                "stdout": "SHOUT",
                "record": { "input_size": 5, "output_size": 5, "status": "success" }
            }),
        );
    let report = suite.run("").await;
    for name in ["env", "exit", "handle"] {
        let case = case(&report, name);
        assert_eq!(case.verdict, Verdict::Pass, "{case:#?}");
    }
    assert_eq!(case(&report, "exit").exit_code, Some(7));
    assert!(report.ok);
}

#[tokio::test]
async fn each_case_gets_a_fresh_copy_of_its_root() {
    let suite = SuiteDir::new("roots");
    suite
        .file("data/greeting.txt", "hello")
        .file("data/old.cleanup", "left behind")
        .case(
            "a_write",
            json!({
                "module": module(&guest("files")),
                "args": ["write", "/greeting.txt"],
                "input": "overwritten",
                "root": "data"
            }),
        )
        .case(
            "b_read",
            json!({
                "module": module(&guest("files")),
                "args": ["cat", "/greeting.txt"],
                "root": "data",
                "stdout": "hello"
            }),
        )
        .case(
            "c_list",
            json!({
                "module": module(&guest("files")),
                "args": ["ls", "/"],
                "root": "data",
                "stdout": "greeting.txt\n"
            }),
        );
    let report = suite.run("").await;
    assert!(report.ok, "{}", report.to_text());
    assert_eq!(
        std::fs::read_to_string(suite.dir.join("data/greeting.txt")).unwrap(),
        "hello",
        "the suite's folder is never written"
    );
    assert!(
        !suite.dir.join("data/old.cleanup").exists(),
        "leftovers are deleted first"
    );
}

#[tokio::test]
async fn differences_fail_the_case_and_say_what_differs() {
    let suite = SuiteDir::new("differences");
    suite
        .case(
            "wrong_stdout",
            json!({ "module": module(&guest("hello")), "stdout": "hello, world?\n" }),
        )
        .case(
            "wrong_exit",
            json!({ "module": module(&guest("exit_code")), "input": "3" }),
        )
        .case(
            "wrong_stderr",
            json!({
                "module": module(&guest("exit_code")),
                "input": "3",
                "exit_code": 3,
                "stderr": "something else\n"
            }),
        )
        .case(
            "wrong_record",
            json!({ "module": module(&guest("hello")), "record": { "output_size": 1 } }),
        );
    let report = suite.run("").await;
    assert!(!report.ok);
    let problems = |name| case(&report, name).problems.join("; ");
    assert!(
        problems("wrong_stdout").starts_with("stdout differs at byte 12"),
        "{}",
        problems("wrong_stdout")
    );
    assert!(
        problems("wrong_exit").starts_with("exit code 3, expected 0"),
        "{}",
        problems("wrong_exit")
    );
    assert!(
        problems("wrong_stderr").starts_with("stderr differs at byte 0"),
        "{}",
        problems("wrong_stderr")
    );
    assert_eq!(
        problems("wrong_record"),
        "record `output_size` is 14, expected 1"
    );
    for name in ["wrong_stdout", "wrong_exit", "wrong_stderr", "wrong_record"] {
        assert_eq!(case(&report, name).verdict, Verdict::Fail, "{name}");
    }
}

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
async fn the_engine_suites_error_and_record_fields_pass_when_they_hold() {
    let suite = SuiteDir::new("contract");
    suite
        .case(
            "loop",
            json!({
                "module": module(&guest("infinite_loop")),
                "timeout_ms": 100,
                "error": "timeout",
                "record": { "status": "timeout", "namespace": "conformance", "function_name": "loop" }
            }),
        )
        .case(
            "exit",
            json!({
                "module": module(&guest("exit_code")),
                "input": "4",
                "error": "exit",
                "exit_code": 4,
                "record": { "status": "error", "cold_start": true, "input_size": 1 }
            }),
        )
        .case(
            "wrong_kind",
            json!({ "module": module(&guest("trap")), "error": "timeout" }),
        )
        .case(
            "no_error",
            json!({ "module": module(&guest("hello")), "error": "trap" }),
        );
    let report = suite.run("").await;
    assert_eq!(case(&report, "loop").verdict, Verdict::Pass);
    assert_eq!(case(&report, "exit").verdict, Verdict::Pass);
    assert!(
        case(&report, "wrong_kind").problems[0]
            .starts_with("ended with a `trap` error, expected `timeout`"),
        "{:?}",
        case(&report, "wrong_kind").problems
    );
    assert_eq!(
        case(&report, "no_error").problems,
        ["succeeded, expected a `trap` error"]
    );
}

#[tokio::test]
async fn the_expectations_file_excuses_known_failures_and_stays_true() {
    let suite = SuiteDir::new("expected");
    suite
        .case("fails", json!({ "module": module(&guest("trap")) }))
        .case("passes", json!({ "module": module(&guest("hello")) }));

    let known =
        "[[expected_failure]]\nsuite = \"expected\"\ncase = \"fails\"\nreason = \"a known trap\"\n";
    let report = suite.run(known).await;
    assert!(report.ok, "{}", report.to_text());
    let fails = case(&report, "fails");
    assert_eq!(fails.verdict, Verdict::ExpectedFail);
    assert_eq!(fails.expected_reason.as_deref(), Some("a known trap"));
    assert!(report.to_markdown().contains("expected: a known trap"));

    let stale_pass =
        "[[expected_failure]]\nsuite = \"expected\"\ncase = \"passes\"\nreason = \"was broken\"\n";
    let report = suite.run(stale_pass).await;
    assert!(!report.ok);
    assert_eq!(case(&report, "passes").verdict, Verdict::UnexpectedPass);

    let stale_name = format!(
        "{known}[[expected_failure]]\nsuite = \"expected\"\ncase = \"gone\"\nreason = \"r\"\n"
    );
    let report = suite.run(&stale_name).await;
    assert!(!report.ok);
    assert_eq!(report.suites[0].stale_expectations.len(), 1);
}

#[tokio::test]
async fn a_folder_without_suites_or_with_a_bad_manifest_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let runner = Runner::new(Expectations::default(), tmp.path().join("work"));
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let bad = tmp.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(bad.join("manifest.json"), "{\"nome\": 1}").unwrap();
    let report = runner.run(&[empty, bad]).await.unwrap();
    assert!(!report.ok);
    assert_eq!(
        report.suites[0].error.as_deref(),
        Some("no folder here holds a manifest.json")
    );
    let error = report.suites[1].error.as_deref().unwrap();
    assert!(error.contains("is not a suite manifest"), "{error}");
}

#[tokio::test]
async fn the_report_is_written_as_json_and_markdown() {
    let suite = SuiteDir::new("written");
    suite.case(
        "hello",
        json!({ "module": module(&guest("hello")), "stdout": "hello, world!\n" }),
    );
    let report = suite.run("").await;
    let out = suite.dir.parent().unwrap().join("out");
    report.write(&out).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["suites"][0]["name"], "written");
    assert_eq!(json["suites"][0]["cases"][0]["verdict"], "pass");
    assert_eq!(json["totals"]["pass"], 1);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| hello | PASS | 0 |"), "{md}");
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

#[tokio::test]
async fn a_filter_that_matches_nothing_is_not_green() {
    let suite = SuiteDir::new("filtered");
    suite.case("hello", json!({ "module": module(&guest("hello")) }));
    let work = suite.dir.parent().unwrap().join("work");
    let runner = Runner::new(Expectations::default(), &work).with_filter(Some("nope".into()));
    let report = runner.run(std::slice::from_ref(&suite.dir)).await.unwrap();
    assert!(!report.ok);
    assert_eq!(report.problems, ["the filter `nope` matched no case"]);
    let runner = Runner::new(Expectations::default(), &work).with_filter(Some("hel".into()));
    let report = runner.run(std::slice::from_ref(&suite.dir)).await.unwrap();
    assert!(report.ok, "{}", report.to_text());
}

#[tokio::test]
async fn a_work_folder_it_did_not_make_is_never_emptied() {
    let tmp = tempfile::tempdir().unwrap();
    let precious = tmp.path().join("work");
    std::fs::create_dir(&precious).unwrap();
    std::fs::write(precious.join("thesis.txt"), "years of work").unwrap();
    let runner = Runner::new(Expectations::default(), &precious);
    let error = runner.run(&[tmp.path().into()]).await.unwrap_err();
    assert!(
        error.to_string().contains("refusing to empty it"),
        "{error}"
    );
    assert!(precious.join("thesis.txt").exists());
}

#[tokio::test]
async fn expectations_for_suites_that_did_not_run_are_noted() {
    let suite = SuiteDir::new("ran");
    suite.case("hello", json!({ "module": module(&guest("hello")) }));
    let report = suite
        .run("[[expected_failure]]\nsuite = \"rann\"\ncase = \"hello\"\nreason = \"typo\"\n")
        .await;
    assert!(
        report.ok,
        "a subset run may leave other suites' entries unchecked"
    );
    assert_eq!(
        report.notes,
        ["the expected failure of `hello` in `rann` was not checked: no such suite ran"]
    );
}
