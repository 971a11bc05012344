//! The trail bucket's notifications for trailsight, merged into what the bucket already has.
//!
//! S3 keeps one notification configuration per bucket, and PutBucketNotificationConfiguration
//! replaces all of it: writing only trailsight's entry would silently delete a SIEM's or
//! another tool's. [`setup`] reads the configuration, adds trailsight's queue entry (or turns on
//! S3's EventBridge delivery, which never overlaps anything), refuses with a clear message when
//! an existing entry's event and prefix/suffix filters overlap ours (S3 would reject the whole
//! configuration), and writes every existing entry back unchanged.

use aws_sdk_s3::types::{
    EventBridgeConfiguration, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter,
    QueueConfiguration, S3KeyFilter,
};

/// The id of trailsight's queue entry.
pub const ENTRY_ID: &str = "trailsight-ingest";
/// The event trailsight's entry listens to.
pub const EVENT: &str = "s3:ObjectCreated:*";
/// The suffix of CloudTrail log files.
pub const SUFFIX: &str = ".json.gz";

/// How log deliveries reach trailsight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// S3 notifies this SQS queue (the stack's `IngestQueueArn` output).
    Queue(String),
    /// S3 sends its events to EventBridge (the stack's rule forwards them).
    EventBridge,
}

/// What [`setup`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setup {
    /// trailsight's entry was added; `kept` other entries were written back unchanged.
    Added {
        /// Entries of other tools kept.
        kept: usize,
    },
    /// The bucket already notifies trailsight this way: nothing was written.
    AlreadyThere,
}

/// Why the notifications could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// An existing entry would overlap trailsight's.
    #[error(
        "bucket {bucket}: the existing notification {id:?} ({events}, prefix {prefix:?}, suffix {suffix:?}) overlaps trailsight's ({EVENT}, prefix {our_prefix:?}, suffix {SUFFIX:?}); S3 rejects overlapping entries, so nothing was changed. Narrow that entry's filters, or use --eventbridge (S3's EventBridge delivery overlaps nothing)"
    )]
    Overlap {
        /// The bucket.
        bucket: String,
        /// The existing entry's id.
        id: String,
        /// Its events.
        events: String,
        /// Its prefix filter.
        prefix: String,
        /// Its suffix filter.
        suffix: String,
        /// trailsight's prefix filter.
        our_prefix: String,
    },
    /// Reading or writing the configuration failed.
    #[error("bucket {bucket}: {action} failed: {why}")]
    Call {
        /// The bucket.
        bucket: String,
        /// The S3 action.
        action: &'static str,
        /// Why.
        why: String,
    },
}

/// Whether two event names overlap (`s3:ObjectCreated:*` covers every `s3:ObjectCreated:...`).
pub fn events_overlap(a: &str, b: &str) -> bool {
    let family = |e: &str| e.rsplit_once(':').map(|(f, last)| (f.to_owned(), last == "*"));
    match (family(a), family(b)) {
        (Some((fa, wa)), Some((fb, wb))) => a == b || (fa == fb && (wa || wb)),
        _ => a == b,
    }
}

/// Whether two prefix/suffix filters can match the same key (S3's overlap rule: one prefix
/// starts the other, and one suffix ends the other; an empty filter matches everything).
pub fn filters_overlap(prefix_a: &str, suffix_a: &str, prefix_b: &str, suffix_b: &str) -> bool {
    let prefixes = prefix_a.starts_with(prefix_b) || prefix_b.starts_with(prefix_a);
    let suffixes = suffix_a.ends_with(suffix_b) || suffix_b.ends_with(suffix_a);
    prefixes && suffixes
}

fn filter_of(f: Option<&NotificationConfigurationFilter>) -> (String, String) {
    let mut prefix = String::new();
    let mut suffix = String::new();
    for rule in f.and_then(|f| f.key()).map(|k| k.filter_rules()).unwrap_or_default() {
        match rule.name() {
            Some(FilterRuleName::Prefix) => prefix = rule.value().unwrap_or("").to_owned(),
            Some(FilterRuleName::Suffix) => suffix = rule.value().unwrap_or("").to_owned(),
            _ => {}
        }
    }
    (prefix, suffix)
}

fn call_error<E: std::fmt::Display>(bucket: &str, action: &'static str, e: E) -> SetupError {
    SetupError::Call { bucket: bucket.to_owned(), action, why: e.to_string() }
}

