//! The route an HTTP function may claim: which paths are allowed, and which paths a
//! route serves.

/// The longest route a function may claim, in bytes.
pub const MAX_ROUTE_BYTES: usize = 256;

/// The paths of the gateway's own that no route may claim or lie under.
pub const RESERVED_ROUTES: [&str; 4] = ["/v1", "/healthz", "/readyz", "/metrics"];

/// Checks a route a function claims: an absolute path of unreserved characters
/// (`A-Z a-z 0-9 - . _ ~` and `/`), at most [`MAX_ROUTE_BYTES`], with no empty, `.` or
/// `..` segment and no trailing `/` (but `/` itself, every path), and neither one of
/// [`RESERVED_ROUTES`] nor under one.
///
/// # Errors
///
/// Why it is refused.
pub fn check_route(route: &str) -> std::result::Result<(), String> {
    if !route.starts_with('/') {
        return Err(format!("`{route}` does not start with `/`"));
    }
    if route.len() > MAX_ROUTE_BYTES {
        return Err(format!(
            "{} bytes, more than {MAX_ROUTE_BYTES}",
            route.len()
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~/".contains(c);
    if let Some(c) = route.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "`{c}` is not allowed: a route is letters, digits, `-._~` and `/`"
        ));
    }
    if route != "/"
        && route[1..]
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(format!(
            "`{route}` has an empty, `.` or `..` segment, or ends with `/`"
        ));
    }
    if let Some(reserved) = RESERVED_ROUTES
        .iter()
        .find(|reserved| route_covers(route, reserved) || route_covers(reserved, route))
        .filter(|_| route != "/")
    {
        return Err(format!("`{reserved}` is the gateway's own"));
    }
    Ok(())
}

/// Whether the route `prefix` serves `path`: the path is the prefix, or lies under it.
pub fn route_covers(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}
