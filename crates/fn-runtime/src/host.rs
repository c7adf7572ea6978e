//! The host imports a guest can link against, added to the runtime's one `Linker`.
//!
//! Today that is WASI preview 1 (async) for modules, and preview 2 for components in a
//! linker of their own. The `fn` import module of host services
//! (DESIGN.md: log, env, secrets, key-value, outbound HTTP, blobs, publish) is linked
//! here too, by [`link`], with its functions reading the per-invocation host context
//! kept in [`StoreState`]: an import the linker does not define is refused at deploy
//! (`instantiate_pre` fails), so a guest can only call what this file adds.

use fn_core::Result;
use wasmtime::{Linker, component};
use wasmtime_wasi::p1;

use crate::internal;
use crate::store::StoreState;

/// The imports of a component: WASI preview 2 (async), the command world's interfaces.
pub(crate) fn link_components(linker: &mut component::Linker<StoreState>) -> Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)
        .map_err(|e| internal("linking WASI preview 2", &e))
}

/// Adds every host import to `linker`.
pub(crate) fn link(linker: &mut Linker<StoreState>) -> Result<()> {
    p1::add_to_linker_async(linker, |state: &mut StoreState| &mut state.wasi)
        .map_err(|e| internal("linking WASI preview 1", &e))?;
    // The `fn` module of host services goes here (fn-host implements
    // `fn_core::HostServices`; its calls are async, bounded in size and time, and read the
    // invocation's host context from `StoreState`).
    Ok(())
}
