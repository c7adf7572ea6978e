//! `fnd serve`'s configuration file (`fnd serve --config FILE.toml`): the server's own
//! settings (`[server]`), OpenTelemetry's (`[telemetry]`), and every setting of the
//! engine ([`fn_core::Config`]'s fields at the top level, `[pooling]`, `[admission]`).
//! [`DEFAULT_FILE`] is the commented file of the defaults (`fnd config default`, and
//! `docs/fnd.toml`).
//!
//! Where a setting comes from, the first that gives it: a flag, then its `FND_*`
//! variable (`FND_LISTEN`, `FND_DATA_DIR`, `FND_TOKEN`), then any setting's
//! `FND__SECTION__FIELD` variable (`FND__ADMISSION__MAX_WAIT=2s`,
//! `FND__MAX_MEMORY_BYTES=128MiB`: the path in the file, `__` between its parts, the
//! value as TOML or else as text), then the file, then the default. For `[telemetry]`,
//! the standard `OTEL_*` variable comes before the file's key of the same name
//! (`exporter_otlp_endpoint` is `OTEL_EXPORTER_OTLP_ENDPOINT`).
//!
//! Durations and sizes are written as people write them (`"500ms"`, `"30s"`,
//! `"64MiB"`; a number is in the field's unit: milliseconds, bytes). Unknown keys are
//! refused, so a typo is an error and not a setting silently ignored; every error names
//! the file, the field and what is wrong.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fn_core::Config;
use serde::Deserialize;

/// The commented file of every default (`fnd config default`).
pub const DEFAULT_FILE: &str = include_str!("../../../docs/fnd.toml");

/// The prefix of a variable that sets one setting of the file.
pub const ENV_PREFIX: &str = "FND__";

/// Everything `fnd serve` runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeConfig {
    /// The server's own settings.
    pub server: ServerSettings,
    /// OpenTelemetry's settings, by the name of their `OTEL_*` variable without the
    /// prefix, lower case (`exporter_otlp_endpoint`).
    pub telemetry: BTreeMap<String, String>,
    /// The engine's.
    pub engine: Config,
}

/// The `[server]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// The address to listen on. Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// Where the store keeps its database, modules and compiled artifacts. Default
    /// `$XDG_DATA_HOME/fnd`, else `$HOME/.local/share/fnd`.
    pub data_dir: Option<PathBuf>,
    /// Invocation records older than this many days are deleted (checked hourly); 0
    /// keeps them for ever. Default 7.
    pub retention_days: u32,
    /// On SIGTERM or SIGINT, how long the invocations under way may take to finish
    /// before they are cancelled. Default 30 s.
    #[serde(deserialize_with = "fn_core::units::deserialize_millis")]
    pub drain: Duration,
    /// Modules deployed at start as public functions named after their files, in the
    /// `default` namespace. Default none.
    pub deploy_public: Vec<PathBuf>,
    /// Address ranges functions may reach though the outbound guard refuses them by
    /// default (a private network the functions are meant to call), in CIDR form
    /// (`10.20.0.0/16`). A function still reaches only what its `allow_outbound` rules
    /// name. Default none.
    pub outbound_allowed_ranges: Vec<ipnet::IpNet>,
}

impl Default for ServerSettings {
    fn default() -> ServerSettings {
        ServerSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: None,
            retention_days: 7,
            drain: Duration::from_secs(30),
            deploy_public: Vec::new(),
            outbound_allowed_ranges: Vec::new(),
        }
    }
}

