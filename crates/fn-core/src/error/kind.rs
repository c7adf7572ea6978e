//! Error kinds: the stable names of the [`Error`] variants, for whatever must name an
//! error without its details.

use std::fmt;

use super::{Error, Result};

/// The kind of an [`Error`], without its details: what records, HTTP error bodies,
/// metrics' `error.type` and conformance reports name. The names are stable
/// `snake_case` (`Display`, `serde`, [`ErrorKind::as_str`]), one per [`Error`] variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::Validation`].
    Validation,
    /// [`Error::Deploy`].
    Deploy,
    /// [`Error::ModuleTooLarge`].
    ModuleTooLarge,
    /// [`Error::CompileTimeout`].
    CompileTimeout,
    /// [`Error::NotFound`].
    NotFound,
    /// [`Error::Integrity`].
    Integrity,
    /// [`Error::RateLimited`].
    RateLimited,
    /// [`Error::Overloaded`].
    Overloaded,
    /// [`Error::Timeout`].
    Timeout,
    /// [`Error::MemoryLimit`].
    MemoryLimit,
    /// [`Error::ResourceLimit`].
    ResourceLimit,
    /// [`Error::InputTooLarge`].
    InputTooLarge,
    /// [`Error::OutputTooLarge`].
    OutputTooLarge,
    /// [`Error::Trap`].
    Trap,
    /// [`Error::Exit`].
    Exit,
    /// [`Error::Abi`].
    Abi,
    /// [`Error::HostCall`].
    HostCall,
    /// [`Error::Unavailable`].
    Unavailable,
    /// [`Error::Cancelled`].
    Cancelled,
    /// [`Error::Conflict`].
    Conflict,
    /// [`Error::Storage`].
    Storage,
    /// [`Error::Internal`].
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 22] = [
        ErrorKind::Validation,
        ErrorKind::Deploy,
        ErrorKind::ModuleTooLarge,
        ErrorKind::CompileTimeout,
        ErrorKind::NotFound,
        ErrorKind::Integrity,
        ErrorKind::RateLimited,
        ErrorKind::Overloaded,
        ErrorKind::Timeout,
        ErrorKind::MemoryLimit,
        ErrorKind::ResourceLimit,
        ErrorKind::InputTooLarge,
        ErrorKind::OutputTooLarge,
        ErrorKind::Trap,
        ErrorKind::Exit,
        ErrorKind::Abi,
        ErrorKind::HostCall,
        ErrorKind::Unavailable,
        ErrorKind::Cancelled,
        ErrorKind::Conflict,
        ErrorKind::Storage,
        ErrorKind::Internal,
    ];

    /// The kind's stable name: `validation`, `deploy`, `module_too_large`,
    /// `compile_timeout`, `not_found`, `integrity`, `rate_limited`, `overloaded`, `timeout`,
    /// `memory_limit`, `resource_limit`, `input_too_large`, `output_too_large`, `trap`,
    /// `exit`, `abi`, `host_call`, `unavailable`, `cancelled`, `conflict`, `storage` or
    /// `internal`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Validation => "validation",
            ErrorKind::Deploy => "deploy",
            ErrorKind::ModuleTooLarge => "module_too_large",
            ErrorKind::CompileTimeout => "compile_timeout",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Integrity => "integrity",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Timeout => "timeout",
            ErrorKind::MemoryLimit => "memory_limit",
            ErrorKind::ResourceLimit => "resource_limit",
            ErrorKind::InputTooLarge => "input_too_large",
            ErrorKind::OutputTooLarge => "output_too_large",
            ErrorKind::Trap => "trap",
            ErrorKind::Exit => "exit",
            ErrorKind::Abi => "abi",
            ErrorKind::HostCall => "host_call",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Storage => "storage",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ErrorKind {
    type Err = Error;

    /// The kind named `name`, as [`ErrorKind::as_str`] spells it.
    fn from_str(name: &str) -> Result<ErrorKind> {
        ErrorKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| {
                Error::validation(
                    "error_kind",
                    format!("`{}` is not an error kind", name.escape_debug()),
                )
            })
    }
}
