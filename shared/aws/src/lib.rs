//! trailsight-aws: the AWS adapters of trailsight's ports, shared by both Lambda functions.
//!
//! - [`s3::S3Source`]: [`LogSource`](trailsight_core::store::ports::LogSource) streaming GetObject;
//! - [`dynamo::DynamoStore`]: [`BaselineStore`](trailsight_core::store::ports::BaselineStore) on one
//!   DynamoDB table;
//! - [`eventbridge::EventBridgeSink`]: [`EventSink`](trailsight_core::store::ports::EventSink) with
//!   batched PutEvents and retries of failed entries;
//! - [`admin`]: the remediation admins (S3, S3 Control, EC2, CloudTrail, KMS, SQS, SNS, ECR,
//!   Secrets Manager, IAM, Lambda, RDS, GuardDuty, AWS Config);
//! - [`claims::DynamoLedger`]: remediation's claims and seen changes on the same table;
//! - [`notifications`]: the trail bucket's notifications, merged (the CLI's setup command);
//! - [`object`]: the per-object ingest step (the ingest function, the CLI's backfill, the
//!   benchmark).
//!
//! Clients are built once per process from [`config::sdk_config`] and passed in: no globals.

pub mod admin;
pub mod archive;
pub mod claims;
pub mod config;
pub mod dynamo;
pub mod eventbridge;
pub mod notifications;
pub mod object;
pub mod s3;
pub mod telemetry;
