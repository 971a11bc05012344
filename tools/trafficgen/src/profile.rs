//! The simulated account: APIs with realistic volumes and shapes, and labelled anomalies.
//!
//! Benign shapes (never labelled): business-hours cycles and quiet weekends, hourly jobs at a
//! fixed minute (~30x for one minute), nightly jobs and ten-minute nightly batches, weekday
//! deploys of otherwise silent APIs, sparse APIs called a few times a day.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// How an API's rate varies.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// Busy in business hours on weekdays (`peak` per minute), `night` fraction otherwise.
    Office { peak: f64, night: f64 },
    /// Constant rate per minute (machines).
    Flat { rate: f64 },
    /// Flat rate plus a job at `minute` of every hour adding `burst` calls.
    Hourly { rate: f64, minute: u32, burst: f64 },
    /// Flat rate plus a nightly job at `hh:mm` adding `burst` calls, or a batch of `len` minutes.
    Nightly { rate: f64, at: u32, len: u32, burst: f64 },
    /// Silent but for weekday deploys: a few minutes of `rate` calls at varying times.
    Deploy { rate: f64 },
    /// A few calls a day at random times.
    Sparse { per_day: f64 },
}

/// One simulated API.
#[derive(Debug, Clone, Copy)]
pub struct Api {
    /// eventSource.
    pub source: &'static str,
    /// eventName.
    pub name: &'static str,
    /// readOnly.
    pub read_only: bool,
    /// Volume shape.
    pub shape: Shape,
    /// Background error fraction and its code.
    pub error: (f64, &'static str),
}

const fn api(
    source: &'static str,
    name: &'static str,
    read_only: bool,
    shape: Shape,
    error: (f64, &'static str),
) -> Api {
    Api { source, name, read_only, shape, error }
}

const NONE: (f64, &str) = (0.0, "");
const DENIED: (f64, &str) = (0.01, "AccessDenied");

/// The APIs of the simulated account (about 100 calls a minute on average per region).
#[rustfmt::skip]
pub const APIS: &[Api] = &[
    api("sts.amazonaws.com", "AssumeRole", false, Shape::Flat { rate: 12.0 }, (0.005, "AccessDenied")),
    api("sts.amazonaws.com", "GetCallerIdentity", true, Shape::Office { peak: 6.0, night: 0.2 }, NONE),
    api("s3.amazonaws.com", "ListBuckets", true, Shape::Office { peak: 2.0, night: 0.1 }, NONE),
    api("s3.amazonaws.com", "GetBucketAcl", true, Shape::Hourly { rate: 1.0, minute: 5, burst: 30.0 }, NONE),
    api("s3.amazonaws.com", "GetBucketLocation", true, Shape::Office { peak: 4.0, night: 0.3 }, NONE),
    api("s3.amazonaws.com", "GetBucketPolicy", true, Shape::Office { peak: 1.0, night: 0.1 }, (0.3, "NoSuchBucketPolicy")),
    api("s3.amazonaws.com", "PutBucketTagging", false, Shape::Sparse { per_day: 4.0 }, NONE),
    api("ec2.amazonaws.com", "DescribeInstances", true, Shape::Office { peak: 25.0, night: 0.3 }, DENIED),
    api("ec2.amazonaws.com", "DescribeSecurityGroups", true, Shape::Office { peak: 6.0, night: 0.2 }, NONE),
    api("ec2.amazonaws.com", "DescribeVolumes", true, Shape::Hourly { rate: 2.0, minute: 0, burst: 60.0 }, NONE),
    api("ec2.amazonaws.com", "DescribeSnapshots", true, Shape::Nightly { rate: 0.2, at: 120, len: 10, burst: 40.0 }, NONE),
    api("ec2.amazonaws.com", "CreateSnapshot", false, Shape::Nightly { rate: 0.0, at: 121, len: 10, burst: 15.0 }, NONE),
    api("ec2.amazonaws.com", "RunInstances", false, Shape::Sparse { per_day: 3.0 }, (0.05, "Client.UnauthorizedOperation")),
    api("ec2.amazonaws.com", "TerminateInstances", false, Shape::Sparse { per_day: 2.0 }, NONE),
    api("ec2.amazonaws.com", "CreateTags", false, Shape::Office { peak: 1.5, night: 0.05 }, NONE),
    api("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress", false, Shape::Sparse { per_day: 1.0 }, NONE),
    api("iam.amazonaws.com", "ListUsers", true, Shape::Office { peak: 0.5, night: 0.02 }, NONE),
    api("iam.amazonaws.com", "ListAccessKeys", true, Shape::Nightly { rate: 0.05, at: 180, len: 1, burst: 25.0 }, NONE),
    api("iam.amazonaws.com", "ListRoles", true, Shape::Office { peak: 3.0, night: 0.1 }, NONE),
    api("iam.amazonaws.com", "GetRole", true, Shape::Office { peak: 8.0, night: 0.3 }, DENIED),
    api("iam.amazonaws.com", "CreateAccessKey", false, Shape::Sparse { per_day: 1.0 }, NONE),
    api("iam.amazonaws.com", "PassRole", false, Shape::Deploy { rate: 6.0 }, NONE),
    api("kms.amazonaws.com", "Decrypt", true, Shape::Flat { rate: 15.0 }, (0.002, "AccessDeniedException")),
    api("kms.amazonaws.com", "GenerateDataKey", true, Shape::Office { peak: 8.0, night: 0.5 }, NONE),
    api("secretsmanager.amazonaws.com", "GetSecretValue", true, Shape::Hourly { rate: 1.0, minute: 30, burst: 20.0 }, (0.01, "ResourceNotFoundException")),
    api("ssm.amazonaws.com", "GetParameter", true, Shape::Office { peak: 10.0, night: 0.4 }, (0.02, "ParameterNotFound")),
    api("ssm.amazonaws.com", "UpdateInstanceInformation", false, Shape::Flat { rate: 4.0 }, NONE),
    api("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", false, Shape::Deploy { rate: 8.0 }, NONE),
    api("lambda.amazonaws.com", "ListFunctions20150331", true, Shape::Office { peak: 1.0, night: 0.05 }, NONE),
    api("cloudformation.amazonaws.com", "CreateChangeSet", false, Shape::Deploy { rate: 4.0 }, NONE),
    api("cloudformation.amazonaws.com", "DescribeStacks", true, Shape::Office { peak: 5.0, night: 0.2 }, (0.01, "ValidationError")),
    api("monitoring.amazonaws.com", "PutMetricData", false, Shape::Hourly { rate: 10.0, minute: 15, burst: 300.0 }, NONE),
    api("monitoring.amazonaws.com", "DescribeAlarms", true, Shape::Flat { rate: 3.0 }, NONE),
    api("logs.amazonaws.com", "CreateLogStream", false, Shape::Office { peak: 3.0, night: 0.5 }, (0.05, "ResourceAlreadyExistsException")),
    api("logs.amazonaws.com", "DescribeLogGroups", true, Shape::Office { peak: 2.0, night: 0.1 }, NONE),
    api("dynamodb.amazonaws.com", "DescribeTable", true, Shape::Flat { rate: 5.0 }, NONE),
    api("dynamodb.amazonaws.com", "UpdateTable", false, Shape::Sparse { per_day: 2.0 }, NONE),
    api("rds.amazonaws.com", "DescribeDBInstances", true, Shape::Office { peak: 2.0, night: 0.2 }, NONE),
    api("autoscaling.amazonaws.com", "DescribeAutoScalingGroups", true, Shape::Flat { rate: 2.0 }, NONE),
    api("elasticloadbalancing.amazonaws.com", "DescribeTargetHealth", true, Shape::Flat { rate: 3.0 }, NONE),
    api("cloudtrail.amazonaws.com", "LookupEvents", true, Shape::Office { peak: 0.5, night: 0.0 }, (0.05, "ThrottlingException")),
    api("config.amazonaws.com", "PutEvaluations", false, Shape::Hourly { rate: 0.5, minute: 45, burst: 15.0 }, NONE),
    api("ecr.amazonaws.com", "GetAuthorizationToken", true, Shape::Office { peak: 2.0, night: 0.2 }, NONE),
    api("ecr.amazonaws.com", "PutImage", false, Shape::Deploy { rate: 3.0 }, NONE),
];

/// Expected calls of `api` in minute `m` (minutes since the epoch) for one account and region;
/// `salt` varies deploy times by day and region.
pub fn rate(api: &Api, m: i64, salt: u64) -> f64 {
    let hour = m.rem_euclid(1440) / 60;
    let minute = (m.rem_euclid(60)) as u32;
    let mod_ = m.rem_euclid(1440) as u32;
    let weekday = (m.div_euclid(1440) + 3).rem_euclid(7) < 5; // 1970-01-01 was a Thursday
    let office = weekday && (8..18).contains(&hour);
    match api.shape {
        Shape::Office { peak, night } => {
            if office {
                peak
            } else {
                peak * night.max(0.0) + 0.01
            }
        }
        Shape::Flat { rate } => rate,
        Shape::Hourly { rate, minute: at, burst } => rate + if minute == at { burst } else { 0.0 },
        Shape::Nightly { rate, at, len, burst } => rate + if (at..at + len).contains(&mod_) { burst } else { 0.0 },
        Shape::Deploy { rate } => {
            // One deploy of 3-6 minutes per weekday, at a time that varies day to day.
            let day = m.div_euclid(1440) as u64;
            let mut r = StdRng::seed_from_u64(salt ^ day.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ fxhash(api.name));
            let start = r.gen_range(9 * 60..17 * 60) as u32;
            let len = r.gen_range(3..7);
            if weekday && (start..start + len).contains(&mod_) {
                rate
            } else {
                0.0
            }
        }
        Shape::Sparse { per_day } => per_day / 1440.0,
    }
}

/// A small stable string hash.
pub fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// A labelled anomaly.
#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    /// Label id.
    pub id: String,
    /// What it simulates.
    pub kind: String,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// eventSource.
    #[serde(rename = "eventSource")]
    pub event_source: String,
    /// eventName.
    #[serde(rename = "eventName")]
    pub event_name: String,
    /// The insight type a detector should raise.
    #[serde(rename = "insightType")]
    pub insight_type: String,
    /// The error code of an error-rate anomaly.
    #[serde(rename = "errorCode")]
    pub error_code: Option<String>,
    /// First minute (RFC 3339).
    pub start: String,
    /// End minute, exclusive (RFC 3339).
    pub end: String,
    /// The caller.
    pub caller: String,
    /// Internal: minutes since the epoch.
    #[serde(skip)]
    pub from: i64,
    /// Internal: end minute.
    #[serde(skip)]
    pub to: i64,
    /// Internal: extra calls per minute (or error fraction for error storms, in percent).
    #[serde(skip)]
    pub amount: f64,
}

/// kind, eventSource, eventName, insightType, extra calls per minute (range), minutes (range).
type AnomalyKind = (&'static str, &'static str, &'static str, &'static str, (f64, f64), (i64, i64));

/// The anomalies planted in each account and region: kind, call, the insight it should raise,
/// its rate (calls per minute, a range) and its length (minutes, a range).
const ANOMALY_KINDS: [AnomalyKind; 10] = [
    ("recon-burst", "s3.amazonaws.com", "ListBuckets", "ApiCallRateInsight", (20.0, 120.0), (2, 15)),
    ("recon-burst", "s3.amazonaws.com", "GetBucketAcl", "ApiCallRateInsight", (40.0, 200.0), (2, 15)),
    ("recon-burst", "iam.amazonaws.com", "ListUsers", "ApiCallRateInsight", (20.0, 100.0), (2, 10)),
    ("recon-burst", "iam.amazonaws.com", "ListAccessKeys", "ApiCallRateInsight", (20.0, 100.0), (2, 10)),
    ("recon-burst", "ec2.amazonaws.com", "DescribeInstances", "ApiCallRateInsight", (60.0, 200.0), (3, 15)),
    ("secret-harvest", "secretsmanager.amazonaws.com", "GetSecretValue", "ApiCallRateInsight", (30.0, 100.0), (3, 10)),
    ("unusual-launch", "ec2.amazonaws.com", "RunInstances", "ApiCallRateInsight", (10.0, 40.0), (3, 8)),
    ("unusual-key-creation", "iam.amazonaws.com", "CreateAccessKey", "ApiCallRateInsight", (10.0, 30.0), (2, 5)),
    ("access-denied-storm", "iam.amazonaws.com", "GetRole", "ApiErrorRateInsight", (30.0, 60.0), (10, 30)),
    ("sustained-night-rise", "monitoring.amazonaws.com", "PutMetricData", "ApiCallRateInsight", (20.0, 30.0), (30, 31)),
];

/// Plans the anomalies of one account and region after the history period.
pub fn plan(seed: u64, account: &str, region: &str, history_end: i64, end: i64) -> Vec<Anomaly> {
    let mut r = StdRng::seed_from_u64(seed ^ fxhash(account) ^ fxhash(region).rotate_left(7));
    let intruder = format!("arn:aws:iam::{account}:user/svc-legacy-backup");
    let days = ((end - history_end) / 1440).max(1);
    let mut out: Vec<Anomaly> = vec![];
    for (i, (kind, source, name, insight, amount, len)) in ANOMALY_KINDS.iter().enumerate() {
        // Error storms and the night rise at their typical times; the rest anywhere.
        let len = r.gen_range(len.0..=len.1);
        let day = history_end.div_euclid(1440) + r.gen_range(0..days);
        let minute_of_day = match *kind {
            "sustained-night-rise" => r.gen_range(60..240) + 20,
            "access-denied-storm" => r.gen_range(9 * 60..16 * 60),
            _ => r.gen_range(0..1440 - 40),
        };
        let from = day * 1440 + minute_of_day;
        let to = (from + len).min(end);
        if from >= end || out.iter().any(|a| a.event_name == *name && a.from < to + 60 && from < a.to + 60) {
            continue;
        }
        let error = (*kind == "access-denied-storm").then(|| "AccessDenied".to_owned());
        out.push(Anomaly {
            id: format!("{region}-a{i}"),
            kind: (*kind).to_owned(),
            account: account.to_owned(),
            region: region.to_owned(),
            event_source: (*source).to_owned(),
            event_name: (*name).to_owned(),
            insight_type: (*insight).to_owned(),
            error_code: error,
            start: minute_time(from),
            end: minute_time(to),
            caller: if *kind == "access-denied-storm" {
                format!("arn:aws:sts::{account}:assumed-role/app-deployer/i-0abc")
            } else {
                intruder.clone()
            },
            from,
            to,
            amount: r.gen_range(amount.0..=amount.1),
        });
    }
    out
}

/// RFC 3339 time of a minute since the epoch.
pub fn minute_time(m: i64) -> String {
    chrono::DateTime::from_timestamp(m * 60, 0).map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()).unwrap_or_default()
}
