//! The admission chain: the limits first, then each control in order; a control's
//! refusal refuses the call, its failure goes by its policy, and every permit is held
//! until the admitted call is dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use fn_core::{
    Admission, AdmissionRequest, Cid, Config, Error, Function, FunctionDefinition,
    InvocationContext, OnAdmissionError, Permit, Result,
};
use fn_limits::{AdmissionChain, Limits};

/// A control that answers as told, counting the calls it saw and its permits alive.
#[derive(Debug)]
struct Control {
    answer: fn() -> Result<()>,
    asked: AtomicUsize,
    alive: Arc<AtomicUsize>,
}

struct Held(Arc<AtomicUsize>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Control {
    fn new(answer: fn() -> Result<()>) -> Arc<Control> {
        Arc::new(Control {
            answer,
            asked: AtomicUsize::new(0),
            alive: Arc::new(AtomicUsize::new(0)),
        })
    }
}

#[async_trait]
impl Admission for Control {
    async fn admit(&self, _: &AdmissionRequest<'_>) -> Result<Permit> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        (self.answer)()?;
        self.alive.fetch_add(1, Ordering::SeqCst);
        Ok(Permit::holding(Held(self.alive.clone())))
    }
}

fn function() -> Function {
    Function::new(FunctionDefinition::new("acme", "f"), Cid::of(b"wasm"))
}

#[tokio::test]
async fn controls_are_asked_in_order_and_their_permits_held_until_the_call_ends() {
    let first = Control::new(|| Ok(()));
    let broken = Control::new(|| {
        Err(Error::Unavailable {
            reason: "down".into(),
        })
    });
    let last = Control::new(|| Ok(()));
    let chain = AdmissionChain::new(Limits::new(&Config::default()))
        .then(first.clone(), OnAdmissionError::Refuse)
        .then(broken.clone(), OnAdmissionError::Allow)
        .then(last.clone(), OnAdmissionError::Refuse);
    let admitted = chain
        .admit(&function(), &InvocationContext::default())
        .await
        .unwrap();
    for control in [&first, &broken, &last] {
        assert_eq!(control.asked.load(Ordering::SeqCst), 1);
    }
    assert_eq!(first.alive.load(Ordering::SeqCst), 1);
    assert_eq!(last.alive.load(Ordering::SeqCst), 1);
    drop(admitted);
    assert_eq!(
        first.alive.load(Ordering::SeqCst),
        0,
        "given back with the call"
    );
    assert_eq!(last.alive.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_refusal_or_a_failure_its_policy_refuses_stops_the_chain() {
    let refusing = Control::new(|| {
        Err(Error::RateLimited {
            key: "quota:acme".into(),
            retry_after: None,
        })
    });
    let after = Control::new(|| Ok(()));
    let chain = AdmissionChain::new(Limits::new(&Config::default()))
        // A refusal refuses whatever the policy.
        .then(refusing.clone(), OnAdmissionError::Allow)
        .then(after.clone(), OnAdmissionError::Refuse);
    let error = chain
        .admit(&function(), &InvocationContext::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::RateLimited { ref key, .. } if key == "quota:acme"),
        "{error}"
    );
    assert_eq!(
        after.asked.load(Ordering::SeqCst),
        0,
        "nothing asked after a refusal"
    );

    let broken = Control::new(|| {
        Err(Error::Unavailable {
            reason: "down".into(),
        })
    });
    let chain =
        AdmissionChain::new(Limits::new(&Config::default())).then(broken, OnAdmissionError::Refuse);
    let error = chain
        .admit(&function(), &InvocationContext::default())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unavailable { .. }), "{error}");
}
