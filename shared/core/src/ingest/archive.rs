//! The account and region streams of a trail's archive, found by walking its folders:
//! `[prefix]AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/`. Each stream's files sort by key in
//! delivery order, so a stream can be backfilled by listing it from a start key.

use crate::store::ports::{LogArchive, SourceError};

/// The stream folders under `prefix` (the trail's key prefix, with its trailing slash, or
/// empty), sorted. Digest and Insights folders (`CloudTrail-Digest/`, `CloudTrail-Insight/`)
/// and anything that is not an account id are left out.
pub async fn streams<A: LogArchive>(archive: &A, bucket: &str, prefix: &str) -> Result<Vec<String>, SourceError> {
    let mut accounts = Vec::new();
    for folder in archive.folders(bucket, &format!("{prefix}AWSLogs/")).await? {
        if last_segment(&folder).starts_with("o-") {
            accounts.extend(archive.folders(bucket, &folder).await?);
        } else {
            accounts.push(folder);
        }
    }
    let mut streams = Vec::new();
    for account in accounts.iter().filter(|a| is_account_id(last_segment(a))) {
        streams.extend(archive.folders(bucket, &format!("{account}CloudTrail/")).await?);
    }
    streams.sort();
    Ok(streams)
}

/// The first key of a stream's files delivered on or after `day` (`YYYY-MM-DD`): a start key
/// for a listing that begins there (keys hold `YYYY/MM/DD/` after the stream folder).
pub fn start_after_day(stream: &str, day: &str) -> Option<String> {
    let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
    // Sorts after every file of the days before and before every file of `day`.
    Some(format!("{stream}{}", date.format("%Y/%m/%d/")))
}

fn last_segment(folder: &str) -> &str {
    folder.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::memory::MemorySource;

    fn put(source: &MemorySource, key: &str) {
        source.put("b", key, vec![1]);
    }

    #[test]
    fn an_organization_archive_lists_every_account_region_and_nothing_else() {
        // Given an organization trail's archive under a prefix, with digests and a stray object
        let source = MemorySource::default();
        let file = "2025/01/02/x.json.gz";
        put(&source, &format!("org/AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/{file}"));
        put(&source, &format!("org/AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/{file}"));
        put(&source, &format!("org/AWSLogs/o-abc123/111122223333/CloudTrail-Digest/us-east-1/{file}"));
        put(&source, &format!("org/AWSLogs/o-abc123/444455556666/CloudTrail/us-east-1/{file}"));
        put(&source, "org/AWSLogs/o-abc123/111122223333/CloudTrail-Insight/us-east-1/x");
        put(&source, "org/AWSLogs/not-an-account/CloudTrail/us-east-1/x");
        // When its streams are listed
        let found = pollster::block_on(streams(&source, "b", "org/")).unwrap();
        // Then each account and region is one stream folder
        assert_eq!(
            found,
            vec![
                "org/AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/",
                "org/AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/",
                "org/AWSLogs/o-abc123/444455556666/CloudTrail/us-east-1/",
            ]
        );
    }

    #[test]
    fn a_start_day_sorts_between_the_days_files() {
        // Given a stream folder and a start day
        let stream = "AWSLogs/111122223333/CloudTrail/us-east-1/";
        let start = start_after_day(stream, "2025-01-02").unwrap();
        // Then the start key sorts after the day before's files and before the day's own
        assert!(start.as_str() > "AWSLogs/111122223333/CloudTrail/us-east-1/2025/01/01/z.json.gz");
        assert!(start.as_str() < "AWSLogs/111122223333/CloudTrail/us-east-1/2025/01/02/1111_CloudTrail.json.gz");
        assert_eq!(start_after_day(stream, "2025-13-01"), None);
    }
}
