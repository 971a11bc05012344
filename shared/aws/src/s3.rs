//! [`LogSource`] on S3: GetObject with its body streamed into the blocking reader, so a log
//! file is decompressed and counted as it arrives and never held whole in memory.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use std::io::Read;
use tokio_util::io::SyncIoBridge;
use trailsight_core::ingest::notify::ObjectRef;
use trailsight_core::log::object_key::{classify, Classified, LogKey};
use trailsight_core::store::ports::{LogSource, Opened, SourceError};

/// Reads log objects from S3.
#[derive(Debug, Clone)]
pub struct S3Source {
    client: aws_sdk_s3::Client,
}

impl S3Source {
    /// A source on `client`.
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        S3Source { client }
    }

    /// A source with its own client (`path_style` for emulators).
    pub fn from_config(config: &aws_config::SdkConfig, path_style: bool) -> Self {
        Self::new(crate::config::s3_client(config, path_style))
    }
}

impl LogSource for S3Source {
    type Reader = Box<dyn Read + Send>;

    async fn open(&self, bucket: &str, key: &str) -> Result<Opened<Self::Reader>, SourceError> {
        let out =
            self.client.get_object().bucket(bucket).key(key).send().await.map_err(|e| get_error(bucket, key, e))?;
        let etag = out.e_tag().map(|t| t.trim_matches('"').to_owned());
        let size = out.content_length().and_then(|n| u64::try_from(n).ok());
        // The bridge blocks on the runtime while the reader pulls bytes: it must be read in
        // `spawn_blocking` (the port's contract says so).
        let reader: Box<dyn Read + Send> = Box::new(SyncIoBridge::new(Box::pin(out.body.into_async_read())));
        Ok(Opened { reader, etag, size })
    }
}

/// The CloudTrail log files under `prefix` (e.g. `AWSLogs/` or `org/AWSLogs/123456789012/`),
/// delivered at or after `since` (when given), in delivery order, with their ETags: the same
/// object ids the ingest function uses, so a later notification of a listed file is a
/// duplicate. Digests, Insights files and other objects are left out.
pub async fn list_logs(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    since: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Vec<(ObjectRef, LogKey)>, SourceError> {
    let mut out = Vec::new();
    let mut pages = client.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| SourceError::Unavailable {
            bucket: bucket.to_owned(),
            key: prefix.to_owned(),
            why: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
        })?;
        for obj in page.contents() {
            let Some(key) = obj.key() else { continue };
            let Classified::Log(log) = classify(key) else { continue };
            if since.is_some_and(|s| log.delivered < s) {
                continue;
            }
            let object = ObjectRef {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                etag: obj.e_tag().map(|t| t.trim_matches('"').to_owned()),
            };
            out.push((object, log));
        }
    }
    out.sort_by(|a, b| (a.1.delivered, &a.0.key).cmp(&(b.1.delivered, &b.0.key)));
    Ok(out)
}

fn get_error(bucket: &str, key: &str, e: SdkError<GetObjectError>) -> SourceError {
    let (bucket, key) = (bucket.to_owned(), key.to_owned());
    if let SdkError::ServiceError(se) = &e {
        if matches!(se.err(), GetObjectError::NoSuchKey(_)) || se.raw().status().as_u16() == 404 {
            return SourceError::NotFound { bucket, key };
        }
        if se.err().code() == Some("AccessDenied") || se.raw().status().as_u16() == 403 {
            return SourceError::AccessDenied {
                bucket,
                key,
                why: se.err().message().unwrap_or("access denied").to_owned(),
            };
        }
    }
    SourceError::Unavailable { bucket, key, why: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string() }
}
