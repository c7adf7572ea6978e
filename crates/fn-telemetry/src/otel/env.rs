//! [`OtelEnv`]: what the standard `OTEL_*` environment variables ask for, read through an
//! injected lookup.
//!
//! Why parsed here rather than left to the SDK: the SDK reads some of these variables
//! and not others (`OTEL_SDK_DISABLED`, `OTEL_TRACES_EXPORTER`, `OTEL_METRICS_EXPORTER`
//! are read by nobody), it reads them from the process environment only (which tests
//! cannot set safely), and an HTTP endpoint given in code is used verbatim. Reading
//! every variable once, here, through a lookup, makes the whole configuration testable
//! and the exporters built from it explicit.

use std::time::Duration;

/// The OTLP wire protocols this crate exports with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `http/protobuf` (the specification's default): POST to `/v1/traces` and
    /// `/v1/metrics`.
    HttpProtobuf,
    /// `grpc`: the OTLP gRPC services.
    Grpc,
}

/// Where and how one signal (traces or metrics) is exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpTarget {
    /// The full URL: for HTTP with the signal's path (`/v1/traces`) already appended
    /// when it came from `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub endpoint: String,
    /// The protocol.
    pub protocol: OtlpProtocol,
    /// Headers (HTTP) or metadata (gRPC) to send, percent-decoded: the generic
    /// variable's, then the signal's (which win on the same key).
    pub headers: Vec<(String, String)>,
    /// How long one export may take (`..._TIMEOUT`, milliseconds; 10 s by default).
    pub timeout: Duration,
}

/// A sampler named by `OTEL_TRACES_SAMPLER` (and its `OTEL_TRACES_SAMPLER_ARG`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerSpec {
    /// `always_on`.
    AlwaysOn,
    /// `always_off`.
    AlwaysOff,
    /// `traceidratio` with its ratio.
    TraceIdRatio(f64),
    /// `parentbased_always_on` (the default): the caller's decision when there is a
    /// caller, else sampled.
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio` with its ratio.
    ParentBasedTraceIdRatio(f64),
}

/// What the standard `OTEL_*` variables ask for.
///
/// A signal is exported only when asked for: an endpoint for it is set (the generic
/// `OTEL_EXPORTER_OTLP_ENDPOINT` or the signal's own), or its exporter variable says
/// `otlp` (then to the specification's default endpoint). With none of them set, nothing
/// is exported.
#[derive(Debug, Clone, PartialEq)]
pub struct OtelEnv {
    /// `OTEL_SDK_DISABLED=true`: no telemetry at all.
    pub disabled: bool,
    /// `OTEL_SERVICE_NAME`, or `service.name` from `OTEL_RESOURCE_ATTRIBUTES`.
    pub service_name: Option<String>,
    /// `OTEL_RESOURCE_ATTRIBUTES` (`key=value,…`, percent-decoded), `service.name`
    /// included when it is there.
    pub resource_attributes: Vec<(String, String)>,
    /// Where spans go, when they are exported.
    pub traces: Option<OtlpTarget>,
    /// Where metrics go, when they are exported.
    pub metrics: Option<OtlpTarget>,
    /// `OTEL_TRACES_SAMPLER(_ARG)`.
    pub sampler: SamplerSpec,
    /// `OTEL_METRIC_EXPORT_INTERVAL` (milliseconds; 60 s by default).
    pub metric_export_interval: Duration,
    /// What was set but not understood, and ignored (the specification asks for a
    /// warning, not a failure), one sentence each naming the variable.
    pub warnings: Vec<String>,
}

/// The default export timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`).
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default metric export interval (`OTEL_METRIC_EXPORT_INTERVAL`).
pub const DEFAULT_METRIC_EXPORT_INTERVAL: Duration = Duration::from_secs(60);

impl OtelEnv {
    /// Reads the process environment.
    #[must_use]
    pub fn from_process() -> OtelEnv {
        OtelEnv::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (a variable's value, or `None` when unset;
    /// an empty value counts as unset, as the specification says).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> OtelEnv {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut warnings = Vec::new();
        let disabled = match get("OTEL_SDK_DISABLED") {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                warnings.push(format!(
                    "OTEL_SDK_DISABLED={v:?} is neither true nor false; taken as false"
                ));
                false
            }
        };
        let resource_attributes = get("OTEL_RESOURCE_ATTRIBUTES")
            .map(|v| parse_pairs("OTEL_RESOURCE_ATTRIBUTES", &v, &mut warnings))
            .unwrap_or_default();
        let service_name = get("OTEL_SERVICE_NAME").or_else(|| {
            resource_attributes
                .iter()
                .find(|(k, _)| k == "service.name")
                .map(|(_, v)| v.clone())
        });
        let traces = target(&get, Signal::Traces, &mut warnings);
        let metrics = target(&get, Signal::Metrics, &mut warnings);
        let sampler = sampler(&get, &mut warnings);
        let metric_export_interval = millis(&get, "OTEL_METRIC_EXPORT_INTERVAL", &mut warnings)
            .unwrap_or(DEFAULT_METRIC_EXPORT_INTERVAL);
        OtelEnv {
            disabled,
            service_name,
            resource_attributes,
            traces,
            metrics,
            sampler,
            metric_export_interval,
            warnings,
        }
    }

    /// Reads the variables from `pairs` (name, value), as if they were the whole
    /// environment: for configuration in code and tests.
    #[must_use]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> OtelEnv {
        OtelEnv::from_lookup(|name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    /// Whether anything is to be exported.
    #[must_use]
    pub fn exports(&self) -> bool {
        !self.disabled && (self.traces.is_some() || self.metrics.is_some())
    }
}

#[derive(Clone, Copy)]
enum Signal {
    Traces,
    Metrics,
}

impl Signal {
    fn upper(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Signal::Traces => "v1/traces",
            Signal::Metrics => "v1/metrics",
        }
    }
}

