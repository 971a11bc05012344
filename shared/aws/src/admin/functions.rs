//! [`FunctionAdmin`] (aws-sdk-lambda): who may invoke a function (its resource policy and its
//! function URL's AuthType), removing one permission statement, and requiring IAM
//! authentication on its URL.
//!
//! GetFunction tells whether the function exists and gives its tags (Lambda returns them only
//! to a caller that may also call `lambda:ListTags`, else it reports a `TagsError`, which is a
//! failure here: tags decide exemptions). Lambda answers `ResourceNotFoundException` both for a
//! missing function and for a function without a policy or URL; after GetFunction succeeded it
//! means the latter.

use super::{admin_error, done, error_code, sent, AwsAdmins};
use aws_sdk_lambda::types::FunctionUrlAuthType;
use trailsight_core::remediate::ports::{AdminError, FunctionAccess, FunctionAdmin};

const NOT_FOUND: &str = "ResourceNotFoundException";

impl FunctionAdmin for AwsAdmins {
    async fn function_access(&self, function: &str) -> Result<FunctionAccess, AdminError> {
        let what = format!("function {function}");
        let out = sent("lambda:GetFunction", &what, self.lambda.get_function().function_name(function).send()).await?;
        if let Some(e) = out.tags_error() {
            return Err(AdminError::AccessDenied {
                action: "lambda:ListTags".into(),
                why: format!("{}: {} (GetFunction returned no tags)", e.error_code(), e.message()),
            });
        }
        let tags = out.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
        let policy = match self.lambda.get_policy().function_name(function).send().await {
            Ok(p) => p.policy().filter(|p| !p.trim().is_empty()).map(str::to_owned),
            Err(e) if error_code(&e) == Some(NOT_FOUND) => None,
            Err(e) => return Err(admin_error("lambda:GetPolicy", &what, e)),
        };
        let url_auth = match self.lambda.get_function_url_config().function_name(function).send().await {
            Ok(u) => Some(u.auth_type().as_str().to_owned()),
            Err(e) if error_code(&e) == Some(NOT_FOUND) => None,
            Err(e) => return Err(admin_error("lambda:GetFunctionUrlConfig", &what, e)),
        };
        Ok(FunctionAccess { policy, url_auth, tags })
    }

    async fn remove_permission(&self, function: &str, statement_id: &str) -> Result<(), AdminError> {
        let what = format!("statement {statement_id} of function {function}");
        let call = self.lambda.remove_permission().function_name(function).statement_id(statement_id);
        done("lambda:RemovePermission", &what, call.send()).await
    }

    async fn require_iam_auth(&self, function: &str) -> Result<(), AdminError> {
        let call =
            self.lambda.update_function_url_config().function_name(function).auth_type(FunctionUrlAuthType::AwsIam);
        done("lambda:UpdateFunctionUrlConfig", &format!("URL of function {function}"), call.send()).await
    }
}
