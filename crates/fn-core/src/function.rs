//! Functions: what a platform deploys.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{Cid, Config, Error, RateQuota, Result};

/// The longest name or namespace accepted.
pub const MAX_NAME_LEN: usize = 64;
/// The most environment variables a function may have.
pub const MAX_ENV_VARS: usize = 256;
/// The most bytes all of a function's environment variables may take together.
pub const MAX_ENV_BYTES: usize = 64 * 1024;
/// The most arguments (after argv\[0\]) a function may have.
pub const MAX_ARGS: usize = 256;
/// The most bytes all of a function's arguments may take together.
pub const MAX_ARGS_BYTES: usize = 64 * 1024;
/// The most config values a function may have.
pub const MAX_CONFIG_VALUES: usize = 256;
/// The most bytes all of a function's config values (keys and values) may take together.
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;
/// The most folders a function may have preopened.
pub const MAX_PREOPENS: usize = 16;

/// A host folder a function sees as one of its WASI preopened directories.
///
/// Deny by default: a definition with a preopen is only valid when the folder lies
/// under one of the engine's [`Config::preopen_roots`], which is empty unless the
/// operator sets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preopen {
    /// The folder on the host: absolute, without `..`, under an allowed root.
    pub host: PathBuf,
    /// The name the guest sees it under, such as `/` or `/data`.
    pub guest: String,
    /// Whether the guest may create, write, rename and remove in it. Read-only when false.
    #[serde(default)]
    pub writable: bool,
}

/// What a platform deploys alongside a module: the function's name and its limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionDefinition {
    /// The function's name: `[a-z0-9_-]`, starting with a letter or digit, at most
    /// [`MAX_NAME_LEN`] bytes. It is argv\[0\] of a WASI command.
    pub name: String,
    /// The tenant the function belongs to, same rules as `name`. Namespaces are
    /// isolated from each other.
    pub namespace: String,
    /// The deployed version: the store's number, 1 for a name's first deploy, then one
    /// more each deploy (a rollback makes an older number run). At least 1.
    #[serde(deserialize_with = "crate::serde_version::deserialize")]
    pub version: u32,
    /// The most linear memory the function may use, in bytes; capped by
    /// [`Config::max_memory_bytes`].
    pub max_memory_bytes: u64,
    /// How long one invocation may run; capped by [`Config::max_timeout`].
    #[serde(with = "crate::serde_duration::millis")]
    pub timeout: Duration,
    /// The function's environment, exactly: the guest sees these and nothing else.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Whether anyone may invoke it without a token.
    #[serde(default)]
    pub public: bool,
    /// Arguments a WASI command gets after argv\[0\] (its name). Default none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Host folders preopened for the guest. Default none; see [`Preopen`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preopens: Vec<Preopen>,
    /// The function's own rate, replacing the engine's `admission.function_rate`.
    /// Default none (the engine's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateQuota>,
    /// The most invocations of it that may run at once, replacing the engine's
    /// `admission.function_max_concurrent`. Default none (the engine's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// For an HTTP function, a path prefix it claims at the gateway's root (`/shop`
    /// serves `/shop` and everything under it, the guest seeing the whole path). Unique
    /// among the active versions of a store; `/v1` and the probes are the gateway's
    /// own. Default none: the function is served under `/v1/functions/…/http` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// The destinations an HTTP function may send requests to
    /// (`wasi:http/outgoing-handler`), at most [`MAX_OUTBOUND_RULES`]. Default none:
    /// every outbound request is refused. See [`OutboundRule`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_outbound: Vec<OutboundRule>,
    /// Values a component reads by key through `wasi:config/store` (`fnd deploy --config
    /// KEY=VALUE`): at most [`MAX_CONFIG_VALUES`], [`MAX_CONFIG_BYTES`] in all. Default
    /// none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
}

