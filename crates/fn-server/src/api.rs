//! The gateway's wire types: what a deploy sends with its module and what the management
//! endpoints answer, shared by the server and the `fnd` client so that the two cannot
//! drift apart.
//!
//! Every endpoint answers JSON on success (except invoke, whose body is the function's
//! output bytes) and `{"error":{"kind","message","request_id"}}` on failure
//! ([`crate::gateway::ApiError`]).

use std::collections::BTreeMap;
use std::time::Duration;

use fn_core::{ApiKey, Cid, FunctionDefinition, RateQuota, Role};
use serde::{Deserialize, Serialize};

/// The `definition` part of a deploy (`POST /v1/functions/{namespace}/{name}`, a
/// multipart form whose `module` part is the module's bytes). Every field is optional;
/// the name and namespace come from the path. Unknown fields are refused, so a typo is a
/// 400 and not a silently ignored limit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploySpec {
    /// The function's memory limit in bytes; default 64 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory_bytes: Option<u64>,
    /// One invocation's deadline in milliseconds; default 5000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// The function's environment, exactly.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Whether anyone may invoke it without a token.
    #[serde(default)]
    pub public: bool,
    /// Arguments after argv\[0\] for a WASI command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Its own rate limit, in place of the server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateQuota>,
    /// The most invocations of it at once, in place of the server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
}

impl DeploySpec {
    /// The definition of `namespace/name` this spec asks for (not yet validated: the
    /// engine's deploy does that against its config).
    #[must_use]
    pub fn definition(&self, namespace: &str, name: &str) -> FunctionDefinition {
        let mut definition = FunctionDefinition::new(namespace, name);
        if let Some(bytes) = self.max_memory_bytes {
            definition.max_memory_bytes = bytes;
        }
        if let Some(ms) = self.timeout_ms {
            definition.timeout = Duration::from_millis(ms);
        }
        definition.env.clone_from(&self.env);
        definition.public = self.public;
        definition.args.clone_from(&self.args);
        definition.rate = self.rate;
        definition.max_concurrency = self.max_concurrency;
        definition
    }
}

/// A deploy's answer (201).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployed {
    /// The function's namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its id, the same for every version.
    pub id: String,
    /// The version made (and made active): 1 for a new name, then one more each deploy.
    pub version: u32,
    /// The module's content id.
    pub wasm_cid: Cid,
    /// How long the engine took to check and compile the module, in milliseconds (near
    /// zero when the module was already compiled).
    pub compile_ms: f64,
}

/// The body of `PUT /v1/functions/{namespace}/{name}/active`: which version runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activate {
    /// The version to make active (a rollback or a roll forward).
    pub version: u32,
}

/// The body of `POST /v1/keys`: the key to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// Its name, unique among keys: the caller its invocations are recorded as.
    pub name: String,
    /// The namespace it acts in.
    pub namespace: String,
    /// What it may do there.
    pub role: Role,
}

/// The answer to `POST /v1/keys` (201): the key, and its token, shown this once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MadeKey {
    /// The key as kept.
    pub key: ApiKey,
    /// The bearer token that acts as the key.
    pub token: String,
}

impl std::fmt::Debug for MadeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MadeKey")
            .field("key", &self.key)
            .field("token", &"(hidden)")
            .finish()
    }
}

/// `GET /v1/status`: what the server is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Invocations being run now.
    pub in_flight: u64,
    /// Whether the server is shutting down (no new connections; in-flight calls finish).
    pub draining: bool,
    /// The server's version.
    pub version: String,
    /// How instances are allocated: `pooling`, or `on_demand` (the pool could not be
    /// reserved, or is turned off; several times slower).
    pub allocator: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_spec_is_the_default_definition_and_typos_are_refused() {
        let spec: DeploySpec = serde_json::from_str("{}").unwrap();
        assert_eq!(
            spec.definition("ns", "f"),
            FunctionDefinition::new("ns", "f")
        );
        let error = serde_json::from_str::<DeploySpec>(r#"{"timeout":5}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `timeout`"),
            "{error}"
        );
    }

    #[test]
    fn a_spec_sets_what_it_names() {
        let spec: DeploySpec = serde_json::from_str(
            r#"{"max_memory_bytes":1048576,"timeout_ms":250,"env":{"K":"V"},"public":true,
                "args":["a"],"rate":{"requests":5,"per":1000,"burst":5},"max_concurrency":2}"#,
        )
        .unwrap();
        let definition = spec.definition("ns", "f");
        assert_eq!(definition.max_memory_bytes, 1 << 20);
        assert_eq!(definition.timeout, Duration::from_millis(250));
        assert_eq!(definition.env["K"], "V");
        assert!(definition.public);
        assert_eq!(definition.args, ["a"]);
        assert_eq!(definition.rate, Some(RateQuota::per_second(5)));
        assert_eq!(definition.max_concurrency, Some(2));
    }
}
