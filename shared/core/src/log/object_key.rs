//! Classification of S3 object keys: CloudTrail log files versus everything else.
//!
//! A CloudTrail log file is
//! `[prefix/]AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_UNIQUE.json.gz`.
//! Digest files (`CloudTrail-Digest`), Insights files (`CloudTrail-Insight`) and any other
//! object are recognised and skipped with a [`SkipReason`]. Keys in S3 notifications are
//! URL-encoded (`+` for a space, `%3A`...): [`decode_notification_key`] decodes them.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use std::fmt;

/// A parsed CloudTrail log-file key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogKey {
    /// The whole (decoded) key.
    pub key: String,
    /// Everything before `AWSLogs/`, without the trailing slash; `None` when there is none.
    pub prefix: Option<String>,
    /// The organization id (`o-...`) of an organization trail.
    pub org_id: Option<String>,
    /// The 12-digit account id the file belongs to.
    pub account: String,
    /// The region the file was written for.
    pub region: String,
    /// Delivery time (minute precision) taken from the file name.
    pub delivered: DateTime<Utc>,
    /// The 16-character unique string of the file name.
    pub unique: String,
    /// Whether the object is gzip-compressed (`.json.gz`) rather than plain `.json`.
    pub gzip: bool,
}

impl LogKey {
    /// The file name part of the key.
    pub fn file_name(&self) -> &str {
        self.key.rsplit('/').next().unwrap_or(&self.key)
    }
}

/// Why an object is not a CloudTrail log file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// A log-file integrity digest (`CloudTrail-Digest`).
    Digest,
    /// A CloudTrail Insights file (`CloudTrail-Insight`): AWS's own insights, not API calls.
    Insight,
    /// A folder marker (key ending in `/`).
    Folder,
    /// Any other object; the text says what did not match.
    NotCloudTrail(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Digest => f.write_str("CloudTrail digest file (integrity validation), not a log file"),
            SkipReason::Insight => f.write_str("CloudTrail Insights file, not a log of API calls"),
            SkipReason::Folder => f.write_str("folder marker"),
            SkipReason::NotCloudTrail(why) => write!(f, "not a CloudTrail log file: {why}"),
        }
    }
}

/// The verdict on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classified {
    /// A log file to read.
    Log(LogKey),
    /// An object to skip, with the reason.
    Skip(SkipReason),
}

/// A notification key that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "S3 key {key:?} is not valid URL-encoded UTF-8; check the notification's source (S3 event keys are URL-encoded)"
)]
pub struct KeyDecodeError {
    /// The raw key as received.
    pub key: String,
}

/// Decodes a key as S3 event notifications carry it: form-URL-encoded, `+` for a space.
pub fn decode_notification_key(raw: &str) -> Result<String, KeyDecodeError> {
    let plus_decoded = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_decoded)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| KeyDecodeError { key: raw.to_owned() })
}

/// Classifies a decoded key (or a local path: only its CloudTrail part is looked at).
///
/// The `AWSLogs/...` folder layout is used when present (it gives the prefix and organization
/// id); a bare file name such as `123456789012_CloudTrail_us-east-1_20170601T0005Z_x.json.gz`
/// is accepted too, so files downloaded from a trail can be replayed from any folder.
pub fn classify(key: &str) -> Classified {
    if key.ends_with('/') {
        return Classified::Skip(SkipReason::Folder);
    }
    let file = key.rsplit('/').next().unwrap_or(key);
    if file.contains("_CloudTrail-Digest_") || key.contains("/CloudTrail-Digest/") {
        return Classified::Skip(SkipReason::Digest);
    }
    if file.contains("_CloudTrail-Insight_") || key.contains("/CloudTrail-Insight/") {
        return Classified::Skip(SkipReason::Insight);
    }
    let parsed = match parse_file_name(file) {
        Ok(p) => p,
        Err(why) => return Classified::Skip(SkipReason::NotCloudTrail(why)),
    };
    let (prefix, org_id) = match folder_parts(key, &parsed) {
        Ok(parts) => parts,
        Err(why) => return Classified::Skip(SkipReason::NotCloudTrail(why)),
    };
    Classified::Log(LogKey {
        key: key.to_owned(),
        prefix,
        org_id,
        account: parsed.account.to_owned(),
        region: parsed.region.to_owned(),
        delivered: parsed.delivered,
        unique: parsed.unique.to_owned(),
        gzip: parsed.gzip,
    })
}

struct FileName<'a> {
    account: &'a str,
    region: &'a str,
    delivered: DateTime<Utc>,
    unique: &'a str,
    gzip: bool,
}

fn parse_file_name(file: &str) -> Result<FileName<'_>, String> {
    let (stem, gzip) = if let Some(s) = file.strip_suffix(".json.gz") {
        (s, true)
    } else if let Some(s) = file.strip_suffix(".json") {
        (s, false)
    } else {
        return Err(format!("file name {file:?} does not end in .json.gz or .json"));
    };
    let mut parts = stem.split('_');
    let (Some(account), Some(kind), Some(region), Some(stamp), Some(unique), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("file name {file:?} is not ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_UNIQUE"));
    };
    if kind != "CloudTrail" {
        return Err(format!("file name {file:?} is of kind {kind:?}, not CloudTrail"));
    }
    if !is_account_id(account) {
        return Err(format!("file name {file:?} does not start with a 12-digit account id"));
    }
    if region.is_empty() || !region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        return Err(format!("file name {file:?} has no valid region"));
    }
    let delivered = parse_stamp(stamp).ok_or_else(|| format!("file name {file:?} has no valid YYYYMMDDTHHMMZ time"))?;
    if unique.is_empty() {
        return Err(format!("file name {file:?} has no unique string"));
    }
    Ok(FileName { account, region, delivered, unique, gzip })
}

