//! The gateway's wire types: what a deploy sends with its module and what the management
//! endpoints answer, shared by the server and the `fnd` client so that the two cannot
//! drift apart.
//!
//! Every endpoint answers JSON on success (except invoke, whose body is the function's
//! output bytes) and `{"error":{"kind","message","request_id"}}` on failure
//! ([`crate::gateway::ApiError`]).

use fn_core::{ApiKey, Cid, FunctionDefinition, Role};
use serde::{Deserialize, Serialize};

/// The `definition` part of a deploy (`POST /v1/functions/{namespace}/{name}`, a
/// multipart form whose `module` part is the module's bytes): the fields of a
/// [`FunctionDefinition`] — the same names and units `GET /v1/functions/{namespace}/{name}`
/// answers — each optional, its default [`FunctionDefinition::new`]'s. The name and
/// namespace come from the path and the version from the store, so a spec naming them
/// is refused, as is an unknown field: a typo is a 400, not a silently ignored limit.
/// `timeout_ms` is taken as `timeout` (the older spelling).
///
/// Why a view of the definition and not a struct of its own: each field of a definition
/// is then a deploy option as soon as it exists, with one name and one default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploySpec {
    definition: FunctionDefinition,
}

impl Default for DeploySpec {
    fn default() -> DeploySpec {
        DeploySpec::new()
    }
}

impl std::ops::Deref for DeploySpec {
    type Target = FunctionDefinition;

    fn deref(&self) -> &FunctionDefinition {
        &self.definition
    }
}

impl std::ops::DerefMut for DeploySpec {
    fn deref_mut(&mut self) -> &mut FunctionDefinition {
        &mut self.definition
    }
}

/// The definition's fields a deploy does not set.
const SET_ELSEWHERE: [&str; 3] = ["name", "namespace", "version"];

impl DeploySpec {
    /// The defaults: [`FunctionDefinition::new`]'s. Set a field through the definition
    /// it derefs to (`spec.public = true`).
    #[must_use]
    pub fn new() -> DeploySpec {
        DeploySpec {
            definition: FunctionDefinition::new("", ""),
        }
    }

    /// A public function's spec, the rest the defaults.
    #[must_use]
    pub fn public() -> DeploySpec {
        let mut spec = DeploySpec::new();
        spec.public = true;
        spec
    }

    /// The definition of `namespace/name` this spec asks for (not yet validated: the
    /// engine's deploy does that against its config).
    #[must_use]
    pub fn definition(&self, namespace: &str, name: &str) -> FunctionDefinition {
        let mut definition = self.definition.clone();
        namespace.clone_into(&mut definition.namespace);
        name.clone_into(&mut definition.name);
        definition.version = 1;
        definition
    }
}

impl Serialize for DeploySpec {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut fields = match serde_json::to_value(&self.definition) {
            Ok(serde_json::Value::Object(fields)) => fields,
            _ => return Err(serde::ser::Error::custom("a definition is a JSON object")),
        };
        for field in SET_ELSEWHERE {
            fields.remove(field);
        }
        fields.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DeploySpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<DeploySpec, D::Error> {
        use serde::de::Error as _;
        let given = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
        let mut fields = match serde_json::to_value(FunctionDefinition::new("", "")) {
            Ok(serde_json::Value::Object(fields)) => fields,
            _ => return Err(D::Error::custom("a definition is a JSON object")),
        };
        for (key, value) in given {
            if SET_ELSEWHERE.contains(&key.as_str()) {
                return Err(D::Error::custom(format!(
                    "`{key}` comes from the path or the store, not the definition"
                )));
            }
            let key = if key == "timeout_ms" {
                "timeout".to_owned()
            } else {
                key
            };
            fields.insert(key, value);
        }
        let mut unknown = Vec::new();
        let definition: FunctionDefinition =
            serde_ignored::deserialize(serde_json::Value::Object(fields), |path| {
                unknown.push(path.to_string())
            })
            .map_err(D::Error::custom)?;
        if let Some(field) = unknown.first() {
            return Err(D::Error::custom(format!("unknown field `{field}`")));
        }
        Ok(DeploySpec { definition })
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
    use std::time::Duration;

    use fn_core::RateQuota;

    use super::*;

    #[test]
    fn an_empty_spec_is_the_default_definition_and_typos_are_refused() {
        let spec: DeploySpec = serde_json::from_str("{}").unwrap();
        assert_eq!(
            spec.definition("ns", "f"),
            FunctionDefinition::new("ns", "f")
        );
        let error = serde_json::from_str::<DeploySpec>(r#"{"timout":5}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `timout`"),
            "{error}"
        );
        let error = serde_json::from_str::<DeploySpec>(r#"{"version":9}"#).unwrap_err();
        assert!(error.to_string().contains("`version`"), "{error}");
        let error =
            serde_json::from_str::<DeploySpec>(r#"{"rate":{"requests":1,"per":5,"brust":1}}"#)
                .unwrap_err();
        assert!(error.to_string().contains("brust"), "{error}");
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
        let spec: DeploySpec = serde_json::from_str(r#"{"timeout":"2s"}"#).unwrap();
        assert_eq!(
            spec.timeout,
            Duration::from_secs(2),
            "the definition's own name and units"
        );
    }

    #[test]
    fn a_spec_goes_over_the_wire_and_back_unchanged() {
        let mut spec = DeploySpec::public();
        spec.max_memory_bytes = 1 << 20;
        spec.env.insert("K".into(), "V".into());
        spec.rate = Some(RateQuota::per_second(3));
        let json = serde_json::to_value(&spec).unwrap();
        assert!(
            json.get("name").is_none() && json.get("version").is_none(),
            "{json}"
        );
        let back: DeploySpec = serde_json::from_value(json).unwrap();
        assert_eq!(back, spec);
    }
}
