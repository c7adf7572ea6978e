use super::*;

#[test]
fn unknown_case_fields_are_refused() {
    let error = serde_json::from_str::<CaseSpec>(r#"{"arg": ["x"]}"#).unwrap_err();
    assert!(error.to_string().contains("unknown field `arg`"), "{error}");
}

#[test]
fn manifest_config_changes_the_defaults_and_names_unknown_fields() {
    let manifest: Manifest =
        serde_json::from_str(r#"{"name": "s", "config": {"max_input_bytes": 1024}}"#).unwrap();
    let config = manifest.engine_config(None).unwrap();
    assert_eq!(config.max_input_bytes, 1024);
    assert_eq!(config.max_output_bytes, Config::default().max_output_bytes);

    let manifest: Manifest =
        serde_json::from_str(r#"{"name": "s", "config": {"max_inputs": 1}}"#).unwrap();
    let error = manifest.engine_config(None).unwrap_err().to_string();
    assert!(error.contains("`max_inputs`"), "{error}");
}

#[test]
fn expectations_need_a_reason_and_no_repeats() {
    let ok = Expectations::parse(
        "[[expected_failure]]\nsuite = \"s\"\ncase = \"c\"\nreason = \"known bug\"\n",
    )
    .unwrap();
    assert_eq!(ok.reason("s", "c"), Some("known bug"));
    assert_eq!(ok.reason("s", "d"), None);

    let no_reason =
        Expectations::parse("[[expected_failure]]\nsuite = \"s\"\ncase = \"c\"\nreason = \" \"\n");
    assert!(
        no_reason
            .unwrap_err()
            .to_string()
            .contains("gives no reason")
    );
    let twice = "[[expected_failure]]\nsuite = \"s\"\ncase = \"c\"\nreason = \"r\"\n".repeat(2);
    assert!(
        Expectations::parse(&twice)
            .unwrap_err()
            .to_string()
            .contains("listed twice")
    );
}

#[test]
fn files_that_are_not_regular_or_too_large_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; 11]).unwrap();
    assert!(
        read_bounded(&big, 10)
            .unwrap_err()
            .to_string()
            .contains("larger than 10")
    );
    assert_eq!(read_bounded(&big, 11).unwrap().len(), 11);
    let error = read_bounded(Path::new("/dev/zero"), 10)
        .unwrap_err()
        .to_string();
    assert!(error.contains("not a regular file"), "{error}");
    let error = read_bounded(dir.path(), 10).unwrap_err().to_string();
    assert!(error.contains("not a regular file"), "{error}");
}

#[test]
fn out_of_range_and_escaping_fields_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("c.json");
    for (json, why) in [
        (r#"{"input_size": 18446744073709551615}"#, "input_size"),
        (r#"{"memory_mib": 18446744073709551615}"#, "memory_mib"),
        (r#"{"root": "/"}"#, "`root` must be"),
        (r#"{"root": "../elsewhere"}"#, "`root` must be"),
        (r#"{"input": "a", "input_size": 1}"#, "not both"),
    ] {
        std::fs::write(&spec, json).unwrap();
        let error = format!("{:#}", CaseSpec::load(&spec).unwrap_err());
        assert!(error.contains(why), "{json}: {error}");
    }
    std::fs::write(&spec, r#"{"root": "./fs-tests.dir"}"#).unwrap();
    CaseSpec::load(&spec).unwrap();
}

#[test]
fn input_size_makes_that_many_bytes() {
    let spec = CaseSpec {
        input_size: Some(3),
        ..CaseSpec::default()
    };
    assert_eq!(spec.input_bytes(), b"xxx");
}
