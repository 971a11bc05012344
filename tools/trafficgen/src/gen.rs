//! Writing the trail: 5-minute gzip files laid out like CloudTrail's, full records, late and
//! duplicated records, anomalies and a few risky calls.

use crate::profile::{fxhash, minute_time, plan, rate, Anomaly, APIS};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Poisson};
use rayon::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Output folder.
    pub out: PathBuf,
    /// Seed of everything random.
    pub seed: u64,
    /// First minute (since the epoch).
    pub start: i64,
    /// Simulated days.
    pub days: i64,
    /// Account ids.
    pub accounts: Vec<String>,
    /// Regions.
    pub regions: Vec<String>,
    /// Volume multiplier.
    pub rate_scale: f64,
    /// Days of history without anomalies.
    pub history_days: i64,
    /// Whether to inject anomalies and risky calls.
    pub anomalies: bool,
    /// Fraction of a minute's records delivered 5-15 minutes late.
    pub late_fraction: f64,
    /// Fraction of records CloudTrail also repeats in the next file.
    pub duplicate_fraction: f64,
}

/// Totals of a run.
#[derive(Debug, Default)]
pub struct Totals {
    /// Files written.
    pub files: AtomicU64,
    /// Records written (duplicates included).
    pub records: AtomicU64,
    /// Compressed bytes.
    pub bytes: AtomicU64,
}

struct Rec {
    /// Index into APIS (ignored for risky calls, which name their own API).
    api: usize,
    minute: i64,
    second: u32,
    caller: String,
    error: Option<&'static str>,
    id: u128,
    delay: i64,
    duplicate: bool,
    risky: Option<usize>,
}

fn callers(account: &str, api: usize) -> [String; 4] {
    let svc = APIS[api].source.split('.').next().unwrap_or("svc");
    [
        format!("arn:aws:sts::{account}:assumed-role/{svc}-app-role/i-0{api:04x}a1b2c3"),
        format!("arn:aws:sts::{account}:assumed-role/platform-automation/session-{api}"),
        format!("arn:aws:iam::{account}:user/alice"),
        format!("arn:aws:iam::{account}:user/bob"),
    ]
}

