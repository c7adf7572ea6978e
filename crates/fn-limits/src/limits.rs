//! [`Limits`]: the engine's own admission control, both kinds of limit of an engine's
//! [`Config`] behind the [`Admission`] seam.

use async_trait::async_trait;
use fn_core::{Admission, AdmissionRequest, Config, Error, Function, Permit, Result};

use crate::{Concurrency, ConcurrencyLimits, ConcurrencyPermit, KeyKind, RateLimits};

/// An engine's admission limits, from its [`Config::admission`]: a call is first checked
/// against the rates, narrowest first (caller, function, namespace, global: a call its
/// own caller's rate refuses spends nothing shared), then takes its concurrency slots
/// (function, namespace, global), waiting at most `max_wait` for all of them together. Local: it refuses,
/// but never fails. Cheap to clone: clones share the state.
#[derive(Debug, Clone)]
pub struct Limits {
    rates: RateLimits,
    concurrency: ConcurrencyLimits,
}

impl Limits {
    /// The limits `config` sets (a valid config: see [`Config::validate`]).
    #[must_use]
    pub fn new(config: &Config) -> Limits {
        let admission = &config.admission;
        Limits {
            rates: RateLimits::new(admission.rates(), admission.max_rate_keys),
            concurrency: ConcurrencyLimits::new(Concurrency::of(config)),
        }
    }

    /// The rate limits.
    #[must_use]
    pub fn rates(&self) -> &RateLimits {
        &self.rates
    }

    /// The concurrency limits.
    #[must_use]
    pub fn concurrency(&self) -> &ConcurrencyLimits {
        &self.concurrency
    }

    /// Admits one call of `function` by `caller`: its rates, then its slots, held by the
    /// permit until it is dropped. Keys are the namespace, the function's id and the
    /// caller; a refusal names a function as `function:NAMESPACE/NAME`.
    ///
    /// # Errors
    ///
    /// [`Error::RateLimited`] with the wait the rate computes, or [`Error::Overloaded`],
    /// each naming the key.
    pub async fn admit_call(
        &self,
        function: &Function,
        caller: Option<&str>,
    ) -> Result<ConcurrencyPermit> {
        let definition = &function.definition;
        let namespace = definition.namespace.as_str();
        let function_key = || format!("function:{namespace}/{}", definition.name);
        if definition.rate.is_some() || !self.rates.is_unlimited() {
            let keys = [Some(""), Some(namespace), Some(&function.id), caller];
            self.rates
                .check(keys, definition.rate)
                .map_err(|denied| Error::RateLimited {
                    key: match denied.kind {
                        KeyKind::Function => function_key(),
                        _ => denied.key,
                    },
                    retry_after: Some(denied.retry_after),
                })?;
        }
        let limit = definition.max_concurrency.map(|n| n as usize);
        self.concurrency
            .acquire(namespace, &function.id, limit)
            .await
            .map_err(|overloaded| Error::Overloaded {
                key: match overloaded.kind {
                    KeyKind::Function => function_key(),
                    _ => overloaded.key,
                },
                retry_after: overloaded.retry_after,
            })
    }
}

#[async_trait]
impl Admission for Limits {
    async fn admit(&self, request: &AdmissionRequest<'_>) -> Result<Permit> {
        let caller = request.context.caller.as_deref();
        let permit = self.admit_call(request.function, caller).await?;
        Ok(Permit::holding(permit))
    }
}
