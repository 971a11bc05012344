//! [`LogArchive`] on S3: a trail bucket's folders and files listed with ListObjectsV2 (in key
//! order, which within one account and region's folder is delivery order), and the
//! backfill's manifest written with PutObject.

use aws_sdk_s3::primitives::ByteStream;
use trailsight_core::ingest::notify::ObjectRef;
use trailsight_core::store::ports::{Listing, LogArchive, SourceError};

/// Lists and writes objects in S3.
#[derive(Debug, Clone)]
pub struct S3Archive {
    client: aws_sdk_s3::Client,
}

impl S3Archive {
    /// An archive on `client`.
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        S3Archive { client }
    }

    /// An archive with its own client (`path_style` for emulators).
    pub fn from_config(config: &aws_config::SdkConfig, path_style: bool) -> Self {
        Self::new(crate::config::s3_client(config, path_style))
    }
}

fn unavailable(bucket: &str, key: &str, e: impl std::error::Error) -> SourceError {
    SourceError::Unavailable {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        why: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
    }
}

impl LogArchive for S3Archive {
    async fn folders(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, SourceError> {
        let mut folders = Vec::new();
        let mut pages =
            self.client.list_objects_v2().bucket(bucket).prefix(prefix).delimiter("/").into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| unavailable(bucket, prefix, e))?;
            folders.extend(page.common_prefixes().iter().filter_map(|p| p.prefix().map(str::to_owned)));
        }
        folders.sort();
        folders.dedup();
        Ok(folders)
    }

    async fn page(&self, listing: Listing<'_>) -> Result<Vec<ObjectRef>, SourceError> {
        let (bucket, prefix) = (listing.bucket, listing.prefix);
        let mut out: Vec<ObjectRef> = Vec::new();
        // ListObjectsV2 returns at most 1,000 keys per request.
        while out.len() < listing.max {
            let after = out.last().map(|o| o.key.clone()).or_else(|| listing.start_after.map(str::to_owned));
            let page = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_start_after(after)
                .max_keys(i32::try_from((listing.max - out.len()).min(1000)).unwrap_or(1000))
                .send()
                .await
                .map_err(|e| unavailable(bucket, prefix, e))?;
            let before = out.len();
            out.extend(page.contents().iter().filter_map(|o| {
                Some(ObjectRef {
                    bucket: bucket.to_owned(),
                    key: o.key()?.to_owned(),
                    etag: o.e_tag().map(|t| t.trim_matches('"').to_owned()),
                })
            }));
            if out.len() == before || page.is_truncated() != Some(true) {
                break;
            }
        }
        Ok(out)
    }

    async fn write(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), SourceError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| unavailable(bucket, key, e))?;
        Ok(())
    }
}