const RISKY: [(&str, &str, &str); 3] = [
    (
        "s3.amazonaws.com",
        "PutBucketPolicy",
        r#"{"bucketName":"acme-reports","bucketPolicy":{"Version":"2012-10-17","Statement":[{"Sid":"Public","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::acme-reports/*"}]},"host":["acme-reports.s3.amazonaws.com"],"policy":[""]}"#,
    ),
    (
        "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress",
        r#"{"groupId":"sg-0a1b2c3d4e5f60718","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"toPort":22,"groups":{},"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]},"ipv6Ranges":{},"prefixListIds":{}}]}}"#,
    ),
    ("cloudtrail.amazonaws.com", "StopLogging", r#"{"name":"arn:aws:cloudtrail:us-east-1:ACCOUNT:trail/org-trail"}"#),
];

/// Minutes of the risky calls of one stream (after the history).
fn risky_minutes(s: &Settings, account: &str, region: &str) -> Vec<i64> {
    if !s.anomalies {
        return vec![];
    }
    let mut r = StdRng::seed_from_u64(s.seed ^ fxhash(account) ^ fxhash(region) ^ 0x5151);
    let from = s.start + s.history_days * 1440;
    let to = s.start + s.days * 1440;
    (0..RISKY.len()).filter(|_| from < to).map(|_| r.gen_range(from..to)).collect()
}

/// Every record of one minute of one stream (before delivery delays are applied).
fn minute_records(s: &Settings, account: &str, region: &str, m: i64, anomalies: &[Anomaly], risky: &[i64]) -> Vec<Rec> {
    let salt = s.seed ^ fxhash(account) ^ fxhash(region).rotate_left(13);
    let mut r = StdRng::seed_from_u64(salt ^ (m as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut out = vec![];
    for (i, api) in APIS.iter().enumerate() {
        let lambda = rate(api, m, salt) * s.rate_scale;
        let active: Vec<&Anomaly> =
            anomalies.iter().filter(|a| a.event_name == api.name && (a.from..a.to).contains(&m)).collect();
        let mut n = poisson(&mut r, lambda);
        let mut extra = 0;
        let mut storm = 0.0;
        for a in &active {
            if a.kind == "access-denied-storm" {
                storm = a.amount / 100.0;
            } else if a.kind == "sustained-night-rise" {
                // 3-4x of the usual rate (not of the scheduled spike), by the usual callers.
                let base = match api.shape {
                    crate::profile::Shape::Hourly { rate, .. } => rate * s.rate_scale,
                    _ => lambda,
                };
                n += poisson(&mut r, base * a.amount / 10.0);
            } else {
                extra += poisson(&mut r, a.amount);
            }
        }
        let pool = callers(account, i);
        for k in 0..n + extra {
            let intruder = k >= n;
            let caller = if intruder {
                active
                    .iter()
                    .find(|a| a.kind != "access-denied-storm")
                    .map_or_else(|| pool[0].clone(), |a| a.caller.clone())
            } else {
                let x: f64 = r.gen();
                pool[if x < 0.6 {
                    0
                } else if x < 0.85 {
                    1
                } else if x < 0.95 {
                    2
                } else {
                    3
                }]
                .clone()
            };
            let error = if storm > 0.0 && r.gen_bool(storm) {
                Some("AccessDenied")
            } else if api.error.0 > 0.0 && r.gen_bool(api.error.0) {
                Some(api.error.1)
            } else if intruder && r.gen_bool(0.05) {
                Some("AccessDenied")
            } else {
                None
            };
            out.push(rec(&mut r, s, i, m, caller, error, None));
        }
    }
    for (k, at) in risky.iter().enumerate() {
        if *at == m {
            out.push(rec(&mut r, s, 0, m, format!("arn:aws:iam::{account}:user/svc-legacy-backup"), None, Some(k)));
        }
    }
    out
}

fn poisson(r: &mut StdRng, lambda: f64) -> u64 {
    if lambda <= 0.0 {
        return 0;
    }
    Poisson::new(lambda).map(|d| d.sample(r) as u64).unwrap_or(0)
}

fn rec(
    r: &mut StdRng,
    s: &Settings,
    api: usize,
    minute: i64,
    caller: String,
    error: Option<&'static str>,
    risky: Option<usize>,
) -> Rec {
    let delay = if r.gen_bool(s.late_fraction.clamp(0.0, 1.0)) { r.gen_range(1..=3) } else { 0 };
    Rec {
        api,
        minute,
        second: r.gen_range(0..60),
        caller,
        error,
        id: r.gen(),
        delay,
        duplicate: r.gen_bool(s.duplicate_fraction.clamp(0.0, 1.0)),
        risky,
    }
}

fn write_record(buf: &mut Vec<u8>, account: &str, region: &str, rec: &Rec) {
    let (source, name, read_only) = match rec.risky {
        Some(k) => (RISKY[k].0, RISKY[k].1, false),
        None => (APIS[rec.api].source, APIS[rec.api].name, APIS[rec.api].read_only),
    };
    let t = chrono::DateTime::from_timestamp(rec.minute * 60 + i64::from(rec.second), 0).unwrap_or_default();
    let id = uuid::Uuid::from_u128(rec.id);
    let (kind, ua) = if rec.caller.contains(":user/") {
        ("IAMUser", "aws-cli/2.15.30 Python/3.11.8 Linux/6.1 exe/x86_64")
    } else {
        ("AssumedRole", "Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux lang/python#3.11.8")
    };
    let request = match rec.risky {
        Some(k) => RISKY[k].2.replace("ACCOUNT", account),
        None => "null".to_owned(),
    };
    let error = match rec.error {
        Some(code) => {
            format!(r#""errorCode":"{code}","errorMessage":"User is not authorized to perform this operation","#)
        }
        None => String::new(),
    };
    let _ = write!(
        buf,
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"{kind}","principalId":"AROAEXAMPLE:{short}","arn":"{caller}","accountId":"{account}","accessKeyId":"ASIAEXAMPLE{short}"}},"eventTime":"{time}","eventSource":"{source}","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"10.{a}.{b}.{c}","userAgent":"{ua}",{error}"requestParameters":{request},"responseElements":null,"requestID":"{req}","eventID":"{id}","readOnly":{ro},"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{account}","eventCategory":"Management","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{host}"}}}}"#,
        short = id.as_u128() as u16,
        caller = rec.caller,
        time = t.format("%Y-%m-%dT%H:%M:%SZ"),
        source = source,
        name = name,
        a = (rec.id >> 8) as u8,
        b = (rec.id >> 16) as u8,
        c = (rec.id >> 24) as u8,
        req = uuid::Uuid::from_u128(rec.id.rotate_left(64)),
        ro = read_only,
        host = source,
    );
}

fn unique(seed: u64, account: &str, region: &str, k: i64) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut r = StdRng::seed_from_u64(seed ^ fxhash(account) ^ fxhash(region) ^ (k as u64).wrapping_mul(31));
    (0..16).map(|_| char::from(CHARS[r.gen_range(0..CHARS.len())])).collect()
}

/// The path of file `k` (covering minutes `[5k, 5k+5)`, delivered at `5k+5`) of a stream.
pub fn file_path(out: &Path, seed: u64, account: &str, region: &str, k: i64) -> PathBuf {
    let delivered = chrono::DateTime::from_timestamp((k * 5 + 5) * 60, 0).unwrap_or_default();
    out.join(format!("AWSLogs/{account}/CloudTrail/{region}/{}", delivered.format("%Y/%m/%d"))).join(format!(
        "{account}_CloudTrail_{region}_{}_{}.json.gz",
        delivered.format("%Y%m%dT%H%MZ"),
        unique(seed, account, region, k)
    ))
}

/// Writes the whole trail; returns the labelled anomalies.
pub fn generate(s: &Settings, totals: &Totals) -> std::io::Result<Vec<Anomaly>> {
    let history_end = s.start + s.history_days * 1440;
    let end = s.start + s.days * 1440;
    let mut streams = vec![];
    let mut labels = vec![];
    for account in &s.accounts {
        for region in &s.regions {
            let anomalies = if s.anomalies { plan(s.seed, account, region, history_end, end) } else { vec![] };
            let risky = risky_minutes(s, account, region);
            for (k, m) in risky.iter().enumerate() {
                labels.push(Anomaly {
                    id: format!("{region}-r{k}"),
                    kind: "risky".into(),
                    account: account.clone(),
                    region: region.clone(),
                    event_source: RISKY[k].0.into(),
                    event_name: RISKY[k].1.into(),
                    insight_type: "RiskyChange".into(),
                    error_code: None,
                    start: minute_time(*m),
                    end: minute_time(m + 1),
                    caller: format!("arn:aws:iam::{account}:user/svc-legacy-backup"),
                    from: *m,
                    to: m + 1,
                    amount: 0.0,
                });
            }
            labels.extend(anomalies.iter().cloned());
            streams.push((account.clone(), region.clone(), anomalies, risky));
        }
    }
    let first = s.start.div_euclid(5);
    let last = end.div_euclid(5);
    let jobs: Vec<(usize, i64)> = (0..streams.len()).flat_map(|i| (first..last).map(move |k| (i, k))).collect();
    jobs.par_iter().try_for_each(|(i, k)| {
        let (account, region, anomalies, risky) = &streams[*i];
        let (bytes, records) = file_bytes(s, account, region, anomalies, risky, *k)?;
        let path = file_path(&s.out, s.seed, account, region, *k);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, &bytes)?;
        totals.files.fetch_add(1, Ordering::Relaxed);
        totals.records.fetch_add(records, Ordering::Relaxed);
        totals.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok::<(), std::io::Error>(())
    })?;
    Ok(labels)
}

