//! [`EventSink`] on EventBridge: PutEvents in batches of at most 10 entries and 256 KB, with
//! the failed entries of each response (`FailedEntryCount`) retried alone, with exponential
//! backoff and full jitter. What still fails after the last attempt is an error naming how
//! many events failed and which were delivered; nothing is dropped silently.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;
use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use std::time::Duration;
use trailsight_core::events::Envelope;
use trailsight_core::store::ports::{EventSink, SinkError};

/// Entries per PutEvents request (the service limit).
pub const MAX_ENTRIES: usize = 10;
/// Bytes per PutEvents request (the service limit), counted as AWS counts entry sizes.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;

/// Delivers events to one event bus.
#[derive(Debug, Clone)]
pub struct EventBridgeSink {
    client: Client,
    bus: String,
    attempts: u32,
    base_delay: Duration,
    requests: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl EventBridgeSink {
    /// A sink on `bus` (a name or ARN; `default` for the account's default bus).
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        EventBridgeSink {
            client,
            bus: bus.into(),
            attempts: 6,
            base_delay: Duration::from_millis(100),
            requests: std::sync::Arc::default(),
        }
    }

    /// PutEvents requests made since the last call (for metrics and the cost benchmark).
    pub fn take_requests(&self) -> u64 {
        self.requests.swap(0, std::sync::atomic::Ordering::Relaxed)
    }

    /// A sink with its own client.
    pub fn from_config(config: &aws_config::SdkConfig, bus: impl Into<String>) -> Self {
        Self::new(Client::new(config), bus)
    }

    /// Changes how often failed entries are retried and the first backoff delay.
    pub fn with_retries(mut self, attempts: u32, base_delay: Duration) -> Self {
        self.attempts = attempts.max(1);
        self.base_delay = base_delay;
        self
    }

    fn entry(&self, e: &Envelope) -> Result<PutEventsRequestEntry, String> {
        let detail = serde_json::to_string(&e.detail).map_err(|err| format!("event {}: {err}", e.id))?;
        let mut b = PutEventsRequestEntry::builder()
            .source(&e.source)
            .detail_type(&e.detail_type)
            .detail(detail)
            .set_resources(Some(e.resources.clone()))
            .event_bus_name(&self.bus);
        if let Ok(t) = DateTime::from_str(&e.time, Format::DateTime) {
            b = b.time(t);
        }
        Ok(b.build())
    }

    /// Sends one batch, retrying its failed entries; returns the indices (into `batch`) that
    /// never got through, with the last error.
    async fn send_batch(&self, batch: &[(usize, PutEventsRequestEntry)]) -> (Vec<usize>, Option<String>) {
        let mut pending: Vec<(usize, PutEventsRequestEntry)> = batch.to_vec();
        let mut last_error = None;
        for attempt in 0..self.attempts {
            if attempt > 0 {
                tokio::time::sleep(jittered(self.base_delay, attempt)).await;
            }
            let entries: Vec<PutEventsRequestEntry> = pending.iter().map(|(_, e)| e.clone()).collect();
            self.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match self.client.put_events().set_entries(Some(entries)).send().await {
                Err(e) => {
                    let why = aws_smithy_types::error::display::DisplayErrorContext(&e).to_string();
                    tracing::warn!(attempt, error = %why, "PutEvents request failed");
                    last_error = Some(why);
                }
                Ok(out) => {
                    if out.failed_entry_count() == 0 {
                        return (vec![], None);
                    }
                    let results = out.entries();
                    let mut still = Vec::new();
                    for (i, (idx, entry)) in pending.iter().enumerate() {
                        // A result without an event id failed (the results are in request order).
                        let failed = results.get(i).is_none_or(|r| r.event_id().is_none());
                        if failed {
                            if let Some(r) = results.get(i) {
                                last_error = Some(format!(
                                    "{}: {}",
                                    r.error_code().unwrap_or("unknown"),
                                    r.error_message().unwrap_or("")
                                ));
                            }
                            still.push((*idx, entry.clone()));
                        }
                    }
                    tracing::warn!(
                        attempt,
                        failed = still.len(),
                        error = last_error.as_deref().unwrap_or(""),
                        "PutEvents rejected entries; retrying them"
                    );
                    pending = still;
                    if pending.is_empty() {
                        return (vec![], None);
                    }
                }
            }
        }
        (pending.into_iter().map(|(i, _)| i).collect(), last_error)
    }
}

/// Exponential backoff with full jitter: uniform in `[0, base * 2^attempt)`.
fn jittered(base: Duration, attempt: u32) -> Duration {
    let cap = base.saturating_mul(1 << attempt.min(8));
    let millis = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX).max(1);
    Duration::from_millis(rand::random::<u64>() % millis)
}

/// The size AWS charges an entry against the 256 KB limit.
pub fn entry_size(e: &Envelope, detail_len: usize) -> usize {
    14 + e.source.len() + e.detail_type.len() + detail_len + e.resources.iter().map(String::len).sum::<usize>()
}

impl EventSink for EventBridgeSink {
    async fn put(&self, events: &[Envelope]) -> Result<(), SinkError> {
        let mut failed: Vec<usize> = Vec::new();
        let mut why: Option<String> = None;
        let mut batch: Vec<(usize, PutEventsRequestEntry)> = Vec::new();
        let mut batch_bytes = 0usize;
        let mut batches = Vec::new();
        for (i, e) in events.iter().enumerate() {
            let entry = match self.entry(e) {
                Ok(entry) => entry,
                Err(err) => {
                    failed.push(i);
                    why.get_or_insert(err);
                    continue;
                }
            };
            let size = entry_size(e, entry.detail().map_or(0, str::len));
            if size > MAX_BATCH_BYTES {
                failed.push(i);
                why.get_or_insert(format!("event {} is {size} bytes, above EventBridge's 256 KB limit", e.id));
                continue;
            }
            if batch.len() == MAX_ENTRIES || batch_bytes + size > MAX_BATCH_BYTES {
                batches.push(std::mem::take(&mut batch));
                batch_bytes = 0;
            }
            batch.push((i, entry));
            batch_bytes += size;
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
        for b in &batches {
            let (left, err) = self.send_batch(b).await;
            failed.extend(left);
            if let Some(err) = err {
                why.get_or_insert(err);
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        failed.sort_unstable();
        let delivered = events
            .iter()
            .enumerate()
            .filter(|(i, _)| failed.binary_search(i).is_err())
            .map(|(_, e)| e.id.clone())
            .collect();
        Err(SinkError {
            failed: failed.len(),
            total: events.len(),
            why: why.unwrap_or_else(|| "unknown error".to_owned()),
            delivered,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_its_exponential_cap() {
        // Given a base delay, when jittered for successive attempts, then each is below its cap
        for attempt in 0..12 {
            let d = jittered(Duration::from_millis(100), attempt);
            assert!(d < Duration::from_millis(100) * (1 << attempt.min(8)));
        }
    }
}
