//! The engine as fn-core's `FunctionExecutor`, for callers that hold any executor.

use async_trait::async_trait;
use bytes::Bytes;
use fn_core::{Function, FunctionExecutor, InvocationContext, Result};

use crate::Engine;

#[async_trait]
impl FunctionExecutor for Engine {
    // Written out rather than `async fn`, so that the record starts when the method is
    // called, as with `Engine::execute`, not at the boxed future's first poll.
    fn execute<'life0, 'life1, 'async_trait>(
        &'life0 self,
        function: &'life1 Function,
        input: Bytes,
        ctx: Option<InvocationContext>,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Bytes>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(Engine::execute(self, function, input, ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineBuilder;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn handles_are_send_sync() {
        assert_send_sync::<Engine>();
        assert_send_sync::<EngineBuilder>();
    }
}
