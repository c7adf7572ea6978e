//! Calling a module through its ABI: instantiate, then run `_start` (a WASI command) or
//! `_initialize`, `malloc` and `handle` (the handle ABI), checking every pointer and
//! length the guest hands back.
//!
//! Why beside the detection: `detect` decides which exports a module relies on and their
//! signatures; this file relies on exactly those, by the indices `detect` stored.

use bytes::Bytes;
use tracing::Instrument;
use wasmtime::{
    Extern, Instance, InstancePre, Memory, ModuleExport, Store, TypedFunc, WasmParams, WasmResults,
};
use wasmtime_wasi::I32Exit;

use super::{Entry, guest_range, unpack_result};
use crate::classify::Failure;
use crate::pipe::BoundedPipe;
use crate::store::StoreState;

/// Instantiates the module `pre` in `store` and runs it through `entry`: the output, or why it stopped.
///
/// The spans `instantiate` and `execute` (target `fn_runtime`, level debug) mark the two
/// phases; an `execute` span exists once the guest's code is about to run. When
/// instantiation ends, successful or not, the store's `instantiated` is set.
pub(crate) async fn run(
    store: &mut Store<StoreState>,
    pre: &InstancePre<StoreState>,
    entry: &Entry,
    handle_input: Option<Bytes>,
    stdout: &BoundedPipe,
    max_output_bytes: u64,
) -> Result<Bytes, Failure> {
    let instance = pre
        .instantiate_async(&mut *store)
        .instrument(phase_span!("instantiate"))
        .await;
    store.data_mut().instantiated = Some(std::time::Instant::now());
    let instance = instance.map_err(Failure::Wasm)?;
    store.data_mut().called = true;
    let execute = phase_span!("execute");
    match entry {
        Entry::Command { start } => {
            let start = typed::<(), ()>(store, &instance, start)?;
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
            let memory = instance
                .get_module_export(&mut *store, memory)
                .and_then(Extern::into_memory)
                .expect("the export was checked when the module was compiled");
            let exports = HandleExports {
                memory,
                handle: typed(store, &instance, handle)?,
                malloc: optional(store, &instance, malloc.as_ref())?,
                initialize: optional(store, &instance, initialize.as_ref())?,
            };
            let input = handle_input.unwrap_or_default();
            let (ptr, len) = exports.call(store, &input).instrument(execute).await?;
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

/// The export `export` of `instance` as a typed function (its signature was checked
/// when the module was compiled).
fn typed<Params, Results>(
    store: &mut Store<StoreState>,
    instance: &Instance,
    export: &ModuleExport,
) -> Result<TypedFunc<Params, Results>, Failure>
where
    Params: WasmParams,
    Results: WasmResults,
{
    instance
        .get_module_export(&mut *store, export)
        .and_then(Extern::into_func)
        .expect("the export was checked when the module was compiled")
        .typed(&*store)
        .map_err(Failure::Wasm)
}

fn optional<Params, Results>(
    store: &mut Store<StoreState>,
    instance: &Instance,
    export: Option<&ModuleExport>,
) -> Result<Option<TypedFunc<Params, Results>>, Failure>
where
    Params: WasmParams,
    Results: WasmResults,
{
    export
        .map(|export| typed(store, instance, export))
        .transpose()
}

/// What the handle ABI calls, taken from one instance.
struct HandleExports {
    memory: Memory,
    handle: TypedFunc<(i32, i32), i64>,
    malloc: Option<TypedFunc<i32, i32>>,
    initialize: Option<TypedFunc<(), ()>>,
}

impl HandleExports {
    /// `_initialize`, then `input` copied into a block from `malloc`, then `handle`:
    /// the result's pointer and length, unchecked.
    async fn call(
        &self,
        store: &mut Store<StoreState>,
        input: &[u8],
    ) -> Result<(u32, u32), Failure> {
        let input_len = u32::try_from(input.len())
            .map_err(|_| Failure::Abi("input is larger than 4 GiB".into()))?;
        if let Some(initialize) = &self.initialize {
            initialize
                .call_async(&mut *store, ())
                .await
                .map_err(Failure::Wasm)?;
        }
        let input_ptr = if input.is_empty() {
            0
        } else {
            // Without `malloc` there is nowhere to put the input; the Go engine silently
            // passed (0, len) and the guest read garbage.
            let Some(malloc) = &self.malloc else {
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
                self.memory.data_size(&*store),
            )
            .map_err(Failure::Abi)?;
            self.memory.data_mut(&mut *store)[range].copy_from_slice(input);
            ptr
        };
        let packed = self
            .handle
            .call_async(&mut *store, (input_ptr as i32, input_len as i32))
            .await
            .map_err(Failure::Wasm)?;
        Ok(unpack_result(packed))
    }
}
