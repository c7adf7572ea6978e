//! [`Client::records`]: a function's invocation records, a page at a time, and the
//! filter it takes.

use fn_core::{InvocationRecord, InvocationStatus, Paged};
use reqwest::Method;

use super::{Client, ClientError, segment};

/// Which records [`Client::records`] asks for.
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    /// The most records (the server's default when `None`).
    pub limit: Option<u32>,
    /// Only those with this status.
    pub status: Option<InvocationStatus>,
    /// The cursor of the page before.
    pub after: Option<String>,
    /// Only those started at or after this.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
}

impl Client {
    /// A page of `namespace/name`'s invocation records, newest first.
    ///
    /// # Errors
    ///
    /// See [`ClientError`].
    pub async fn records(
        &self,
        namespace: &str,
        name: &str,
        filter: &RecordFilter,
    ) -> Result<Paged<InvocationRecord>, ClientError> {
        let path = format!(
            "/v1/functions/{}/{}/records",
            segment(namespace),
            segment(name)
        );
        let mut request = self.request(Method::GET, &path);
        if let Some(limit) = filter.limit {
            request = request.query(&[("limit", limit.to_string())]);
        }
        if let Some(status) = filter.status {
            request = request.query(&[("status", status.as_str())]);
        }
        if let Some(after) = &filter.after {
            request = request.query(&[("after", after)]);
        }
        if let Some(since) = filter.since {
            let since = since.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            request = request.query(&[("since", since)]);
        }
        self.json(request).await
    }
}
