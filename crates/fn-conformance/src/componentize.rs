//! Preview 1 programs as components: what the second pass over the WASI suites runs
//! (`Runner::also_as_components`).

/// A preview 1 command made a preview 2 command component: the module wrapped with the
/// preview 1 command adapter, which exports `wasi:cli/run` and turns every preview 1 call
/// into preview 2 ones.
pub fn componentize(module: &[u8]) -> anyhow::Result<Vec<u8>> {
    use wasi_preview1_component_adapter_provider as adapter;
    wit_component::ComponentEncoder::default()
        .module(module)?
        .validate(true)
        .adapter(
            adapter::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            adapter::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
        )?
        .encode()
}