impl FunctionDefinition {
    /// A definition with the given name and namespace, version `1`, 64 MiB of memory, a
    /// 5 s timeout, no environment, arguments or preopens, not public, and the engine's
    /// rate and concurrency limits.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> FunctionDefinition {
        FunctionDefinition {
            name: name.into(),
            namespace: namespace.into(),
            version: 1,
            max_memory_bytes: 64 << 20,
            timeout: Duration::from_secs(5),
            env: BTreeMap::new(),
            public: false,
            args: Vec::new(),
            preopens: Vec::new(),
            rate: None,
            max_concurrency: None,
            route: None,
            allow_outbound: Vec::new(),
            config: BTreeMap::new(),
        }
    }

    /// Checks every field, and the limits against `config`'s caps: what a deploy
    /// accepts.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] naming the first field that is wrong and why.
    pub fn validate(&self, config: &Config) -> Result<()> {
        self.validate_invocable(config)?;
        if self.max_memory_bytes > config.max_memory_bytes {
            return Err(Error::validation(
                "max_memory_bytes",
                format!(
                    "{} is not within 1..={} (the engine's max_memory_bytes)",
                    self.max_memory_bytes, config.max_memory_bytes
                ),
            ));
        }
        if self.timeout > config.max_timeout {
            return Err(Error::validation(
                "timeout",
                format!(
                    "{} ms is not within 1..={} ms (the engine's max_timeout)",
                    self.timeout.as_millis(),
                    config.max_timeout.as_millis()
                ),
            ));
        }
        Ok(())
    }

    /// Checks every field as [`FunctionDefinition::validate`] does, except that limits
    /// over `config`'s caps are allowed: an invocation runs under the function's limits
    /// capped by the config ([`crate::InvocationLimits`]), so a function deployed under
    /// larger caps still runs when an operator lowers them, as the Go engine's did. What
    /// the engine checks on every invocation.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] naming the first field that is wrong and why.
    pub fn validate_invocable(&self, config: &Config) -> Result<()> {
        validate_name("name", &self.name)?;
        validate_name("namespace", &self.namespace)?;
        if self.version == 0 {
            return Err(Error::validation("version", "must be at least 1"));
        }
        if self.max_memory_bytes == 0 {
            return Err(Error::validation(
                "max_memory_bytes",
                "must be greater than zero",
            ));
        }
        if self.timeout.is_zero() {
            return Err(Error::validation("timeout", "must be greater than zero"));
        }
        if let Some(rate) = &self.rate {
            rate.validate("rate")?;
        }
        if self.max_concurrency == Some(0) {
            return Err(Error::validation(
                "max_concurrency",
                "must be greater than zero when set",
            ));
        }
        checks::env(&self.env)?;
        checks::args(&self.args)?;
        checks::config(&self.config)?;
        if let Some(route) = &self.route {
            check_route(route).map_err(|why| Error::validation("route", why))?;
        }
        if self.allow_outbound.len() > MAX_OUTBOUND_RULES {
            return Err(Error::validation(
                "allow_outbound",
                format!(
                    "{} rules, more than {MAX_OUTBOUND_RULES}",
                    self.allow_outbound.len()
                ),
            ));
        }
        validate_preopens(&self.preopens, &config.preopen_roots)
    }
}

fn validate_preopens(preopens: &[Preopen], roots: &[PathBuf]) -> Result<()> {
    if preopens.is_empty() {
        return Ok(());
    }
    if roots.is_empty() {
        return Err(Error::validation(
            "preopens",
            "the engine allows no preopened folders (its config's preopen_roots is empty)",
        ));
    }
    if preopens.len() > MAX_PREOPENS {
        return Err(Error::validation(
            "preopens",
            format!("{} folders, more than {MAX_PREOPENS}", preopens.len()),
        ));
    }
    for preopen in preopens {
        let host = &preopen.host;
        if !is_plain_absolute(host) {
            return Err(Error::validation(
                "preopens.host",
                format!(
                    "`{}` must be an absolute path without `.` or `..`",
                    host.display()
                ),
            ));
        }
        if !roots.iter().any(|root| host.starts_with(root)) {
            return Err(Error::validation(
                "preopens.host",
                format!(
                    "`{}` is not under any of the engine's preopen_roots",
                    host.display()
                ),
            ));
        }
        let guest = &preopen.guest;
        if guest.is_empty() || guest.len() > 4096 || guest.contains('\0') {
            return Err(Error::validation(
                "preopens.guest",
                format!(
                    "`{}` must be 1 to 4096 bytes without NUL",
                    guest.escape_debug()
                ),
            ));
        }
    }
    Ok(())
}

/// Whether `path` is absolute and has no `.` or `..` component: a path whose prefix check
/// against a root means what it says.
pub(crate) fn is_plain_absolute(path: &Path) -> bool {
    path.is_absolute()
        && path.components().all(|c| {
            matches!(
                c,
                Component::RootDir | Component::Prefix(_) | Component::Normal(_)
            )
        })
}

/// A valid function name made from any text (a file name, a test case's name): ASCII
/// lower-cased, every other character `-`, `prefix` put in front when the result would
/// not start with a letter or digit, cut to [`MAX_NAME_LEN`].
pub fn name_from(text: &str, prefix: &str) -> String {
    let mut name: String = text
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_' | '-') => c,
            _ => '-',
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        name.insert_str(0, prefix);
    }
    name.truncate(MAX_NAME_LEN);
    name
}

pub(crate) fn validate_name(field: &str, value: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    let first_ok = value
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if value.is_empty() || value.len() > MAX_NAME_LEN || !first_ok || !value.chars().all(ok_char) {
        return Err(Error::validation(
            field,
            format!(
                "`{}` must be 1 to {MAX_NAME_LEN} characters of a-z, 0-9, '-' and '_', \
                 starting with a letter or digit",
                value.escape_debug()
            ),
        ));
    }
    Ok(())
}

/// A deployed function: its definition, bound to a module by CID, under a unique id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    /// The function's unique id.
    pub id: String,
    /// The content id of its module.
    pub wasm_cid: Cid,
    /// Its definition.
    #[serde(flatten)]
    pub definition: FunctionDefinition,
}

impl Function {
    /// A function with a fresh id.
    pub fn new(definition: FunctionDefinition, wasm_cid: Cid) -> Function {
        Function {
            id: crate::new_id(),
            wasm_cid,
            definition,
        }
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.definition.name
    }
}

mod checks;
mod outbound;
pub use self::outbound::{
    Destination, HostPattern, MAX_OUTBOUND_RULE_BYTES, MAX_OUTBOUND_RULES, OutboundRule,
    OutboundScheme, PortPattern,
};
mod route;
pub use self::route::{MAX_ROUTE_BYTES, RESERVED_ROUTES, check_route, route_covers};

#[cfg(test)]
mod tests;
