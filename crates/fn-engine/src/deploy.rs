//! [`Engine::deploy`]: a function becomes visible only once its module is known to run.
//!
//! Why in the engine and not in the store: only the engine can say whether bytes are a
//! module it runs (they validate, import nothing it does not provide, have one ABI, fit
//! its limits); the store keeps whatever it is given. Compiling here also warms the
//! module cache and the artifact tier, so the first call after a deploy is warm.

use bytes::Bytes;
use fn_core::{Cid, Error, Function, FunctionDefinition, FunctionStore, Result};

use crate::Engine;

impl Engine {
    /// Deploys `definition` with the module `bytes` into `store` as its name's next
    /// version, made active: the definition is checked against the engine's config, the
    /// module compiled (and cached, in memory and on disk when the artifact tier is on),
    /// and only then are the module and the version kept. A refused deploy keeps nothing.
    ///
    /// # Errors
    ///
    /// [`fn_core::Error::Validation`] for an invalid definition or empty bytes;
    /// [`fn_core::Error::ModuleTooLarge`]; [`fn_core::Error::Deploy`] with the compiler's
    /// or linker's whole message for bytes that are not wasm, do not validate, import
    /// what the engine does not provide, or have neither ABI (or both);
    /// [`fn_core::Error::CompileTimeout`]; [`fn_core::Error::Unavailable`] when the
    /// engine is closed; [`fn_core::Error::Integrity`] when the store addresses the
    /// module by another CID than its bytes' (a store that would run other code than
    /// what was checked); [`fn_core::Error::Validation`] for a route on a function that
    /// is not an HTTP function, and for outbound rules (`allow_outbound`) on a function
    /// that is not one or an engine built without a sender; the store's errors ([`fn_core::Error::Conflict`] for a
    /// route another function holds, [`fn_core::Error::Storage`]).
    pub async fn deploy(
        &self,
        store: &dyn FunctionStore,
        definition: FunctionDefinition,
        bytes: Bytes,
    ) -> Result<Function> {
        definition.validate(&self.inner.config)?;
        if definition.route.is_some() && !fn_runtime::serves_http(&bytes) {
            return Err(Error::validation(
                "route",
                "only an HTTP function (a component exporting wasi:http/incoming-handler) \
                 is served at a route",
            ));
        }
        if !definition.allow_outbound.is_empty() {
            // Refused rather than kept and ignored: a function deployed with rules is
            // expected to reach what they allow.
            if !self.inner.runtime.sends_outbound() {
                return Err(Error::validation(
                    "allow_outbound",
                    "this engine sends no outbound requests (it was built without a \
                     sender), so rules would allow nothing",
                ));
            }
            if !fn_runtime::serves_http(&bytes) {
                return Err(Error::validation(
                    "allow_outbound",
                    "only an HTTP function (a component exporting \
                     wasi:http/incoming-handler) sends outbound requests",
                ));
            }
        }
        let cid = Cid::of(&bytes);
        self.precompile(&cid, bytes.clone()).await?;
        let kept = store.put_module(bytes).await?;
        // The version must run the bytes compiled above: a store that names them by
        // another CID would make it run something else (or nothing), in release builds
        // too.
        if kept != cid {
            return Err(Error::Integrity {
                expected: cid,
                actual: kept,
            });
        }
        store.deploy(definition, kept).await
    }
}
