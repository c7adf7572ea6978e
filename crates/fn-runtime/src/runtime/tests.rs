use super::*;

#[test]
fn ticks_round_up() {
    let ms = Duration::from_millis(1);
    assert_eq!(ticks_until(Duration::from_millis(10), ms), 10);
    assert_eq!(ticks_until(Duration::from_micros(10_001), ms), 11);
    assert_eq!(ticks_until(Duration::ZERO, ms), 1);
}

#[test]
fn wasi_resource_table_is_capped_from_the_config() {
    let config = Config {
        max_wasi_resources: 7,
        ..Config::default()
    };
    let env = BTreeMap::new();
    let invocation = Invocation {
        name: "f",
        env: &env,
        args: &[],
        preopens: &[],
        timeout: Duration::from_secs(1),
        max_memory_bytes: 1 << 20,
    };
    let pipe = BoundedPipe::new(16);
    let (mut wasi, handle_input) = wasi_context(
        &config,
        &[],
        &invocation,
        Abi::WasiCommand,
        Bytes::from_static(b"in"),
        &pipe,
        &pipe,
    )
    .expect("no preopens to fail");
    assert_eq!(wasi.ctx().table.max_capacity(), 7);
    assert!(handle_input.is_none(), "a command takes its input on stdin");
    let (_, handle_input) = wasi_context(
        &config,
        &[],
        &invocation,
        Abi::Handle {
            has_malloc: true,
            has_initialize: false,
        },
        Bytes::from_static(b"in"),
        &pipe,
        &pipe,
    )
    .expect("no preopens to fail");
    assert_eq!(handle_input.as_deref(), Some(&b"in"[..]));
}