fn target(
    get: &impl Fn(&str) -> Option<String>,
    signal: Signal,
    warnings: &mut Vec<String>,
) -> Option<OtlpTarget> {
    let upper = signal.upper();
    let exporter_var = format!("OTEL_{upper}_EXPORTER");
    let asked = match get(&exporter_var) {
        None => None,
        Some(v) if v.eq_ignore_ascii_case("none") => return None,
        Some(v) if v.eq_ignore_ascii_case("otlp") => Some(true),
        Some(v) => {
            warnings.push(format!(
                "{exporter_var}={v:?} is not supported (only otlp and none); {} are not exported",
                signal.path().trim_start_matches("v1/")
            ));
            return None;
        }
    };
    let protocol_var = format!("OTEL_EXPORTER_OTLP_{upper}_PROTOCOL");
    let protocol = match get(&protocol_var).or_else(|| get("OTEL_EXPORTER_OTLP_PROTOCOL")) {
        None => OtlpProtocol::HttpProtobuf,
        Some(v) if v.eq_ignore_ascii_case("grpc") => OtlpProtocol::Grpc,
        Some(v) if v.eq_ignore_ascii_case("http/protobuf") => OtlpProtocol::HttpProtobuf,
        Some(v) => {
            warnings.push(format!(
                "the OTLP protocol {v:?} ({protocol_var} or OTEL_EXPORTER_OTLP_PROTOCOL) is not supported (grpc, http/protobuf); using http/protobuf"
            ));
            OtlpProtocol::HttpProtobuf
        }
    };
    let own = get(&format!("OTEL_EXPORTER_OTLP_{upper}_ENDPOINT"));
    let generic = get("OTEL_EXPORTER_OTLP_ENDPOINT");
    let endpoint = match (own, generic, protocol) {
        (Some(own), _, _) => own,
        (None, Some(base), OtlpProtocol::Grpc) => base,
        (None, Some(base), OtlpProtocol::HttpProtobuf) => {
            format!("{}/{}", base.trim_end_matches('/'), signal.path())
        }
        (None, None, _) if asked.is_none() => return None,
        (None, None, OtlpProtocol::Grpc) => "http://localhost:4317".to_owned(),
        (None, None, OtlpProtocol::HttpProtobuf) => {
            format!("http://localhost:4318/{}", signal.path())
        }
    };
    let mut headers = get("OTEL_EXPORTER_OTLP_HEADERS")
        .map(|v| parse_pairs("OTEL_EXPORTER_OTLP_HEADERS", &v, warnings))
        .unwrap_or_default();
    let headers_var = format!("OTEL_EXPORTER_OTLP_{upper}_HEADERS");
    if let Some(own) = get(&headers_var) {
        for (key, value) in parse_pairs(&headers_var, &own, warnings) {
            headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&key));
            headers.push((key, value));
        }
    }
    let timeout = millis(
        get,
        &format!("OTEL_EXPORTER_OTLP_{upper}_TIMEOUT"),
        warnings,
    )
    .or_else(|| millis(get, "OTEL_EXPORTER_OTLP_TIMEOUT", warnings))
    .unwrap_or(DEFAULT_EXPORT_TIMEOUT);
    Some(OtlpTarget {
        endpoint,
        protocol,
        headers,
        timeout,
    })
}

fn sampler(get: &impl Fn(&str) -> Option<String>, warnings: &mut Vec<String>) -> SamplerSpec {
    let ratio = |warnings: &mut Vec<String>| match get("OTEL_TRACES_SAMPLER_ARG") {
        None => 1.0,
        Some(v) => match v.parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => r,
            _ => {
                warnings.push(format!(
                    "OTEL_TRACES_SAMPLER_ARG={v:?} is not a ratio from 0 to 1; using 1"
                ));
                1.0
            }
        },
    };
    match get("OTEL_TRACES_SAMPLER")
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("parentbased_always_on") => SamplerSpec::ParentBasedAlwaysOn,
        Some("always_on") => SamplerSpec::AlwaysOn,
        Some("always_off") => SamplerSpec::AlwaysOff,
        Some("traceidratio") => SamplerSpec::TraceIdRatio(ratio(warnings)),
        Some("parentbased_always_off") => SamplerSpec::ParentBasedAlwaysOff,
        Some("parentbased_traceidratio") => SamplerSpec::ParentBasedTraceIdRatio(ratio(warnings)),
        Some(other) => {
            warnings.push(format!(
                "OTEL_TRACES_SAMPLER={other:?} is not supported; using parentbased_always_on"
            ));
            SamplerSpec::ParentBasedAlwaysOn
        }
    }
}

fn millis(
    get: &impl Fn(&str) -> Option<String>,
    name: &str,
    warnings: &mut Vec<String>,
) -> Option<Duration> {
    let value = get(name)?;
    match value.parse::<u64>() {
        Ok(ms) => Some(Duration::from_millis(ms)),
        Err(_) => {
            warnings.push(format!(
                "{name}={value:?} is not a whole number of milliseconds; ignored"
            ));
            None
        }
    }
}

/// `key=value,key2=value2`, each part percent-decoded and trimmed; a part without `=`
/// or with an empty key is skipped with a warning.
fn parse_pairs(name: &str, value: &str, warnings: &mut Vec<String>) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for part in value.split(',').filter(|p| !p.trim().is_empty()) {
        match part.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                pairs.push((percent_decode(key.trim()), percent_decode(value.trim())));
            }
            _ => warnings.push(format!("{name}: {part:?} is not key=value; skipped")),
        }
    }
    pairs
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
