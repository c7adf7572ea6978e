//! [`AdmissionChain`]: everything asked before an invocation is let in — the engine's
//! own [`Limits`] first, then the platform's admission controls in the order they were
//! added — and what an admitted call holds until it ends ([`Admitted`]).
//!
//! Why here and not in the engine: admission is this crate's one job; the engine asks
//! the chain once per call and holds what it answers. A control is any
//! [`fn_core::Admission`] (a platform's quota service, a kill switch), each with the
//! policy for its own failure ([`OnAdmissionError`]).

use std::sync::Arc;

use fn_core::{
    Admission, AdmissionRequest, Function, InvocationContext, OnAdmissionError, Permit, Result,
};

use crate::{ConcurrencyPermit, Limits};

/// The engine's limits, then each platform control in order.
#[derive(Debug, Clone)]
pub struct AdmissionChain {
    limits: Limits,
    controls: Vec<(Arc<dyn Admission>, OnAdmissionError)>,
}

/// What an admitted call holds until it ends, whatever the end: its slots and each
/// control's permit, given back when this is dropped.
#[derive(Debug)]
pub struct Admitted {
    _slots: ConcurrencyPermit,
    _permits: Vec<Permit>,
}

impl AdmissionChain {
    /// A chain of `limits` alone.
    #[must_use]
    pub fn new(limits: Limits) -> AdmissionChain {
        AdmissionChain {
            limits,
            controls: Vec::new(),
        }
    }

    /// Adds `control`, asked after the limits and the controls added before it; when it
    /// fails (not a refusal: an error of its own), `on_error` says whether the call goes
    /// on.
    #[must_use]
    pub fn then(
        mut self,
        control: Arc<dyn Admission>,
        on_error: OnAdmissionError,
    ) -> AdmissionChain {
        self.controls.push((control, on_error));
        self
    }

    /// The engine's own limits.
    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Admits one call of `function` in `context`: its rates and slots, then each
    /// control in turn.
    ///
    /// # Errors
    ///
    /// The first refusal: [`fn_core::Error::RateLimited`], [`fn_core::Error::Overloaded`],
    /// or a control's error that its policy does not let through.
    pub async fn admit(
        &self,
        function: &Function,
        context: &InvocationContext,
    ) -> Result<Admitted> {
        let slots = self
            .limits
            .admit_call(function, context.caller.as_deref())
            .await?;
        let mut permits = Vec::with_capacity(self.controls.len());
        let request = AdmissionRequest { function, context };
        for (control, on_error) in &self.controls {
            match control.admit(&request).await {
                Ok(permit) => permits.push(permit),
                Err(error) if on_error.lets_through(&error) => {
                    // As the Go engine did: a broken limiter must not stop the platform.
                    tracing::warn!(?control, %error, "an admission control failed; allowing the call");
                }
                Err(error) => return Err(error),
            }
        }
        Ok(Admitted {
            _slots: slots,
            _permits: permits,
        })
    }
}
