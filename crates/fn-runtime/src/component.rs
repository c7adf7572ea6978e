//! WASI preview 2 components: telling one from a core module, deciding from its exports
//! which ABI it speaks, and running a command component (`wasi:cli/run`).
//!
//! Why beside `abi.rs` and not in it: a component is compiled, linked and instantiated
//! through wasmtime's component API (its own `Linker`, `InstancePre` and typed exports),
//! while the core ABIs share the module API. The contract a guest sees is the same:
//! stdin is the input, stdout the output, the store's limits and deadline hold.
//! docs/abi.md is the guest author's view of this file.

use std::borrow::Cow;

use bytes::Bytes;
use tracing::Instrument as _;
use wasmtime::component::Component;
use wasmtime::{Engine, Store};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::p2::bindings::CommandPre;

use crate::abi::Abi;
use crate::classify::Failure;
use crate::pipe::BoundedPipe;
use crate::store::StoreState;

/// The interface a command component exports, without its version.
const CLI_RUN: &str = "wasi:cli/run@";
/// The interface an HTTP component exports, without its version.
const HTTP_HANDLER: &str = "wasi:http/incoming-handler@";
/// The WASI 0.2 versions this engine links (wasmtime-wasi 48 serves 0.2.0 to 0.2.x).
const WASI_0_2: &str = "0.2.";

/// Whether `bytes` (binary, or the text format) are a component rather than a core
/// module: by the binary's header (`\0asm`, version 0x0d, layer 1).
pub(crate) fn is_component(bytes: &[u8]) -> bool {
    let binary: Cow<'_, [u8]> = if bytes.starts_with(b"\0asm") {
        Cow::Borrowed(bytes)
    } else {
        // Text: what it encodes to (a text that does not parse is left to the compiler,
        // as a module, for its own words).
        match wat::parse_bytes(bytes) {
            Ok(binary) => binary,
            Err(_) => return false,
        }
    };
    wasmparser::Parser::is_component(&binary)
}