fn folder_parts(key: &str, file: &FileName<'_>) -> Result<(Option<String>, Option<String>), String> {
    let Some(pos) = find_awslogs(key) else {
        return Ok((None, None));
    };
    let prefix = key[..pos].trim_end_matches('/');
    let prefix = (!prefix.is_empty()).then(|| prefix.to_owned());
    let rest = &key[pos + "AWSLogs/".len()..];
    let mut segs = rest.split('/');
    let mut first = segs.next().unwrap_or_default();
    let mut org_id = None;
    if first.starts_with("o-") {
        org_id = Some(first.to_owned());
        first = segs.next().unwrap_or_default();
    }
    if first != file.account {
        return Err(format!("folder account {first:?} does not match file name account {:?}", file.account));
    }
    match segs.next() {
        Some("CloudTrail") => {}
        other => return Err(format!("folder after the account is {other:?}, not CloudTrail")),
    }
    match segs.next() {
        Some(r) if r == file.region => {}
        other => return Err(format!("folder region {other:?} does not match file name region {:?}", file.region)),
    }
    Ok((prefix, org_id))
}

fn find_awslogs(key: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = key[from..].find("AWSLogs/") {
        let at = from + i;
        if at == 0 || key.as_bytes()[at - 1] == b'/' {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_stamp(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() != 14 || b[8] != b'T' || b[13] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(4..6)?, num(6..8)?)?;
    let time = date.and_hms_opt(num(9..11)?, num(11..13)?, 0)?;
    Utc.from_local_datetime(&time).single()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn log(key: &str) -> LogKey {
        match classify(key) {
            Classified::Log(k) => k,
            Classified::Skip(r) => panic!("{key} skipped: {r}"),
        }
    }

    #[test]
    fn plain_trail_key_gives_account_region_and_delivery_time() {
        // Given a key as CloudTrail writes it
        let k = log("AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/01/111122223333_CloudTrail_us-east-2_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json.gz");
        // Then every part is parsed
        assert_eq!(k.account, "111122223333");
        assert_eq!(k.region, "us-east-2");
        assert_eq!(k.delivered.to_rfc3339(), "2015-08-01T02:10:00+00:00");
        assert_eq!(k.unique, "Mu0KsOhtH1ar15ZZ");
        assert_eq!(k.prefix, None);
        assert_eq!(k.org_id, None);
        assert!(k.gzip);
    }

    #[test]
    fn organization_trail_with_prefix_gives_org_id_and_prefix() {
        // Given an organization trail key below a two-level prefix
        let k = log("logs/trail/AWSLogs/o-abc123def4/111122223333/CloudTrail/eu-west-1/2024/01/02/111122223333_CloudTrail_eu-west-1_20240102T2355Z_abcdefABCDEF1234.json.gz");
        // Then the prefix and organization id are parsed
        assert_eq!(k.prefix.as_deref(), Some("logs/trail"));
        assert_eq!(k.org_id.as_deref(), Some("o-abc123def4"));
        assert_eq!(k.region, "eu-west-1");
    }

    #[test]
    fn url_encoded_notification_key_is_decoded_before_classification() {
        // Given a key with a prefix containing a space and a colon, as S3 notifications encode it
        let raw = "my+logs%3Aprod/AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/111122223333_CloudTrail_us-east-1_20240102T0005Z_abcdefABCDEF1234.json.gz";
        // When decoded and classified
        let k = log(&decode_notification_key(raw).unwrap());
        // Then the prefix is the real one
        assert_eq!(k.prefix.as_deref(), Some("my logs:prod"));
    }

    #[test]
    fn literal_plus_arrives_as_percent_2b_and_decodes_to_plus() {
        assert_eq!(decode_notification_key("a+%2B+b").unwrap(), "a + b");
    }

    #[test]
    fn invalid_utf8_in_encoded_key_is_an_error() {
        assert!(decode_notification_key("bad%FF").is_err());
    }

    #[test]
    fn digest_file_is_skipped_as_digest() {
        let key = "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz";
        assert_eq!(classify(key), Classified::Skip(SkipReason::Digest));
    }

    #[test]
    fn insights_file_is_skipped_as_insight() {
        let key = "o-fxozgwu6rc/AWSLogs/o-fxozgwu6rc/123456789015/CloudTrail-Insight/ca-central-1/2020/09/23/123456789015_CloudTrail-Insight_ca-central-1_20200923T0516Z_KL5e9VCV2SS7IqzB.json.gz";
        assert_eq!(classify(key), Classified::Skip(SkipReason::Insight));
    }

    #[test]
    fn other_objects_are_skipped_with_a_reason() {
        // Given objects that are not log files
        for key in [
            "AWSLogs/111122223333/CloudTrail/",
            "AWSLogs/111122223333/elasticloadbalancing/us-east-1/2024/01/01/x.log.gz",
            "README.txt",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02/111122223333_CloudTrail_us-east-1_2024010T0005Z_x.json.gz",
            "AWSLogs/999999999999/CloudTrail/us-east-1/2024/01/02/111122223333_CloudTrail_us-east-1_20240102T0005Z_x.json.gz",
        ] {
            // Then each is skipped, never read
            assert!(matches!(classify(key), Classified::Skip(_)), "{key}");
        }
    }

    #[test]
    fn bare_file_name_and_plain_json_are_log_files() {
        let k = log("/tmp/x/974349055189_CloudTrail_us-east-1_20170601T0005Z_12nCTooUATtsirhW.json");
        assert!(!k.gzip);
        assert_eq!(k.account, "974349055189");
    }
}
