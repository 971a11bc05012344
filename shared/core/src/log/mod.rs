//! A CloudTrail log file, from its S3 object key to its counts: which objects are log files
//! ([`object_key`]), the streaming reader of their records ([`reader`]), and the counting of
//! calls, errors and attributions per API and minute ([`count`]).

pub mod count;
pub mod object_key;
pub mod reader;