/// Whether `bytes` are a component that exports `wasi:http/incoming-handler@0.2.x`: an
/// HTTP function, to be served requests. Read from the binary's top-level exports,
/// without compiling (a text or a malformed binary is not one): for a tool that must
/// choose how to call a module before the engine compiles it, as `fnd run` does. The
/// engine's own decision is [`detect`]'s, on the compiled component.
pub fn serves_http(bytes: &[u8]) -> bool {
    use wasmparser::{Parser, Payload};
    if !bytes.starts_with(b"\0asm") || !Parser::is_component(bytes) {
        return false;
    }
    // Nested modules and components come as payloads between their own header and
    // end: only the outermost component's exports count.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::Version { .. }) => depth += 1,
            Ok(Payload::End(_)) => depth = depth.saturating_sub(1),
            Ok(Payload::ComponentExportSection(exports)) if depth == 1 => {
                let http = exports
                    .into_iter()
                    .any(|export| export.is_ok_and(|e| is_wasi_0_2(e.name.name, HTTP_HANDLER)));
                if http {
                    return true;
                }
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

/// Whether the export `name` is `interface` (given without its version) at a WASI 0.2
/// version.
fn is_wasi_0_2(name: &str, interface: &str) -> bool {
    name.strip_prefix(interface)
        .is_some_and(|version| version.starts_with(WASI_0_2))
}

/// The ABI a component speaks, from its exports: an HTTP handler when it exports
/// `wasi:http/incoming-handler@0.2.x`, else a command when it exports
/// `wasi:cli/run@0.2.x`.
///
/// # Errors
///
/// A message (the caller wraps it in `Error::Deploy`) naming what the component exports
/// and what is accepted.
pub(crate) fn detect(engine: &Engine, component: &Component) -> Result<Abi, String> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    let speaks = |interface: &str| exports.iter().any(|name| is_wasi_0_2(name, interface));
    // An HTTP handler first: a guest library's server (wstd's) is a program whose
    // component may export `wasi:cli/run` beside the handler.
    match (speaks(HTTP_HANDLER), speaks(CLI_RUN)) {
        (true, _) => Ok(Abi::ComponentHttp),
        (false, true) => Ok(Abi::ComponentCommand),
        (false, false) => {
            let named = if exports.is_empty() {
                "nothing".to_owned()
            } else {
                exports
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            Err(format!(
                "the component exports {named}; a function component exports \
                 `wasi:cli/run@0.2.x` (a command) or `wasi:http/incoming-handler@0.2.x`"
            ))
        }
    }
}

/// Instantiates the command `pre` in `store` and runs `wasi:cli/run`: the output, or why
/// it stopped. Sets the store's `instantiated` and `called` as the module path does.
pub(crate) async fn run_command(
    store: &mut Store<StoreState>,
    pre: &CommandPre<StoreState>,
    stdout: &BoundedPipe,
) -> Result<Bytes, Failure> {
    let command = pre
        .instantiate_async(&mut *store)
        .instrument(phase_span!("instantiate"))
        .await;
    store.data_mut().instantiated = Some(std::time::Instant::now());
    let command = command.map_err(Failure::Wasm)?;
    store.data_mut().called = true;
    let ran = command
        .wasi_cli_run()
        .call_run(&mut *store)
        .instrument(phase_span!("execute"))
        .await;
    match ran {
        Ok(Ok(())) => Ok(stdout.take()),
        // `run` answered its error: the exit status 1, as `wasmtime run` gives it.
        Ok(Err(())) => Err(Failure::Wasm(I32Exit(1).into())),
        Err(e) if e.downcast_ref::<I32Exit>().is_some_and(|exit| exit.0 == 0) => Ok(stdout.take()),
        Err(e) => Err(Failure::Wasm(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        Engine::default()
    }

    #[test]
    fn only_a_binary_component_exporting_the_handler_serves_http() {
        assert!(!serves_http(b"(component)"), "text is never read as one");
        assert!(!serves_http(&wat::parse_str("(component)").unwrap()));
        assert!(!serves_http(&wat::parse_str("(module)").unwrap()));
        assert!(!serves_http(b"\0asm garbage"));
        // A nested component exporting the name does not make its parent one.
        let nested = wat::parse_str(
            r#"(component
                (component $inner
                    (instance $i)
                    (export "wasi:http/incoming-handler@0.2.0" (instance $i))))"#,
        )
        .unwrap();
        assert!(!serves_http(&nested));
        let top = wat::parse_str(
            r#"(component (instance $i) (export "wasi:http/incoming-handler@0.2.3" (instance $i)))"#,
        )
        .unwrap();
        assert!(serves_http(&top));
    }

    #[test]
    fn a_component_is_told_from_a_module_in_binary_and_text() {
        assert!(!is_component(b"(module)"));
        assert!(is_component(b"(component)"));
        let binary = wat::parse_str("(component)").unwrap();
        assert!(is_component(&binary));
        assert!(!is_component(&wat::parse_str("(module)").unwrap()));
        assert!(!is_component(b"not wasm at all"));
    }

    #[test]
    fn a_component_that_exports_neither_interface_is_refused_naming_its_exports() {
        let engine = engine();
        let component = Component::new(
            &engine,
            r#"(component (core module $m (func (export "f"))) (core instance $i (instantiate $m))
                (func (export "hello") (canon lift (core func $i "f"))))"#,
        )
        .unwrap();
        assert!(component.get_export_index(None, "hello").is_some());
        let message = detect(&engine, &component).unwrap_err();
        assert!(message.contains("`hello`"), "{message}");
        assert!(message.contains("wasi:cli/run@0.2.x"), "{message}");
        let empty = Component::new(&engine, "(component)").unwrap();
        assert!(
            detect(&engine, &empty)
                .unwrap_err()
                .contains("exports nothing")
        );
    }
}
