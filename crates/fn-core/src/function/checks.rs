//! The checks of a definition's lists and maps: its arguments, environment and config
//! values, each bounded in count and in bytes, without NUL.

use std::collections::BTreeMap;

use super::{
    MAX_ARGS, MAX_ARGS_BYTES, MAX_CONFIG_BYTES, MAX_CONFIG_VALUES, MAX_ENV_BYTES, MAX_ENV_VARS,
};
use crate::{Error, Result};

pub(super) fn args(args: &[String]) -> Result<()> {
    if args.len() > MAX_ARGS {
        return Err(Error::validation(
            "args",
            format!("{} arguments, more than {MAX_ARGS}", args.len()),
        ));
    }
    if let Some(i) = args.iter().position(|arg| arg.contains('\0')) {
        return Err(Error::validation(
            "args",
            format!("argument {} contains NUL", i + 1),
        ));
    }
    let total: usize = args.iter().map(|arg| arg.len() + 1).sum();
    if total > MAX_ARGS_BYTES {
        return Err(Error::validation(
            "args",
            format!("{total} bytes in all, more than {MAX_ARGS_BYTES}"),
        ));
    }
    Ok(())
}

pub(super) fn env(env: &BTreeMap<String, String>) -> Result<()> {
    if env.len() > MAX_ENV_VARS {
        return Err(Error::validation(
            "env",
            format!("{} variables, more than {MAX_ENV_VARS}", env.len()),
        ));
    }
    let mut total = 0;
    for (key, value) in env {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            return Err(Error::validation(
                "env",
                format!(
                    "variable name `{}` must be non-empty, without '=' or NUL",
                    key.escape_debug()
                ),
            ));
        }
        if value.contains('\0') {
            return Err(Error::validation(
                "env",
                format!("the value of `{key}` contains NUL"),
            ));
        }
        total += key.len() + value.len() + 2;
    }
    if total > MAX_ENV_BYTES {
        return Err(Error::validation(
            "env",
            format!("{total} bytes in all, more than {MAX_ENV_BYTES}"),
        ));
    }
    Ok(())
}

pub(super) fn config(config: &BTreeMap<String, String>) -> Result<()> {
    if config.len() > MAX_CONFIG_VALUES {
        return Err(Error::validation(
            "config",
            format!("{} values, more than {MAX_CONFIG_VALUES}", config.len()),
        ));
    }
    let mut total = 0;
    for (key, value) in config {
        if key.is_empty() || key.contains('\0') || value.contains('\0') {
            return Err(Error::validation(
                "config",
                format!(
                    "`{}`: a key must be non-empty, and neither key nor value may contain NUL",
                    key.escape_debug()
                ),
            ));
        }
        total += key.len() + value.len();
    }
    if total > MAX_CONFIG_BYTES {
        return Err(Error::validation(
            "config",
            format!("{total} bytes in all, more than {MAX_CONFIG_BYTES}"),
        ));
    }
    Ok(())
}
