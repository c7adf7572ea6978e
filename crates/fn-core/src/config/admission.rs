//! [`AdmissionConfig`]: the engine's own admission limits, [`Config::admission`](super::Config::admission).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Error, RateQuota, Result};

/// The engine's admission limits: rates per key and invocations running at once. A
/// function's own `rate` and `max_concurrency` (in its definition) replace the function
/// defaults here. Every refusal is typed ([`Error::RateLimited`], [`Error::Overloaded`])
/// and recorded; no call waits longer than `max_wait`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdmissionConfig {
    /// The rate of all calls to the engine. Default none (unlimited).
    pub global_rate: Option<RateQuota>,
    /// The rate of each namespace's calls. Default none (unlimited).
    pub namespace_rate: Option<RateQuota>,
    /// The rate of each function's calls, when its definition gives none. Default none
    /// (unlimited).
    pub function_rate: Option<RateQuota>,
    /// The rate of each caller's calls (the context's `caller`; anonymous calls have no
    /// caller key). Default none (unlimited).
    pub caller_rate: Option<RateQuota>,
    /// The most keys of each kind whose rate state is kept (about 200 bytes each): the
    /// least used are forgotten past it, and a key seen again starts afresh. Callers are
    /// named by the outside world, so this is what bounds the memory. Default 100 000.
    pub max_rate_keys: u64,
    /// Invocations running at once in all. Default none: the pool's slot count
    /// (`pooling.slots`), so that the pool is never what refuses a call; with the pool
    /// on it may not be more.
    pub max_concurrent: Option<u32>,
    /// The most of `max_concurrent` one namespace may hold, in percent (1 to 100, rounded
    /// up to a whole slot): one namespace flooding the engine leaves the rest to others.
    /// Default 50.
    pub namespace_share_percent: u8,
    /// Invocations of one function running at once, when its definition gives no
    /// `max_concurrency`. Default none (only the namespace and global limits).
    pub function_max_concurrent: Option<u32>,
    /// The most calls that may wait for a slot at once; past it a call is refused at
    /// once. Zero: no call waits. Default 1024.
    pub max_waiters: u32,
    /// The longest a call waits for a slot before it is refused, in milliseconds in
    /// JSON. At most 60 s. Default 1 s.
    #[serde(with = "crate::serde_duration::millis")]
    pub max_wait: Duration,
}

impl Default for AdmissionConfig {
    fn default() -> AdmissionConfig {
        AdmissionConfig {
            global_rate: None,
            namespace_rate: None,
            function_rate: None,
            caller_rate: None,
            max_rate_keys: 100_000,
            max_concurrent: None,
            namespace_share_percent: 50,
            function_max_concurrent: None,
            max_waiters: 1024,
            max_wait: Duration::from_secs(1),
        }
    }
}

impl AdmissionConfig {
    /// The rates by key kind, in the order they are checked: global, namespace,
    /// function, caller.
    pub fn rates(&self) -> [Option<RateQuota>; 4] {
        [
            self.global_rate,
            self.namespace_rate,
            self.function_rate,
            self.caller_rate,
        ]
    }

    /// Checks every field; `pool_slots` is the pool's slot count when the pool is on.
    pub(super) fn validate(&self, pool_slots: Option<u32>) -> Result<()> {
        let names = [
            "global_rate",
            "namespace_rate",
            "function_rate",
            "caller_rate",
        ];
        for (name, rate) in names.into_iter().zip(self.rates()) {
            if let Some(rate) = rate {
                rate.validate(&format!("admission.{name}"))?;
            }
        }
        if self.max_rate_keys == 0 {
            return Err(Error::validation(
                "admission.max_rate_keys",
                "must be greater than zero",
            ));
        }
        if self.max_concurrent == Some(0) {
            return Err(Error::validation(
                "admission.max_concurrent",
                "must be greater than zero when set",
            ));
        }
        if let (Some(limit), Some(slots)) = (self.max_concurrent, pool_slots)
            && limit > slots
        {
            return Err(Error::validation(
                "admission.max_concurrent",
                format!(
                    "{limit} is more than pooling.slots ({slots}): the pool would refuse the calls over it"
                ),
            ));
        }
        if !(1..=100).contains(&self.namespace_share_percent) {
            return Err(Error::validation(
                "admission.namespace_share_percent",
                "must be between 1 and 100",
            ));
        }
        if self.function_max_concurrent == Some(0) {
            return Err(Error::validation(
                "admission.function_max_concurrent",
                "must be greater than zero when set",
            ));
        }
        if self.max_wait > Duration::from_secs(60) {
            return Err(Error::validation(
                "admission.max_wait",
                "must be at most 60 s",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use crate::config::tests::{Mutation, each_names_its_field};

    #[test]
    fn names_the_wrong_field() {
        let cases: Vec<(&str, Mutation)> = vec![
            ("admission.global_rate.requests", |c| {
                c.admission.global_rate = Some(RateQuota::per_second(0));
            }),
            ("admission.caller_rate.burst", |c| {
                c.admission.caller_rate = Some(RateQuota::per_second(5).with_burst(0));
            }),
            ("admission.namespace_rate.per", |c| {
                c.admission.namespace_rate = Some(RateQuota {
                    per: Duration::ZERO,
                    ..RateQuota::per_second(1)
                });
            }),
            ("admission.max_rate_keys", |c| c.admission.max_rate_keys = 0),
            ("admission.max_concurrent", |c| {
                c.admission.max_concurrent = Some(0);
            }),
            ("admission.max_concurrent", |c| {
                c.pooling.slots = 16;
                c.admission.max_concurrent = Some(17);
            }),
            ("admission.namespace_share_percent", |c| {
                c.admission.namespace_share_percent = 0;
            }),
            ("admission.namespace_share_percent", |c| {
                c.admission.namespace_share_percent = 101;
            }),
            ("admission.function_max_concurrent", |c| {
                c.admission.function_max_concurrent = Some(0);
            }),
            ("admission.max_wait", |c| {
                c.admission.max_wait = Duration::from_secs(61);
            }),
        ];
        each_names_its_field(cases);
    }

    #[test]
    fn the_global_limit_defaults_to_the_pool_and_may_exceed_it_without_one() {
        let mut config = Config::default();
        config.pooling.slots = 64;
        assert_eq!(config.max_concurrent(), 64);
        config.pooling.enabled = false;
        config.admission.max_concurrent = Some(1000);
        config.validate().unwrap();
        assert_eq!(config.max_concurrent(), 1000);
    }

    #[test]
    fn partial_json_takes_defaults() {
        let config: Config = serde_json::from_str(
            r#"{"admission": {"caller_rate": {"requests": 10, "per": 1000, "burst": 20}}}"#,
        )
        .unwrap();
        let admission = &config.admission;
        assert_eq!(
            admission.caller_rate,
            Some(RateQuota::per_second(10).with_burst(20))
        );
        assert_eq!(admission.max_wait, Duration::from_secs(1));
        assert_eq!(admission.namespace_share_percent, 50);
    }
}
