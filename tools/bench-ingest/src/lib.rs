//! What the ingest benchmarks share (`bench-ingest`, `bench-org`): the cost model at published
//! on-demand prices ([`cost`]), the in-memory store metered by the DynamoDB size model
//! ([`meter`]), the process's and a thread's CPU time, and percentiles.

pub mod cost;
pub mod meter;

use std::time::Duration;

/// CPU time of this process's live threads, from `/proc/self/task/*/schedstat` (nanoseconds
/// on the CPU), or None where those files do not exist (not Linux). Callers keep their
/// threads alive for the whole run (a tokio runtime with a long `thread_keep_alive`), so no
/// thread's time leaves the sum between two readings.
pub fn process_cpu() -> Option<Duration> {
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let text = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(ns))
}

/// CPU time of the calling thread, from `/proc/thread-self/schedstat` (nanoseconds on the
/// CPU), or None where it does not exist (not Linux). Unlike a wall clock, it does not count
/// the time the thread waited for a core.
pub fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(Duration::from_nanos(text.split_whitespace().next()?.parse().ok()?))
}

/// The `p` quantile (0..=1) of sorted values, by the nearest rank; 0 when there are none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Milliseconds of a duration.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
