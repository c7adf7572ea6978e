use super::*;

fn detect_wat(wat: &str) -> Result<Abi, String> {
    let engine = wasmtime::Engine::default();
    let module = Module::new(&engine, wat).unwrap();
    detect(&module).map(|(abi, _)| abi)
}

#[test]
fn command_and_handle_are_detected() {
    assert_eq!(
        detect_wat(r#"(module (func (export "_start")))"#),
        Ok(Abi::WasiCommand)
    );
    assert_eq!(
        detect_wat(
            r#"(module (memory (export "memory") 1)
                 (func (export "handle") (param i32 i32) (result i64) i64.const 0))"#
        ),
        Ok(Abi::Handle {
            has_malloc: false,
            has_initialize: false
        })
    );
    assert_eq!(
        detect_wat(
            r#"(module (memory (export "memory") 1)
                 (func (export "_initialize"))
                 (func (export "malloc") (param i32) (result i32) i32.const 0)
                 (func (export "free") (param i32))
                 (func (export "handle") (param i32 i32) (result i64) i64.const 0))"#
        ),
        Ok(Abi::Handle {
            has_malloc: true,
            has_initialize: true
        })
    );
}

#[test]
fn neither_abi_names_both() {
    let err = detect_wat("(module)").unwrap_err();
    assert!(
        err.contains("`_start`") && err.contains("`handle`"),
        "{err}"
    );
}

#[test]
fn both_abis_at_once_are_refused() {
    let err = detect_wat(
        r#"(module (memory (export "memory") 1)
             (func (export "_start"))
             (func (export "handle") (param i32 i32) (result i64) i64.const 0))"#,
    )
    .unwrap_err();
    assert!(
        err.contains("both `_start`") && err.contains("`handle`"),
        "{err}"
    );
}

#[test]
fn wrong_signatures_are_named() {
    let cases = [
        (
            r#"(module (func (export "_start") (param i32)))"#,
            "export `_start` has type (i32) -> ()",
        ),
        (
            r#"(module (memory (export "memory") 1)
                 (func (export "handle") (param i32) (result i32) i32.const 0))"#,
            "export `handle` has type (i32) -> (i32) but the ABI needs (i32, i32) -> (i64)",
        ),
        (
            r#"(module (func (export "handle") (param i32 i32) (result i64) i64.const 0))"#,
            "exported memory named `memory`",
        ),
        (
            r#"(module (memory (export "memory") 1)
                 (func (export "malloc") (result i32) i32.const 0)
                 (func (export "handle") (param i32 i32) (result i64) i64.const 0))"#,
            "export `malloc` has type",
        ),
    ];
    for (wat, needle) in cases {
        let err = detect_wat(wat).unwrap_err();
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn unpacks_len_high_ptr_low() {
    assert_eq!(unpack_result((5_i64 << 32) | 0x10), (0x10, 5));
    assert_eq!(unpack_result(-1), (u32::MAX, u32::MAX));
    assert_eq!(unpack_result(0), (0, 0));
}

#[test]
fn guest_ranges_are_bounds_checked() {
    assert_eq!(guest_range("output", 10, 5, 15).unwrap(), 10..15);
    assert_eq!(guest_range("output", 0, 0, 0).unwrap(), 0..0);
    for (ptr, len, size) in [
        (10, 6, 15),
        (u32::MAX, 1, 65536),
        (u32::MAX, u32::MAX, 1 << 32),
        (65536, 0, 65535),
    ] {
        match guest_range("output", ptr, len, size) {
            Err(reason) => assert!(reason.contains("output"), "{reason}"),
            other => panic!("({ptr}, {len}, {size}) expected an ABI error, got {other:?}"),
        }
    }
}
