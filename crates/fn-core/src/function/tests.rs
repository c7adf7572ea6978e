use super::*;

type Mutation = Box<dyn Fn(&mut FunctionDefinition)>;

fn valid() -> FunctionDefinition {
    FunctionDefinition::new("acme", "resize")
}

fn field_of(def: &FunctionDefinition) -> String {
    match def.validate(&Config::default()) {
        Err(Error::Validation { field, .. }) => field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn accepts_a_plain_definition() {
    valid().validate(&Config::default()).unwrap();
}

#[test]
fn names_the_wrong_field() {
    let config = Config::default();
    let cases: Vec<(&str, Mutation)> = vec![
        ("name", Box::new(|d| d.name = String::new())),
        ("name", Box::new(|d| d.name = "Upper".into())),
        ("name", Box::new(|d| d.name = "-lead".into())),
        ("name", Box::new(|d| d.name = "a".repeat(MAX_NAME_LEN + 1))),
        ("namespace", Box::new(|d| d.namespace = "a/b".into())),
        ("version", Box::new(|d| d.version = 0)),
        ("route", Box::new(|d| d.route = Some("shop".into()))),
        ("route", Box::new(|d| d.route = Some("/shop/".into()))),
        ("route", Box::new(|d| d.route = Some("/a//b".into()))),
        ("route", Box::new(|d| d.route = Some("/a/../v1".into()))),
        ("route", Box::new(|d| d.route = Some("/a b".into()))),
        ("route", Box::new(|d| d.route = Some("/a%2f".into()))),
        ("route", Box::new(|d| d.route = Some("/v1".into()))),
        (
            "route",
            Box::new(|d| d.route = Some("/v1/functions".into())),
        ),
        ("route", Box::new(|d| d.route = Some("/healthz".into()))),
        (
            "config",
            Box::new(|d| drop(d.config.insert(String::new(), "v".into()))),
        ),
        (
            "config",
            Box::new(|d| drop(d.config.insert("k".into(), "a\0b".into()))),
        ),
        (
            "config",
            Box::new(|d| {
                d.config = (0..=crate::MAX_CONFIG_VALUES)
                    .map(|i| (i.to_string(), String::new()))
                    .collect();
            }),
        ),
        (
            "config",
            Box::new(|d| {
                drop(
                    d.config
                        .insert("k".into(), "x".repeat(crate::MAX_CONFIG_BYTES)),
                )
            }),
        ),
        (
            "allow_outbound",
            Box::new(|d| {
                let rule: crate::OutboundRule = "https://api.example.com".parse().unwrap();
                d.allow_outbound = vec![rule; crate::MAX_OUTBOUND_RULES + 1];
            }),
        ),
        (
            "route",
            Box::new(|d| d.route = Some(format!("/{}", "a".repeat(MAX_ROUTE_BYTES)))),
        ),
        ("max_memory_bytes", Box::new(|d| d.max_memory_bytes = 0)),
        (
            "max_memory_bytes",
            Box::new(move |d| d.max_memory_bytes = config.max_memory_bytes + 1),
        ),
        ("timeout", Box::new(|d| d.timeout = Duration::ZERO)),
        (
            "timeout",
            Box::new(move |d| d.timeout = config.max_timeout + Duration::from_millis(1)),
        ),
        (
            "env",
            Box::new(|d| {
                d.env.insert("A=B".into(), "x".into());
            }),
        ),
        (
            "env",
            Box::new(|d| {
                d.env.insert("A".into(), "x\0".into());
            }),
        ),
        (
            "env",
            Box::new(|d| {
                d.env.insert("BIG".into(), "x".repeat(MAX_ENV_BYTES));
            }),
        ),
        (
            "args",
            Box::new(|d| d.args = vec!["ok".into(), "a\0b".into()]),
        ),
        (
            "args",
            Box::new(|d| d.args = vec![String::new(); MAX_ARGS + 1]),
        ),
        (
            "args",
            Box::new(|d| d.args = vec!["x".repeat(MAX_ARGS_BYTES)]),
        ),
        (
            "rate.requests",
            Box::new(|d| d.rate = Some(crate::RateQuota::per_second(0))),
        ),
        ("max_concurrency", Box::new(|d| d.max_concurrency = Some(0))),
        // The default config allows no preopened folder at all.
        (
            "preopens",
            Box::new(|d| d.preopens = vec![preopen("/srv/data")]),
        ),
    ];
    for (expected, mutate) in cases {
        let mut def = valid();
        mutate(&mut def);
        assert_eq!(field_of(&def), expected, "{def:?}");
    }
}

#[test]
fn serde_round_trip_flattens_the_definition() {
    let mut def = valid();
    def.env.insert("GREETING".into(), "hi".into());
    let function = Function::new(def, Cid::of(b"m"));
    let json = serde_json::to_value(&function).unwrap();
    assert_eq!(json["name"], "resize");
    assert_eq!(json["timeout"], 5000);
    let back: Function = serde_json::from_value(json).unwrap();
    assert_eq!(back, function);
}

fn preopen(host: &str) -> Preopen {
    Preopen {
        host: host.into(),
        guest: "/".into(),
        writable: false,
    }
}

#[test]
fn preopens_must_lie_under_an_allowed_root() {
    let config = Config {
        preopen_roots: vec!["/srv/functions".into()],
        ..Config::default()
    };
    let check = |preopens: Vec<Preopen>| {
        let mut def = valid();
        def.preopens = preopens;
        def.validate(&config)
    };
    check(vec![preopen("/srv/functions/acme/data")]).unwrap();
    check(vec![preopen("/srv/functions")]).unwrap();
    for (host, why) in [
        ("/srv/functions-evil", "not under"),
        ("/srv/functions/../../etc", "without `.` or `..`"),
        ("srv/functions/x", "absolute"),
        ("/etc", "not under"),
    ] {
        match check(vec![preopen(host)]) {
            Err(Error::Validation { field, reason }) => {
                assert_eq!(field, "preopens.host", "{host}");
                assert!(reason.contains(why), "{host}: {reason}");
            }
            other => panic!("{host}: expected a validation error, got {other:?}"),
        }
    }
    let mut empty_guest = preopen("/srv/functions/a");
    empty_guest.guest = String::new();
    assert!(matches!(
        check(vec![empty_guest]),
        Err(Error::Validation { field, .. }) if field == "preopens.guest"
    ));
    assert!(matches!(
        check(vec![preopen("/srv/functions/a"); MAX_PREOPENS + 1]),
        Err(Error::Validation { field, .. }) if field == "preopens"
    ));
}

#[test]
fn config_refuses_a_relative_preopen_root() {
    let config = Config {
        preopen_roots: vec!["srv".into()],
        ..Config::default()
    };
    assert!(matches!(
        config.validate(),
        Err(Error::Validation { field, .. }) if field == "preopen_roots"
    ));
}

#[test]
fn args_and_preopens_are_left_out_of_json_when_empty() {
    let json = serde_json::to_value(valid()).unwrap();
    assert!(json.get("args").is_none() && json.get("preopens").is_none());
    let back: FunctionDefinition = serde_json::from_value(json).unwrap();
    assert_eq!(back, valid());
}

#[test]
fn name_from_always_makes_a_valid_name() {
    for (text, prefix, want) in [
        ("Hello World", "fn-", "hello-world"),
        ("_x", "fn-", "fn-_x"),
        ("", "fn-", "fn-"),
        ("émoji✓", "c", "c-moji-"),
    ] {
        let name = name_from(text, prefix);
        assert_eq!(name, want, "{text:?}");
        let mut def = valid();
        def.name = name;
        def.validate(&Config::default()).unwrap();
    }
    assert_eq!(name_from(&"a".repeat(100), "c").len(), MAX_NAME_LEN);
}

#[test]
fn an_invocable_definition_may_exceed_the_caps_but_nothing_else() {
    let config = Config::default();
    let mut def = valid();
    def.timeout = config.max_timeout * 2;
    def.max_memory_bytes = config.max_memory_bytes * 2;
    def.validate_invocable(&config).unwrap();
    assert!(def.validate(&config).is_err(), "a deploy refuses it");
    let limits = crate::InvocationLimits::new(&def, &config);
    assert_eq!(limits.timeout(), config.max_timeout);
    assert_eq!(limits.max_memory_bytes(), config.max_memory_bytes);
    def.timeout = Duration::ZERO;
    match def.validate_invocable(&config) {
        Err(Error::Validation { field, .. }) => assert_eq!(field, "timeout"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn routes_claim_a_prefix_by_whole_segments() {
    for route in ["/", "/shop", "/shop/v2", "/v1x", "/a-b.c_d~e"] {
        check_route(route).unwrap_or_else(|why| panic!("{route}: {why}"));
    }
    assert!(route_covers("/shop", "/shop"));
    assert!(route_covers("/shop", "/shop/cart"));
    assert!(!route_covers("/shop", "/shopping"));
    assert!(route_covers("/", "/anything"));
}
