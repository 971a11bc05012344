//! The ingest path's cost model (docs/ingest.md, "Cost and speed"): what a run's files cost at
//! published us-east-1 on-demand prices, by service. Each file is one Lambda request, one S3
//! GET and 1.2 SQS requests (S3's send, Lambda's receive and delete, batched by 10).

use serde_json::{json, Value};

/// On-demand prices, us-east-1 (USD).
pub mod price {
    /// DynamoDB, per write request unit.
    pub const WRITE_UNIT: f64 = 0.625 / 1e6;
    /// DynamoDB, per read request unit.
    pub const READ_UNIT: f64 = 0.125 / 1e6;
    /// Lambda arm64, per GB-second.
    pub const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
    /// Lambda, per request.
    pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
    /// S3 GET, per request.
    pub const S3_GET: f64 = 0.0004 / 1e3;
    /// EventBridge custom events, per event (64 KB chunk).
    pub const EVENT: f64 = 1.0 / 1e6;
    /// SQS standard, per request (S3's send, Lambda's receive and delete, batched by 10).
    pub const SQS_REQUEST: f64 = 0.40 / 1e6;
}

/// SQS requests per delivered file.
const SQS_REQUESTS_PER_FILE: f64 = 1.2;

/// What a run consumed: the inputs of its cost.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Consumption {
    /// Files delivered (each one Lambda request, one S3 GET, 1.2 SQS requests).
    pub files: f64,
    /// DynamoDB write request units.
    pub write_units: f64,
    /// DynamoDB read request units.
    pub read_units: f64,
    /// Lambda duration charged, seconds over all files.
    pub lambda_seconds: f64,
    /// The function's memory (MB).
    pub memory_mb: u32,
    /// Events put on EventBridge.
    pub events: f64,
}

/// What a run costs, by service (USD).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Cost {
    /// DynamoDB writes.
    pub dynamodb_writes: f64,
    /// DynamoDB reads.
    pub dynamodb_reads: f64,
    /// Lambda duration.
    pub lambda_duration: f64,
    /// Lambda requests.
    pub lambda_requests: f64,
    /// S3 GETs.
    pub s3_get: f64,
    /// SQS requests.
    pub sqs: f64,
    /// EventBridge events.
    pub eventbridge: f64,
}

impl Cost {
    /// The cost of `c`.
    pub fn of(c: &Consumption) -> Self {
        let gb = f64::from(c.memory_mb) / 1024.0;
        Cost {
            dynamodb_writes: c.write_units * price::WRITE_UNIT,
            dynamodb_reads: c.read_units * price::READ_UNIT,
            lambda_duration: c.lambda_seconds * gb * price::LAMBDA_GB_SECOND,
            lambda_requests: c.files * price::LAMBDA_REQUEST,
            s3_get: c.files * price::S3_GET,
            sqs: c.files * SQS_REQUESTS_PER_FILE * price::SQS_REQUEST,
            eventbridge: c.events * price::EVENT,
        }
    }

    /// The whole cost.
    pub fn total(&self) -> f64 {
        self.dynamodb_writes
            + self.dynamodb_reads
            + self.lambda_duration
            + self.lambda_requests
            + self.s3_get
            + self.sqs
            + self.eventbridge
    }

    /// The cost of 100,000 events (CloudTrail records) at this run's mix; 0 without records.
    pub fn per_100k_events(&self, records: u64) -> f64 {
        if records == 0 {
            0.0
        } else {
            self.total() / records as f64 * 100_000.0
        }
    }

    /// By service, as JSON (the keys of the benchmarks' reports).
    pub fn to_json(&self) -> Value {
        json!({
            "dynamodb_writes": self.dynamodb_writes,
            "dynamodb_reads": self.dynamodb_reads,
            "lambda_duration": self.lambda_duration,
            "lambda_requests": self.lambda_requests,
            "s3_get": self.s3_get,
            "sqs": self.sqs,
            "eventbridge": self.eventbridge,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typical_files_cost_adds_up_its_services_at_on_demand_prices() {
        // Given 288 files with 19 write and 30 read units each, 0.1 s of a 256 MB function
        let c = Consumption {
            files: 288.0,
            write_units: 288.0 * 19.0,
            read_units: 288.0 * 30.0,
            lambda_seconds: 28.8,
            memory_mb: 256,
            events: 0.0,
        };
        // When priced
        let cost = Cost::of(&c);
        // Then each service is its units times its price, and the total their sum
        assert!((cost.dynamodb_writes - 288.0 * 19.0 * 0.625e-6).abs() < 1e-12);
        assert!((cost.lambda_duration - 28.8 * 0.25 * 0.000_013_333_4).abs() < 1e-12);
        assert!((cost.sqs - 288.0 * 1.2 * 0.4e-6).abs() < 1e-12);
        let sum: f64 = cost.to_json().as_object().map(|o| o.values().filter_map(Value::as_f64).sum()).unwrap_or(0.0);
        assert!((cost.total() - sum).abs() < 1e-15);
        // And per 100,000 events it scales with the records
        assert!((cost.per_100k_events(200_000) - cost.total() / 2.0).abs() < 1e-15);
        assert_eq!(cost.per_100k_events(0), 0.0);
    }
}