/// File `k` of one stream (minutes `[5k, 5k+5)` and the records delivered late into it), gzip
/// compressed, and its number of records.
fn file_bytes(
    s: &Settings,
    account: &str,
    region: &str,
    anomalies: &[Anomaly],
    risky: &[i64],
    k: i64,
) -> std::io::Result<(Vec<u8>, u64)> {
    let first = s.start.div_euclid(5);
    let mut recs: Vec<Rec> = vec![];
    for back in 0..=3 {
        let fk = k - back;
        if fk < first {
            continue;
        }
        for m in fk * 5..fk * 5 + 5 {
            for r in minute_records(s, account, region, m, anomalies, risky) {
                let home = fk + r.delay;
                if home == k || (r.duplicate && home + 1 == k && back >= 1) {
                    recs.push(r);
                }
            }
        }
    }
    recs.sort_by_key(|r| (r.minute, r.second));
    let mut buf = Vec::with_capacity(recs.len() * 900 + 16);
    buf.extend_from_slice(b"{\"Records\":[");
    for (n, r) in recs.iter().enumerate() {
        if n > 0 {
            buf.push(b',');
        }
        write_record(&mut buf, account, region, r);
    }
    buf.extend_from_slice(b"]}");
    let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(buf.len() / 8), flate2::Compression::new(5));
    gz.write_all(&buf)?;
    Ok((gz.finish()?, recs.len() as u64))
}