/// A configuration that cannot be used: where it came from, the field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {}{reason}", field.as_deref().map(|f| format!("{f}: ")).unwrap_or_default())]
pub struct ConfigError {
    /// The file (or `environment`) that holds the mistake.
    pub origin: String,
    /// The field, as a path (`admission.max_wait`), when one is to blame.
    pub field: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl ServeConfig {
    /// Reads the file at `path` (none: the defaults), with the `FND__*` variables that
    /// `env` gives above it, and checks the result ([`Config::validate`]).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the file, the field and what is wrong.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<ServeConfig, ConfigError> {
        let (text, origin) = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
                    origin: path.display().to_string(),
                    field: None,
                    reason: format!("cannot be read: {e}"),
                })?;
                (text, path.display().to_string())
            }
            None => (String::new(), "the defaults".to_owned()),
        };
        ServeConfig::parse(&text, &origin, env)
    }

    /// [`ServeConfig::load`] of `text`, named `origin` in errors.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming `origin`, the field and what is wrong.
    pub fn parse(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<ServeConfig, ConfigError> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
            origin: origin.to_owned(),
            field: None,
            reason: e.to_string().trim_end().to_owned(),
        })?;
        let mut overridden = false;
        for (name, value) in env {
            let Some(path) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            overridden = true;
            set(&mut table, path, &value).map_err(|reason| ConfigError {
                origin: format!("the environment variable {name}"),
                field: None,
                reason,
            })?;
        }
        let origin = if overridden {
            format!("{origin} (with the {ENV_PREFIX}* variables)")
        } else {
            origin.to_owned()
        };
        let wrong = |field: String, reason: String| ConfigError {
            origin: origin.clone(),
            field: (!field.is_empty() && field != ".").then_some(field),
            reason,
        };
        let server = match table.remove("server") {
            Some(section) => {
                section_of::<ServerSettings>(section, "server").map_err(|(f, r)| wrong(f, r))?
            }
            None => ServerSettings::default(),
        };
        let telemetry = match table.remove("telemetry") {
            Some(section) => section_of::<BTreeMap<String, toml::Value>>(section, "telemetry")
                .map_err(|(f, r)| wrong(f, r))?
                .into_iter()
                .map(|(key, value)| match value {
                    toml::Value::String(text) => Ok((key, text)),
                    other => Ok((key, other.to_string())),
                })
                .collect::<Result<_, ConfigError>>()?,
            None => BTreeMap::new(),
        };
        let engine =
            section_of::<Config>(toml::Value::Table(table), "").map_err(|(f, r)| wrong(f, r))?;
        engine.validate().map_err(|error| match error {
            fn_core::Error::Validation { field, reason } => wrong(field, reason),
            other => wrong(String::new(), other.to_string()),
        })?;
        Ok(ServeConfig {
            server,
            telemetry,
            engine,
        })
    }

    /// An `OTEL_*` variable's value: the process's (`env`), else the file's
    /// `[telemetry]` key of the same name.
    pub fn otel_variable(
        &self,
        name: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Option<String> {
        env(name).filter(|v| !v.trim().is_empty()).or_else(|| {
            let key = name.strip_prefix("OTEL_")?.to_ascii_lowercase();
            self.telemetry.get(&key).cloned()
        })
    }
}

/// `value` as a `T`, or the path within it of what is wrong (prefixed by `section`) and
/// why.
fn section_of<T: serde::de::DeserializeOwned>(
    value: toml::Value,
    section: &str,
) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let field = match (section, path.as_str()) {
            (s, ".") => s.to_owned(),
            ("", p) => p.to_owned(),
            (s, p) => format!("{s}.{p}"),
        };
        // toml adds the path on a line of its own (`in `admission``): the field says it.
        let reason = error.into_inner().to_string();
        let reason = reason.lines().next().unwrap_or_default().to_owned();
        (field, reason)
    })
}

/// Sets the setting at `path` (`ADMISSION__MAX_WAIT`: `__` between the parts, any
/// case) in `table` to `value`, read as a TOML value (a number, a boolean, an inline
/// table) or else as text.
fn set(table: &mut toml::Table, path: &str, value: &str) -> Result<(), String> {
    let parts: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
    if parts.iter().any(String::is_empty) {
        return Err(format!("`{path}` is not a setting's path (SECTION__FIELD)"));
    }
    let value = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    let (last, sections) = parts.split_last().expect("split gives one part at least");
    let mut at = table;
    for section in sections {
        let entry = at
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        at = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{section}` is a setting, not a section"))?;
    }
    at.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests;
