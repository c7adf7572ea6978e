use super::*;

fn case(name: &str, verdict: Verdict) -> CaseReport {
    CaseReport {
        name: name.into(),
        verdict,
        problems: if verdict == Verdict::Pass {
            vec![]
        } else {
            vec!["exit code 1, expected 0 | with a pipe".into()]
        },
        expected_reason: None,
        exit_code: Some(1),
        error_kind: None,
        error: None,
        duration_ms: 1.5,
    }
}

fn suite(cases: Vec<CaseReport>) -> SuiteReport {
    SuiteReport {
        name: "s".into(),
        version: None,
        path: "p".into(),
        error: None,
        notes: vec![],
        stale_expectations: vec![],
        cases,
    }
}

#[test]
fn a_run_is_green_only_when_every_case_is_ok() {
    let green = Report::new(
        Utc::now(),
        vec![suite(vec![
            case("a", Verdict::Pass),
            case("b", Verdict::ExpectedFail),
        ])],
        vec![],
        vec!["a note does not fail the run".into()],
    );
    assert!(green.ok);
    assert_eq!(
        green.totals.to_string(),
        "1 of 2 passed, 1 expected failures"
    );
    for bad in [Verdict::Fail, Verdict::UnexpectedPass] {
        let red = Report::new(
            Utc::now(),
            vec![suite(vec![case("a", bad)])],
            vec![],
            vec![],
        );
        assert!(!red.ok, "{bad:?}");
    }
    assert!(
        !Report::new(Utc::now(), vec![], vec![], vec![]).ok,
        "no suite is not green"
    );
    let mut stale = suite(vec![case("a", Verdict::Pass)]);
    stale.stale_expectations.push("`gone`".into());
    assert!(!Report::new(Utc::now(), vec![stale], vec![], vec![]).ok);
    let fine = suite(vec![case("a", Verdict::Pass)]);
    let problem = vec!["the filter `x` matched no case".to_string()];
    assert!(!Report::new(Utc::now(), vec![fine], problem, vec![]).ok);
}

#[test]
fn markdown_cells_cannot_break_the_table() {
    let report = Report::new(
        Utc::now(),
        vec![suite(vec![case("a", Verdict::Fail)])],
        vec![],
        vec![],
    );
    let md = report.to_markdown();
    assert!(md.contains("| a | FAIL | 1 | 1.5 | exit code 1, expected 0 \\| with a pipe |"));
}
