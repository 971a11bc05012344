//! SDK configuration shared by the functions and the integration tests.
//!
//! The standard AWS environment applies (credentials, `AWS_REGION`, `AWS_ENDPOINT_URL`). An
//! endpoint override (moto, LocalStack) also switches S3 to path-style addressing. Throttling
//! and transient errors are retried by the SDK's standard retry mode, with more attempts than
//! its default because a failed delivery costs a whole file's retry.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// SDK attempts per request (the first call plus retries) for throttling and 5xx errors.
pub const MAX_ATTEMPTS: u32 = 8;

/// Loads the SDK configuration from the environment, with `endpoint_url` overriding every
/// service's endpoint when given.
pub async fn sdk_config(endpoint_url: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// An S3 client; `path_style` is needed by emulators reached by IP address.
pub fn s3_client(config: &SdkConfig, path_style: bool) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(config).force_path_style(path_style).build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// An S3 Control client (account-level Block Public Access). AWS's endpoint rules put the
/// account id in front of the host (`ACCOUNT.s3-control.REGION.amazonaws.com`); an emulator
/// reached by IP address (`path_style`) cannot serve that host, so its endpoint is used as is.
pub fn s3control_client(config: &SdkConfig, path_style: bool) -> aws_sdk_s3control::Client {
    let mut conf = aws_sdk_s3control::config::Builder::from(config);
    if let Some(url) = config.endpoint_url().filter(|_| path_style) {
        conf = conf.endpoint_resolver(EmulatorEndpoint(url.to_owned()));
    }
    aws_sdk_s3control::Client::from_conf(conf.build())
}

/// Every S3 Control request goes to this one URL (an emulator's), without a host prefix.
#[derive(Debug)]
struct EmulatorEndpoint(String);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for EmulatorEndpoint {
    fn resolve_endpoint<'a>(
        &'a self,
        _params: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_sdk_s3control::config::endpoint::EndpointFuture<'a> {
        let endpoint = aws_sdk_s3control::config::endpoint::Endpoint::builder().url(self.0.clone()).build();
        aws_sdk_s3control::config::endpoint::EndpointFuture::ready(Ok(endpoint))
    }
}
