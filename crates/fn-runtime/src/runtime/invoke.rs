//! Running one invocation: an input for a module or a command component, an exchange
//! for an HTTP component; each in a fresh store, under its deadline, classified into
//! one [`Outcome`].

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use fn_core::Error;

use super::{Code, CompiledModule, Invocation, Runtime};
use crate::Outcome;
use crate::classify::classify;
use crate::deadline;
use crate::http::{RequestBody, ResponseBody, ResponseSender};
use crate::pipe::BoundedPipe;
use crate::store;
use crate::to_usize;

impl Runtime {
    /// Runs one invocation of `module` on `input` in a fresh sandbox, under the
    /// invocation's limits as given. The caller has checked the input against the
    /// config's `max_input_bytes`.
    ///
    /// The deadline is armed once the input is in place and covers instantiation, so a
    /// start function that loops is stopped too. Dropping the returned future at any
    /// point is safe: the sandbox is torn down and its pool slot freed.
    ///
    /// Never panics on guest behaviour: every failure is a typed error in
    /// [`Outcome::result`] — [`Error::Timeout`], [`Error::MemoryLimit`],
    /// [`Error::ResourceLimit`], [`Error::OutputTooLarge`], [`Error::Trap`],
    /// [`Error::Exit`], [`Error::Abi`], [`Error::Unavailable`] when the pool has no free
    /// slot or a preopened folder cannot be opened, or [`Error::Validation`] for a
    /// preopened folder outside the config's `preopen_roots`.
    ///
    /// An HTTP function is given the input as the body of a `POST /` and answers its
    /// response's body as the output (its status in [`Outcome::http`]).
    pub async fn invoke(
        &self,
        module: &CompiledModule,
        invocation: Invocation<'_>,
        input: Bytes,
    ) -> Outcome {
        if !matches!(module.code, Code::Http(_)) {
            return self.run(module, invocation, input, None).await;
        }
        let request = http::Request::post("/")
            .body(crate::http::full(input))
            .expect("a constant request is valid");
        let (respond, response) = tokio::sync::oneshot::channel::<http::Response<ResponseBody>>();
        let collect = async {
            let Ok(response) = response.await else {
                return None;
            };
            // The body ends cleanly only when the guest finished it: a cut is in the
            // outcome's result.
            http_body_util::BodyExt::collect(response.into_body())
                .await
                .ok()
                .map(http_body_util::Collected::to_bytes)
        };
        let served = self.run(module, invocation, Bytes::new(), Some((request, respond)));
        let (mut outcome, body) = tokio::join!(served, collect);
        if let (Ok(_), Some(body)) = (&outcome.result, body) {
            outcome.result = Ok(body);
        }
        outcome
    }

    /// Serves one HTTP request with the HTTP function `module` in a fresh sandbox: the
    /// request goes to its `wasi:http/incoming-handler`, and the response's head is sent
    /// on `respond` as soon as the guest sets it, with its body streaming as the guest
    /// writes it. The returned future must be polled until it ends for the exchange to
    /// go on (the caller runs it in a task of its own while it hands the response on):
    /// it ends when the body has been delivered, the guest failed, the deadline passed
    /// (it covers the whole exchange, the body's delivery included) or the response was
    /// dropped before its end.
    ///
    /// `respond` is dropped unfulfilled when the guest fails before answering (the
    /// outcome says why) or returns without setting a response
    /// ([`Error::Abi`]). A body cut short (a trap, the deadline, the output limit) ends
    /// in an error, not a clean end, so that the client sees it cut.
    ///
    /// # Errors
    ///
    /// In [`Outcome::result`], as [`Runtime::invoke`]'s, and [`Error::Cancelled`] when
    /// the response was dropped before its end; [`Error::Validation`] when `module` is
    /// not an HTTP function.
    pub async fn serve_http(
        &self,
        module: &CompiledModule,
        invocation: Invocation<'_>,
        request: http::Request<RequestBody>,
        respond: ResponseSender,
    ) -> Outcome {
        if !matches!(module.code, Code::Http(_)) {
            return Outcome::failed(Error::validation(
                "abi",
                format!(
                    "the function is {:?}, not an HTTP function: invoke it with an input",
                    module.abi
                ),
            ));
        }
        self.run(module, invocation, Bytes::new(), Some((request, respond)))
            .await
    }

    /// One invocation in a fresh sandbox: an input for a module or a command, or an
    /// exchange for an HTTP function.
    async fn run(
        &self,
        module: &CompiledModule,
        invocation: Invocation<'_>,
        input: Bytes,
        exchange: Option<(http::Request<RequestBody>, ResponseSender)>,
    ) -> Outcome {
        let config = &self.inner.config;
        let limits = invocation.limits;
        let stdout = BoundedPipe::new(to_usize(config.max_output_bytes));
        let stderr = BoundedPipe::new(to_usize(config.max_log_bytes));
        let (wasi, handle_input) = match store::wasi_context(
            config,
            &self.inner.preopen_roots,
            &invocation,
            module.abi,
            input,
            [&stdout, &stderr],
        ) {
            Ok(context) => context,
            Err(error) => return Outcome::failed(error),
        };
        // The deadline starts here, with the input already in place, so it covers
        // instantiation and nothing before it.
        // Made only for a function that may send (no allocation for the others).
        let hooks = crate::http::Outbound {
            sender: self
                .inner
                .outbound
                .clone()
                .filter(|_| !invocation.allow_outbound.is_empty())
                .map(|sender| (sender, invocation.allow_outbound.into())),
            sent: 0,
            max: config.max_outbound_requests,
        };
        let mut store = store::new_store(
            &self.inner.engine,
            config,
            wasi,
            &limits,
            module.abi,
            hooks,
            invocation.config,
        );
        deadline::arm(&mut store, limits.timeout(), config.epoch_tick);

        let deadline = store.data().deadline;
        let shared = exchange.is_some().then(Arc::<crate::http::Shared>::default);
        let run = async {
            let max_output = config.max_output_bytes;
            match (&module.code, exchange) {
                (Code::Module { entry, pre }, _) => {
                    crate::abi::call::run(&mut store, pre, entry, handle_input, &stdout, max_output)
                        .await
                }
                (Code::Command(pre), _) => {
                    crate::component::run_command(&mut store, pre, &stdout).await
                }
                (Code::Http(pre), Some((request, respond))) => {
                    let shared = shared.clone().expect("made for an exchange");
                    crate::http::serve(&mut store, pre, request, respond, max_output, shared)
                        .await
                        .map(|()| Bytes::new())
                }
                (Code::Http(_), None) => Err(crate::classify::Failure::Abi(
                    "an HTTP function is given a request, not an input".into(),
                )),
            }
        };
        let result = match deadline::at_most_until(deadline, run).await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(failure)) => Err(classify(
                failure,
                &store.data().limits,
                [&stdout, &stderr],
                config,
                limits.timeout(),
            )),
            Err(_) => Err(Error::Timeout {
                limit: limits.timeout(),
            }),
        };
        let ended = Instant::now();
        let state = store.data();
        let peak_memory_bytes = state.limits.peak_memory_bytes as u64;
        let instantiated = state.instantiated.unwrap_or(ended);
        let instantiate_duration = Some(instantiated.duration_since(state.made));
        let execute_duration = state
            .instantiated
            .filter(|_| state.called)
            .map(|at| ended.duration_since(at));
        drop(store);
        Outcome {
            result,
            peak_memory_bytes,
            log: stderr.take(),
            stdout: stdout.take(),
            instantiate_duration,
            execute_duration,
            http: shared.map(|shared| shared.served()),
        }
    }
}
