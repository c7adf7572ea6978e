//! Calling a module through its ABI: instantiate, then run `_start` (a WASI command) or
//! `_initialize`, `malloc` and `handle` (the handle ABI), checking every pointer and
//! length the guest hands back.
//!
//! Why beside the detection: `detect` decides which exports a module relies on and their
//! signatures; this file relies on exactly those, by the indices `detect` stored.

use bytes::Bytes;
use tracing::Instrument;
use wasmtime::{Extern, Store};
use wasmtime_wasi::I32Exit;

use super::{Entry, guest_range, unpack_result};
use crate::classify::Failure;
use crate::pipe::BoundedPipe;
use crate::runtime::CompiledModule;
use crate::store::StoreState;

/// A debug span for a phase, or `Span::none()` when nothing would record it. Why: with
/// tracing's `log` feature on (sqlx turns it on for the whole build), a disabled span
/// still carries its metadata so that it can go to the `log` crate, and every poll of
/// the future it instruments then asks `log` for its level (a few hundred instructions
/// a call, callgrind); a none span asks nothing.
macro_rules! phase_span {
    ($name:literal) => {
        if tracing::span_enabled!(tracing::Level::DEBUG) {
            tracing::debug_span!($name)
        } else {
            tracing::Span::none()
        }
    };
}

/// Instantiates `module` in `store` and runs it: the output, or why it stopped.
///
/// The spans `instantiate` and `execute` (target `fn_runtime`, level debug) mark the two
/// phases; an `execute` span exists once the guest's code is about to run. When
/// instantiation ends, successful or not, the store's `instantiated` is set.
pub(crate) async fn run(
    store: &mut Store<StoreState>,
    module: &CompiledModule,
    handle_input: Option<Bytes>,
    stdout: &BoundedPipe,
    max_output_bytes: u64,
) -> Result<Bytes, Failure> {
    let instance = module
        .pre
        .instantiate_async(&mut *store)
        .instrument(phase_span!("instantiate"))
        .await;
    store.data_mut().instantiated = Some(std::time::Instant::now());
    let instance = instance.map_err(Failure::Wasm)?;
    store.data_mut().called = true;
    let func = |store: &mut Store<StoreState>, export| {
        instance
            .get_module_export(&mut *store, export)
            .and_then(Extern::into_func)
            .expect("the export was checked when the module was compiled")
    };
    let execute = phase_span!("execute");
    match &module.entry {
        Entry::Command { start } => {
            let start = func(store, start)
                .typed::<(), ()>(&*store)
                .map_err(Failure::Wasm)?;
            match start.call_async(&mut *store, ()).instrument(execute).await {
                Ok(()) => {}
                Err(e) if e.downcast_ref::<I32Exit>().is_some_and(|exit| exit.0 == 0) => {}
                Err(e) => return Err(Failure::Wasm(e)),
            }
            Ok(stdout.take())
        }
        Entry::Handle {
            handle,
            memory,
            malloc,
            initialize,
        } => {
            let input = handle_input.unwrap_or_default();
            let memory = instance
                .get_module_export(&mut *store, memory)
                .and_then(Extern::into_memory)
                .expect("the export was checked when the module was compiled");
            let handle = func(store, handle)
                .typed::<(i32, i32), i64>(&*store)
                .map_err(Failure::Wasm)?;
            let initialize = match initialize {
                Some(export) => Some(
                    func(store, export)
                        .typed::<(), ()>(&*store)
                        .map_err(Failure::Wasm)?,
                ),
                None => None,
            };
            let malloc = match malloc {
                Some(export) => Some(
                    func(store, export)
                        .typed::<i32, i32>(&*store)
                        .map_err(Failure::Wasm)?,
                ),
                None => None,
            };
            let input_len = u32::try_from(input.len())
                .map_err(|_| Failure::Abi("input is larger than 4 GiB".into()))?;
            let call = async {
                if let Some(initialize) = initialize {
                    initialize
                        .call_async(&mut *store, ())
                        .await
                        .map_err(Failure::Wasm)?;
                }
                let input_ptr = if input.is_empty() {
                    0
                } else {
                    // Without `malloc` there is nowhere to put the input; the Go engine
                    // silently passed (0, len) and the guest read garbage.
                    let Some(malloc) = malloc else {
                        return Err(Failure::Abi(format!(
                            "the module exports no `malloc`, so it cannot take the {input_len}-byte input"
                        )));
                    };
                    let ptr = malloc
                        .call_async(&mut *store, input_len as i32)
                        .await
                        .map_err(Failure::Wasm)? as u32;
                    let range = guest_range(
                        "`malloc`'s block for the input",
                        ptr,
                        input_len,
                        memory.data_size(&*store),
                    )
                    .map_err(Failure::Abi)?;
                    memory.data_mut(&mut *store)[range].copy_from_slice(&input);
                    ptr
                };
                handle
                    .call_async(&mut *store, (input_ptr as i32, input_len as i32))
                    .await
                    .map_err(Failure::Wasm)
            };
            let packed = call.instrument(execute).await?;
            let (ptr, len) = unpack_result(packed);
            // Bounds first: a result that claims more than the guest's memory holds is an
            // ABI violation, whatever its size.
            let range = guest_range("the handle result", ptr, len, memory.data_size(&*store))
                .map_err(Failure::Abi)?;
            if u64::from(len) > max_output_bytes {
                return Err(Failure::HandleResultTooLarge);
            }
            Ok(Bytes::copy_from_slice(&memory.data(&*store)[range]))
        }
    }
}