/// One log file generated in memory.
#[derive(Debug, Clone)]
pub struct LogFile {
    /// Its key in the trail bucket (`AWSLogs/ACCOUNT/CloudTrail/REGION/...json.gz`).
    pub key: String,
    /// Its gzip-compressed bytes.
    pub bytes: Vec<u8>,
    /// Its records (0: a period without events, for which CloudTrail delivers no file).
    pub records: u64,
}

/// File `k` of one account and region, benign traffic only (no anomalies or risky calls), in
/// memory: what [`generate`] writes for it with `anomalies` off. `s.out` is ignored; `s.start`
/// is the first minute of the trail (records delivered late from before it are left out).
pub fn benign_file(s: &Settings, account: &str, region: &str, k: i64) -> std::io::Result<LogFile> {
    let (bytes, records) = file_bytes(s, account, region, &[], &[], k)?;
    let key = file_path(Path::new(""), s.seed, account, region, k).to_string_lossy().replace('\\', "/");
    Ok(LogFile { key, bytes, records })
}

/// The id of the `i`th account of a generated organization (12 digits).
pub fn account_id(i: u32) -> String {
    format!("{:012}", 111_122_223_333u64 + u64::from(i) * 1_000_001)
}

/// Writes one big log file of about `mb` MB compressed, streaming.
pub fn bigfile(path: &Path, seed: u64, mb: u64) -> std::io::Result<u64> {
    let s = Settings {
        out: PathBuf::new(),
        seed,
        start: 29_460_000,
        days: 1,
        accounts: vec!["111122223333".into()],
        regions: vec!["us-east-1".into()],
        rate_scale: 20.0,
        history_days: 0,
        anomalies: false,
        late_fraction: 0.0,
        duplicate_fraction: 0.0,
    };
    let file = std::fs::File::create(path)?;
    let mut gz = flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::new(5));
    gz.write_all(b"{\"Records\":[")?;
    let mut n = 0u64;
    let mut m = s.start;
    let mut buf = Vec::with_capacity(1 << 20);
    loop {
        for r in minute_records(&s, "111122223333", "us-east-1", m, &[], &[]) {
            if n > 0 {
                buf.push(b',');
            }
            write_record(&mut buf, "111122223333", "us-east-1", &r);
            n += 1;
        }
        gz.write_all(&buf)?;
        buf.clear();
        m += 1;
        if m % 50 == 0 {
            gz.flush()?;
            if gz.get_ref().get_ref().metadata()?.len() >= mb << 20 {
                break;
            }
        }
    }
    gz.write_all(b"]}")?;
    gz.finish()?.flush()?;
    Ok(n)
}
