//! Every way a log delivery is announced, turned into the objects to read.
//!
//! - an S3 event notification (`Records[].s3`), keys URL-encoded;
//! - S3 notifications wrapped in SQS (`Records[].body` as a string), one group per message so
//!   the handler can report `batchItemFailures` for just the failed messages;
//! - CloudTrail's own SNS notification (`{"s3Bucket": ..., "s3ObjectKey": [...]}` in
//!   `Sns.Message`), keys not encoded;
//! - SNS-wrapped S3 notifications (directly, or SNS in SQS);
//! - EventBridge "Object Created" events from S3 (`detail.bucket.name`, `detail.object.key`).
//!
//! S3's one-off `s3:TestEvent` is recognised and yields no object.

use crate::log::object_key::decode_notification_key;
use serde_json::Value;

/// One S3 object to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// Bucket name.
    pub bucket: String,
    /// Decoded key.
    pub key: String,
    /// ETag, when the notification carries it (part of the idempotency key).
    pub etag: Option<String>,
}

impl ObjectRef {
    /// The idempotency key of this delivery: bucket, key and ETag.
    pub fn id(&self) -> String {
        format!("s3://{}/{}#{}", self.bucket, self.key, self.etag.as_deref().unwrap_or(""))
    }
}

/// Objects announced by one message (one SQS message, or the whole event otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The SQS message id, when the event came through SQS.
    pub message_id: Option<String>,
    /// The objects, or why the message could not be understood.
    pub objects: Result<Vec<ObjectRef>, NotifyError>,
}

/// A notification that is not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// The shape is none of the supported ones.
    #[error("unsupported notification: {0}; trailsight accepts S3 notifications (direct, via SQS or SNS), CloudTrail's SNS notification and EventBridge 'Object Created' events")]
    Unsupported(String),
    /// A required field is missing.
    #[error("notification is missing {0}")]
    Missing(&'static str),
    /// A wrapped message is not JSON.
    #[error("wrapped message is not JSON: {0}")]
    NotJson(String),
    /// A key cannot be decoded.
    #[error(transparent)]
    Key(#[from] crate::log::object_key::KeyDecodeError),
}

/// Parses a Lambda event into groups of objects.
pub fn parse(event: &Value) -> Vec<Group> {
    if let Some(records) = event.get("Records").and_then(Value::as_array) {
        let via_sqs = records.iter().any(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs"));
        if via_sqs {
            return records
                .iter()
                .map(|r| Group {
                    message_id: r.get("messageId").and_then(Value::as_str).map(str::to_owned),
                    objects: r
                        .get("body")
                        .and_then(Value::as_str)
                        .ok_or(NotifyError::Missing("Records[].body"))
                        .and_then(parse_text),
                })
                .collect();
        }
    }
    vec![Group { message_id: None, objects: objects(event) }]
}

fn parse_text(text: &str) -> Result<Vec<ObjectRef>, NotifyError> {
    let v: Value = serde_json::from_str(text).map_err(|e| NotifyError::NotJson(e.to_string()))?;
    objects(&v)
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k))?.as_str()
}

