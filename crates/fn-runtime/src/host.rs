//! The host imports a guest can link against, added to the runtime's one `Linker`.
//!
//! WASI preview 1 (async) for modules; preview 2 for components in a linker of their
//! own, with the host services components reach through standard WASI interfaces
//! (`wasi:config/store`; `wasi:http/outgoing-handler` for HTTP functions), each reading
//! the invocation's state in [`StoreState`]. Core modules stay pure compute. An import
//! the linker does not define is refused at deploy (`instantiate_pre` fails), so a guest
//! can only call what this file adds.

use fn_core::Result;
use wasmtime::{Linker, component};
use wasmtime_wasi::p1;

use crate::internal;
use crate::store::StoreState;

/// The imports of a component: WASI preview 2 (async), the command world's interfaces.
pub(crate) fn link_components(linker: &mut component::Linker<StoreState>) -> Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)
        .map_err(|e| internal("linking WASI preview 2", &e))?;
    link_config(linker)
}

/// `wasi:config/store`: the function's config values, read by key.
fn link_config(linker: &mut component::Linker<StoreState>) -> Result<()> {
    wasmtime_wasi_config::add_to_linker(linker, |state: &mut StoreState| {
        wasmtime_wasi_config::WasiConfig::new(&state.config)
    })
    .map_err(|e| internal("linking wasi:config", &e))
}

/// The imports of an HTTP component: the `wasi:http/proxy` world (clocks, random, stdio,
/// `wasi:http`), and of the command world what a program's standard library links
/// whether or not it is used (the environment, exit, terminals, the insecure random
/// seed: Rust's std for `wasm32-wasip2` imports them all), and `wasi:config/store`. No
/// filesystem and no sockets: a component importing them is refused at deploy, naming
/// the import. Outbound requests are judged per call (`http.rs`).
pub(crate) fn link_http(linker: &mut component::Linker<StoreState>) -> Result<()> {
    use wasmtime_wasi::cli::WasiCli;
    use wasmtime_wasi::p2::bindings::{cli, random};
    use wasmtime_wasi::random::WasiRandom;
    type T = StoreState;
    let l = linker;
    let linked = (|| {
        wasmtime_wasi_http::p2::add_to_linker_async(l)?;
        let cli = <T as wasmtime_wasi::cli::WasiCliView>::cli;
        cli::environment::add_to_linker::<T, WasiCli>(l, cli)?;
        cli::exit::add_to_linker::<T, WasiCli>(l, cli)?;
        cli::terminal_input::add_to_linker::<T, WasiCli>(l, cli)?;
        cli::terminal_output::add_to_linker::<T, WasiCli>(l, cli)?;
        cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, cli)?;
        cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, cli)?;
        cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, cli)?;
        let random = <T as wasmtime_wasi::random::WasiRandomView>::random;
        random::insecure::add_to_linker::<T, WasiRandom>(l, random)?;
        random::insecure_seed::add_to_linker::<T, WasiRandom>(l, random)?;
        wasmtime::Result::<()>::Ok(())
    })();
    linked.map_err(|e| internal("linking wasi:http", &e))?;
    link_config(l)
}

/// Adds every host import to `linker`.
pub(crate) fn link(linker: &mut Linker<StoreState>) -> Result<()> {
    p1::add_to_linker_async(linker, |state: &mut StoreState| &mut state.wasi)
        .map_err(|e| internal("linking WASI preview 1", &e))
    // Core modules stay pure compute: host services reach components only, through
    // the standard WASI interfaces linked above.
}
