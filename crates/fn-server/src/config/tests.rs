use super::*;

fn parse(text: &str) -> Result<ServeConfig, ConfigError> {
    ServeConfig::parse(text, "fnd.toml", Vec::new())
}

#[test]
fn the_default_file_is_the_defaults() {
    let config = parse(DEFAULT_FILE).unwrap();
    assert_eq!(config.engine, Config::default());
    assert_eq!(config.server, ServerSettings::default());
    assert!(config.telemetry.is_empty());
    assert_eq!(
        parse("").unwrap(),
        config,
        "an empty file is the defaults too"
    );
}

#[test]
fn the_default_files_commented_settings_are_valid() {
    // Each `# key = value` line, uncommented, still makes a valid configuration.
    let mut section = String::new();
    for line in DEFAULT_FILE.lines() {
        if line.starts_with('[') {
            section = line.to_owned();
            continue;
        }
        let Some(setting) = line.strip_prefix("# ") else {
            continue;
        };
        let Some((key, _)) = setting.split_once(" = ") else {
            continue;
        };
        if key.contains(' ') {
            continue;
        }
        let text = format!("{section}\n{setting}\n");
        let parsed = parse(&text);
        assert!(parsed.is_ok(), "{text}: {parsed:?}");
    }
}

#[test]
fn values_are_written_as_people_write_them() {
    let config = parse(
        r#"
max_timeout = "2m"
max_memory_bytes = "64MiB"
epoch_tick = "500us"
[server]
listen = "0.0.0.0:9000"
drain = "5s"
outbound_allowed_ranges = ["10.20.0.0/16", "fd00::/8"]
[pooling]
slots = 16
keep_resident_bytes = 16384
[admission]
caller_rate = { requests = 5, per = "1s", burst = 5 }
max_wait = "250ms"
[telemetry]
exporter_otlp_endpoint = "http://127.0.0.1:4318"
"#,
    )
    .unwrap();
    let engine = &config.engine;
    assert_eq!(engine.max_timeout, Duration::from_secs(120));
    assert_eq!(engine.max_memory_bytes, 64 << 20);
    assert_eq!(engine.epoch_tick, Duration::from_micros(500));
    assert_eq!(engine.pooling.slots, 16);
    assert_eq!(engine.pooling.keep_resident_bytes, 16384);
    let rate = engine.admission.caller_rate.unwrap();
    assert_eq!(
        (rate.requests, rate.per, rate.burst),
        (5, Duration::from_secs(1), 5)
    );
    assert_eq!(engine.admission.max_wait, Duration::from_millis(250));
    assert_eq!(config.server.listen.port(), 9000);
    assert_eq!(config.server.drain, Duration::from_secs(5));
    assert_eq!(
        config.server.outbound_allowed_ranges,
        ["10.20.0.0/16".parse().unwrap(), "fd00::/8".parse().unwrap()]
    );
    assert_eq!(
        config
            .otel_variable("OTEL_EXPORTER_OTLP_ENDPOINT", |_| None)
            .as_deref(),
        Some("http://127.0.0.1:4318")
    );
    assert_eq!(
        config
            .otel_variable("OTEL_EXPORTER_OTLP_ENDPOINT", |_| Some(
                "http://elsewhere".into()
            ))
            .as_deref(),
        Some("http://elsewhere"),
        "the variable comes before the file"
    );
}

/// Each mistake names the file, the field and what is wrong.
#[test]
fn mistakes_name_the_file_the_field_and_why() {
    let cases: &[(&str, &str, &str)] = &[
        ("max_timeout = \"soon\"", "max_timeout", "soon"),
        ("max_memory_bytes = \"lots\"", "max_memory_bytes", "lots"),
        ("max_timout = \"1s\"", "", "max_timout"),
        ("[admission]\nmax_wait = \"2m\"", "admission.max_wait", "60"),
        (
            "[admission]\ncaller_rate = { requests = 5, per = \"1s\", brust = 5 }",
            "admission.caller_rate.brust",
            "brust",
        ),
        ("[pooling]\nslots = 0", "pooling.slots", "greater than zero"),
        (
            "[server]\nlisten = \"localhost\"",
            "server.listen",
            "address",
        ),
        ("[server]\nport = 80", "server.port", "port"),
        (
            "[server]\noutbound_allowed_ranges = [\"10.0.0.0/33\"]",
            "server.outbound_allowed_ranges[0]",
            "invalid IP address",
        ),
        ("max_timeout = ", "", "line 1"),
    ];
    for (text, field, says) in cases {
        let error = parse(text).unwrap_err();
        assert_eq!(error.origin, "fnd.toml", "{text}");
        let message = error.to_string();
        assert!(message.starts_with("fnd.toml: "), "{text}: {message}");
        if !field.is_empty() {
            assert_eq!(error.field.as_deref(), Some(*field), "{text}: {message}");
        }
        assert!(message.contains(says), "{text}: {message}");
    }
}

#[test]
fn variables_come_before_the_file() {
    let env = vec![
        ("FND__ADMISSION__MAX_WAIT".to_owned(), "2s".to_owned()),
        ("FND__POOLING__SLOTS".to_owned(), "32".to_owned()),
        ("FND__MAX_MEMORY_BYTES".to_owned(), "128MiB".to_owned()),
        ("FND__SERVER__RETENTION_DAYS".to_owned(), "3".to_owned()),
        ("UNRELATED".to_owned(), "x".to_owned()),
    ];
    let text = "[admission]\nmax_wait = \"250ms\"\n[pooling]\nslots = 8\n";
    let config = ServeConfig::parse(text, "fnd.toml", env).unwrap();
    assert_eq!(config.engine.admission.max_wait, Duration::from_secs(2));
    assert_eq!(config.engine.pooling.slots, 32);
    assert_eq!(config.engine.max_memory_bytes, 128 << 20);
    assert_eq!(config.server.retention_days, 3);
    let error = ServeConfig::parse(
        "",
        "fnd.toml",
        vec![("FND__ADMISSION__MAX_WAIT".to_owned(), "forever".to_owned())],
    )
    .unwrap_err();
    assert_eq!(error.field.as_deref(), Some("admission.max_wait"));
    assert!(error.to_string().contains("FND__"), "{error}");
}