/// Objects of one (unwrapped) notification document.
fn objects(v: &Value) -> Result<Vec<ObjectRef>, NotifyError> {
    // S3's test event, sent once when notifications are configured.
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Ok(vec![]);
    }
    // SNS envelope as delivered to SQS: {"Type":"Notification","Message":"..."}.
    if v.get("Type").and_then(Value::as_str) == Some("Notification") {
        let message = v.get("Message").and_then(Value::as_str).ok_or(NotifyError::Missing("Message"))?;
        return parse_text(message);
    }
    // CloudTrail's own notification.
    if let Some(bucket) = v.get("s3Bucket").and_then(Value::as_str) {
        let keys = v.get("s3ObjectKey").and_then(Value::as_array).ok_or(NotifyError::Missing("s3ObjectKey"))?;
        return Ok(keys
            .iter()
            .filter_map(Value::as_str)
            .map(|k| ObjectRef { bucket: bucket.to_owned(), key: k.to_owned(), etag: None })
            .collect());
    }
    // EventBridge "Object Created".
    if v.get("detail-type").is_some() {
        if v.get("detail-type").and_then(Value::as_str) != Some("Object Created") {
            return Err(NotifyError::Unsupported(format!("EventBridge detail-type {}", v["detail-type"])));
        }
        let d = v.get("detail").ok_or(NotifyError::Missing("detail"))?;
        let bucket = str_at(d, &["bucket", "name"]).ok_or(NotifyError::Missing("detail.bucket.name"))?;
        let key = str_at(d, &["object", "key"]).ok_or(NotifyError::Missing("detail.object.key"))?;
        let etag = str_at(d, &["object", "etag"]).map(str::to_owned);
        return Ok(vec![ObjectRef { bucket: bucket.to_owned(), key: key.to_owned(), etag }]);
    }
    let records = v.get("Records").and_then(Value::as_array).ok_or_else(|| {
        NotifyError::Unsupported(format!("top-level keys {:?}", v.as_object().map(|o| o.keys().collect::<Vec<_>>())))
    })?;
    let mut out = vec![];
    for r in records {
        if let Some(sns) = r.get("Sns") {
            let message = sns.get("Message").and_then(Value::as_str).ok_or(NotifyError::Missing("Sns.Message"))?;
            out.extend(parse_text(message)?);
            continue;
        }
        let s3 = r.get("s3").ok_or(NotifyError::Missing("Records[].s3"))?;
        let bucket = str_at(s3, &["bucket", "name"]).ok_or(NotifyError::Missing("s3.bucket.name"))?;
        let raw = str_at(s3, &["object", "key"]).ok_or(NotifyError::Missing("s3.object.key"))?;
        let etag = str_at(s3, &["object", "eTag"]).map(str::to_owned);
        out.push(ObjectRef { bucket: bucket.to_owned(), key: decode_notification_key(raw)?, etag });
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/111122223333_CloudTrail_us-east-1_20240102T0005Z_abcdefABCDEF1234.json.gz";

    fn s3_event(key: &str) -> Value {
        json!({"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put",
            "s3":{"bucket":{"name":"trail-bucket"},"object":{"key":key,"size":1024,"eTag":"abc"}}}]})
    }

    fn one(groups: Vec<Group>) -> Vec<ObjectRef> {
        assert_eq!(groups.len(), 1);
        groups.into_iter().next().unwrap().objects.unwrap()
    }

    #[test]
    fn s3_notification_keys_are_url_decoded() {
        let objs = one(parse(&s3_event("my+prefix%3Ax/AWSLogs/1.json.gz")));
        assert_eq!(objs[0].key, "my prefix:x/AWSLogs/1.json.gz");
        assert_eq!(objs[0].etag.as_deref(), Some("abc"));
        assert_eq!(objs[0].id(), "s3://trail-bucket/my prefix:x/AWSLogs/1.json.gz#abc");
    }

    #[test]
    fn sqs_wrapped_notifications_give_one_group_per_message() {
        // Given two SQS messages, one good and one garbage
        let event = json!({"Records":[
            {"messageId":"m1","eventSource":"aws:sqs","body": s3_event(KEY).to_string()},
            {"messageId":"m2","eventSource":"aws:sqs","body":"not json"}]});
        // Then each message is its own group, the bad one with an error
        let groups = parse(&event);
        assert_eq!(groups[0].message_id.as_deref(), Some("m1"));
        assert_eq!(groups[0].objects.as_ref().unwrap()[0].key, KEY);
        assert!(matches!(groups[1].objects, Err(NotifyError::NotJson(_))));
    }

    #[test]
    fn cloudtrail_sns_notification_lists_every_key() {
        let message = json!({"s3Bucket":"trail-bucket","s3ObjectKey":[KEY, KEY.replace("0005Z", "0010Z")]}).to_string();
        let event = json!({"Records":[{"EventSource":"aws:sns","Sns":{"Type":"Notification","Message":message}}]});
        let objs = one(parse(&event));
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[1].bucket, "trail-bucket");
    }

    #[test]
    fn sns_wrapped_s3_notification_direct_and_through_sqs() {
        let sns_body = json!({"Type":"Notification","MessageId":"x","Message": s3_event(KEY).to_string()}).to_string();
        let via_sqs = json!({"Records":[{"messageId":"m1","eventSource":"aws:sqs","body":sns_body}]});
        assert_eq!(parse(&via_sqs)[0].objects.as_ref().unwrap()[0].key, KEY);
        let direct = json!({"Records":[{"EventSource":"aws:sns","Sns":{"Message": s3_event(KEY).to_string()}}]});
        assert_eq!(one(parse(&direct))[0].key, KEY);
    }

    #[test]
    fn eventbridge_object_created_event() {
        let event = json!({"version":"0","detail-type":"Object Created","source":"aws.s3",
            "detail":{"bucket":{"name":"trail-bucket"},"object":{"key":KEY,"etag":"e1","size":5}}});
        let objs = one(parse(&event));
        assert_eq!((objs[0].key.as_str(), objs[0].etag.as_deref()), (KEY, Some("e1")));
    }

    #[test]
    fn s3_test_event_yields_nothing_and_unknown_shapes_are_errors() {
        assert_eq!(one(parse(&json!({"Service":"Amazon S3","Event":"s3:TestEvent"}))), vec![]);
        let bad = parse(&json!({"hello":"world"}));
        assert!(matches!(bad[0].objects, Err(NotifyError::Unsupported(_))));
        let missing = parse(&json!({"Records":[{"s3":{"bucket":{}}}]}));
        assert!(matches!(missing[0].objects, Err(NotifyError::Missing(_))));
    }
}