/// Fails when an entry of another tool (topic, queue or function) would overlap trailsight's
/// queue entry under `our_prefix`. (The error is large, and built once, on a refusal.)
#[allow(clippy::result_large_err)]
fn refuse_overlap(
    bucket: &str,
    current: &aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput,
    queues: &[QueueConfiguration],
    our_prefix: &str,
) -> Result<(), SetupError> {
    let others = current
        .topic_configurations()
        .iter()
        .map(|t| (t.id(), t.events(), t.filter()))
        .chain(queues.iter().map(|q| (q.id(), q.events(), q.filter())))
        .chain(current.lambda_function_configurations().iter().map(|l| (l.id(), l.events(), l.filter())));
    for (id, events, filter) in others {
        let (prefix, suffix) = filter_of(filter);
        if events.iter().any(|e| events_overlap(e.as_str(), EVENT))
            && filters_overlap(&prefix, &suffix, our_prefix, SUFFIX)
        {
            return Err(SetupError::Overlap {
                bucket: bucket.to_owned(),
                id: id.unwrap_or("(no id)").to_owned(),
                events: events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(","),
                prefix,
                suffix,
                our_prefix: our_prefix.to_owned(),
            });
        }
    }
    Ok(())
}

/// Adds trailsight's delivery to `bucket`'s notifications, keeping every other entry.
/// `key_prefix` is where the trail's log files are (`AWSLogs/`, or `PREFIX/AWSLogs/`).
pub async fn setup(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    delivery: &Delivery,
    key_prefix: &str,
) -> Result<Setup, SetupError> {
    let current = s3.get_bucket_notification_configuration().bucket(bucket).send().await.map_err(|e| {
        call_error(
            bucket,
            "s3:GetBucketNotificationConfiguration",
            aws_smithy_types::error::display::DisplayErrorContext(e),
        )
    })?;
    let our_prefix = key_prefix.to_owned();
    let mut queues: Vec<QueueConfiguration> = current.queue_configurations().to_vec();
    let kept = current.topic_configurations().len()
        + current.lambda_function_configurations().len()
        + queues.iter().filter(|q| q.id() != Some(ENTRY_ID)).count();
    let mut event_bridge = current.event_bridge_configuration().cloned();
    match delivery {
        Delivery::EventBridge => {
            if event_bridge.is_some() {
                return Ok(Setup::AlreadyThere);
            }
            event_bridge = Some(EventBridgeConfiguration::builder().build());
        }
        Delivery::Queue(arn) => {
            let ours = |q: &QueueConfiguration| {
                q.queue_arn() == arn
                    && q.events().iter().any(|e| e.as_str() == EVENT)
                    && filter_of(q.filter()) == (our_prefix.clone(), SUFFIX.to_owned())
            };
            if queues.iter().any(ours) {
                return Ok(Setup::AlreadyThere);
            }
            queues.retain(|q| q.id() != Some(ENTRY_ID));
            refuse_overlap(bucket, &current, &queues, &our_prefix)?;
            let filter = NotificationConfigurationFilter::builder()
                .key(
                    S3KeyFilter::builder()
                        .filter_rules(FilterRule::builder().name(FilterRuleName::Prefix).value(&our_prefix).build())
                        .filter_rules(FilterRule::builder().name(FilterRuleName::Suffix).value(SUFFIX).build())
                        .build(),
                )
                .build();
            let entry = QueueConfiguration::builder()
                .id(ENTRY_ID)
                .queue_arn(arn)
                .events(aws_sdk_s3::types::Event::from(EVENT))
                .filter(filter)
                .build()
                .map_err(|e| call_error(bucket, "s3:PutBucketNotificationConfiguration", e))?;
            queues.push(entry);
        }
    }
    let config = NotificationConfiguration::builder()
        .set_topic_configurations(Some(current.topic_configurations().to_vec()))
        .set_queue_configurations(Some(queues))
        .set_lambda_function_configurations(Some(current.lambda_function_configurations().to_vec()))
        .set_event_bridge_configuration(event_bridge)
        .build();
    s3.put_bucket_notification_configuration().bucket(bucket).notification_configuration(config).send().await.map_err(
        |e| {
            call_error(
                bucket,
                "s3:PutBucketNotificationConfiguration",
                aws_smithy_types::error::display::DisplayErrorContext(e),
            )
        },
    )?;
    Ok(Setup::Added { kept })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_created_wildcard_overlaps_each_created_event_but_not_removals() {
        assert!(events_overlap("s3:ObjectCreated:*", "s3:ObjectCreated:Put"));
        assert!(events_overlap("s3:ObjectCreated:Put", "s3:ObjectCreated:*"));
        assert!(!events_overlap("s3:ObjectCreated:Put", "s3:ObjectCreated:Copy"));
        assert!(!events_overlap("s3:ObjectRemoved:*", "s3:ObjectCreated:*"));
    }

    #[test]
    fn filters_overlap_when_one_prefix_starts_the_other_and_one_suffix_ends_the_other() {
        assert!(filters_overlap("", "", "AWSLogs/", ".json.gz"));
        assert!(filters_overlap("AWSLogs/1/", "", "AWSLogs/", ".json.gz"));
        assert!(!filters_overlap("exports/", "", "AWSLogs/", ".json.gz"));
        assert!(!filters_overlap("", ".csv", "AWSLogs/", ".json.gz"));
        assert!(filters_overlap("", ".gz", "AWSLogs/", ".json.gz"));
    }
}
