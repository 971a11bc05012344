//! [`ResourcePolicyAdmin`]: the resource policies one call can open to the world, each read,
//! replaced and (where the service allows) removed through its own service:
//!
//! - KMS key policies (aws-sdk-kms): GetKeyPolicy / PutKeyPolicy on the policy named
//!   `default`, never bypassing KMS's lockout safety check; tags from ListResourceTags;
//! - SQS queue policies (aws-sdk-sqs): the `Policy` attribute, removed by setting it empty;
//!   tags from ListQueueTags;
//! - SNS topic policies (aws-sdk-sns): the `Policy` attribute; tags from ListTagsForResource;
//! - ECR repository policies (aws-sdk-ecr); the repository's ARN (for its tags) from
//!   DescribeRepositories;
//! - Secrets Manager resource policies (aws-sdk-secretsmanager); tags from DescribeSecret;
//! - IAM role trust policies (aws-sdk-iam): GetRole's `AssumeRolePolicyDocument`, which IAM
//!   returns URL-encoded, and its tags; UpdateAssumeRolePolicy.

use super::{admin_error, done, error_code, sent, tag_map, AwsAdmins};
use aws_sdk_sqs::types::QueueAttributeName;
use std::borrow::Cow;
use std::collections::BTreeMap;
use trailsight_core::remediate::ports::{AdminError, PolicyKind, PolicyState, ResourcePolicyAdmin};

/// KMS keys have exactly one key policy, by this name.
const KMS_POLICY_NAME: &str = "default";

/// How a resource of `kind` is named in errors.
fn what(kind: PolicyKind, id: &str) -> String {
    format!("{} {id}", kind.holder())
}

/// An empty policy text is no policy (SQS, SNS and Lambda return one after a removal).
fn non_empty(policy: Option<&str>) -> Option<String> {
    policy.filter(|p| !p.trim().is_empty()).map(str::to_owned)
}

/// IAM returns policy documents URL-encoded (RFC 3986); anything that already reads as JSON
/// (an emulator's) is kept as it is.
fn decode_iam_document(doc: &str) -> Result<String, AdminError> {
    if doc.trim_start().starts_with('{') {
        return Ok(doc.to_owned());
    }
    percent_encoding::percent_decode_str(doc).decode_utf8().map(Cow::into_owned).map_err(|e| AdminError::Failed {
        action: "iam:GetRole".into(),
        why: format!("the trust policy is not URL-encoded UTF-8: {e}"),
    })
}

impl AwsAdmins {
    async fn kms_policy(&self, key: &str) -> Result<PolicyState, AdminError> {
        let what = what(PolicyKind::KmsKey, key);
        let out =
            sent("kms:GetKeyPolicy", &what, self.kms.get_key_policy().key_id(key).policy_name(KMS_POLICY_NAME).send())
                .await?;
        let mut tags = BTreeMap::new();
        let mut marker: Option<String> = None;
        loop {
            let call = self.kms.list_resource_tags().key_id(key).set_marker(marker.take());
            let page = sent("kms:ListResourceTags", &what, call.send()).await?;
            tags.extend(page.tags().iter().map(|t| (t.tag_key().to_owned(), t.tag_value().to_owned())));
            match page.next_marker() {
                Some(m) if page.truncated() && !m.is_empty() => marker = Some(m.to_owned()),
                _ => break,
            }
        }
        Ok(PolicyState { policy: non_empty(out.policy()), tags })
    }

    async fn queue_policy(&self, url: &str) -> Result<PolicyState, AdminError> {
        let what = what(PolicyKind::Queue, url);
        let call = self.sqs.get_queue_attributes().queue_url(url).attribute_names(QueueAttributeName::Policy);
        let out = sent("sqs:GetQueueAttributes", &what, call.send()).await?;
        let policy = out.attributes().and_then(|a| a.get(&QueueAttributeName::Policy));
        let tags = sent("sqs:ListQueueTags", &what, self.sqs.list_queue_tags().queue_url(url).send()).await?;
        Ok(PolicyState {
            policy: non_empty(policy.map(String::as_str)),
            tags: tags.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default(),
        })
    }

    async fn topic_policy(&self, arn: &str) -> Result<PolicyState, AdminError> {
        let what = what(PolicyKind::Topic, arn);
        let out = sent("sns:GetTopicAttributes", &what, self.sns.get_topic_attributes().topic_arn(arn).send()).await?;
        let policy = out.attributes().and_then(|a| a.get("Policy"));
        let tags =
            sent("sns:ListTagsForResource", &what, self.sns.list_tags_for_resource().resource_arn(arn).send()).await?;
        Ok(PolicyState {
            policy: non_empty(policy.map(String::as_str)),
            tags: tags.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect(),
        })
    }

    /// Sets a queue's `Policy` attribute (empty: no policy).
    async fn set_queue_policy(&self, url: &str, policy: &str, what: &str) -> Result<(), AdminError> {
        let call = self.sqs.set_queue_attributes().queue_url(url);
        done("sqs:SetQueueAttributes", what, call.attributes(QueueAttributeName::Policy, policy).send()).await
    }

    async fn repository_policy(&self, name: &str) -> Result<PolicyState, AdminError> {
        let what = what(PolicyKind::Repository, name);
        let repos =
            sent("ecr:DescribeRepositories", &what, self.ecr.describe_repositories().repository_names(name).send())
                .await?;
        let arn = repos
            .repositories()
            .first()
            .and_then(|r| r.repository_arn())
            .ok_or_else(|| AdminError::NotFound(what.clone()))?
            .to_owned();
        let policy = match self.ecr.get_repository_policy().repository_name(name).send().await {
            Ok(out) => non_empty(out.policy_text()),
            Err(e) if error_code(&e) == Some("RepositoryPolicyNotFoundException") => None,
            Err(e) => return Err(admin_error("ecr:GetRepositoryPolicy", &what, e)),
        };
        let tags =
            sent("ecr:ListTagsForResource", &what, self.ecr.list_tags_for_resource().resource_arn(arn).send()).await?;
        Ok(PolicyState {
            policy,
            tags: tags.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect(),
        })
    }

    async fn secret_policy(&self, id: &str) -> Result<PolicyState, AdminError> {
        let what = what(PolicyKind::Secret, id);
        let secret =
            sent("secretsmanager:DescribeSecret", &what, self.secretsmanager.describe_secret().secret_id(id).send())
                .await?;
        let call = self.secretsmanager.get_resource_policy().secret_id(id);
        let out = sent("secretsmanager:GetResourcePolicy", &what, call.send()).await?;
        Ok(PolicyState {
            policy: non_empty(out.resource_policy()),
            tags: tag_map(secret.tags().iter().map(|t| (t.key(), t.value()))),
        })
    }

    async fn role_trust(&self, role: &str) -> Result<PolicyState, AdminError> {
        let what = what(PolicyKind::RoleTrust, role);
        let out = sent("iam:GetRole", &what, self.iam.get_role().role_name(role).send()).await?;
        let r = out.role().ok_or_else(|| AdminError::NotFound(what.clone()))?;
        let policy = match r.assume_role_policy_document() {
            Some(doc) => non_empty(Some(&decode_iam_document(doc)?)),
            None => None,
        };
        Ok(PolicyState { policy, tags: r.tags().iter().map(|t| (t.key().to_owned(), t.value().to_owned())).collect() })
    }
}

impl ResourcePolicyAdmin for AwsAdmins {
    async fn resource_policy(&self, kind: PolicyKind, id: &str) -> Result<PolicyState, AdminError> {
        match kind {
            PolicyKind::KmsKey => self.kms_policy(id).await,
            PolicyKind::Queue => self.queue_policy(id).await,
            PolicyKind::Topic => self.topic_policy(id).await,
            PolicyKind::Repository => self.repository_policy(id).await,
            PolicyKind::Secret => self.secret_policy(id).await,
            PolicyKind::RoleTrust => self.role_trust(id).await,
        }
    }

    async fn put_resource_policy(&self, kind: PolicyKind, id: &str, policy: &str) -> Result<(), AdminError> {
        let what = what(kind, id);
        match kind {
            // BypassPolicyLockoutSafetyCheck is left unset (false): KMS refuses a policy that
            // would lock the caller out of the key.
            PolicyKind::KmsKey => {
                let call = self.kms.put_key_policy().key_id(id).policy_name(KMS_POLICY_NAME).policy(policy);
                done("kms:PutKeyPolicy", &what, call.send()).await
            }
            PolicyKind::Queue => self.set_queue_policy(id, policy, &what).await,
            PolicyKind::Topic => {
                let call =
                    self.sns.set_topic_attributes().topic_arn(id).attribute_name("Policy").attribute_value(policy);
                done("sns:SetTopicAttributes", &what, call.send()).await
            }
            PolicyKind::Repository => {
                let call = self.ecr.set_repository_policy().repository_name(id).policy_text(policy);
                done("ecr:SetRepositoryPolicy", &what, call.send()).await
            }
            // BlockPublicPolicy stays unset: remediation only ever removes public statements.
            PolicyKind::Secret => {
                let call = self.secretsmanager.put_resource_policy().secret_id(id).resource_policy(policy);
                done("secretsmanager:PutResourcePolicy", &what, call.send()).await
            }
            PolicyKind::RoleTrust => {
                let call = self.iam.update_assume_role_policy().role_name(id).policy_document(policy);
                done("iam:UpdateAssumeRolePolicy", &what, call.send()).await
            }
        }
    }

    async fn delete_resource_policy(&self, kind: PolicyKind, id: &str) -> Result<(), AdminError> {
        let what = what(kind, id);
        match kind {
            // An empty Policy attribute removes the queue's policy.
            PolicyKind::Queue => self.set_queue_policy(id, "", &what).await,
            // No policy left to delete is what was asked (as Secrets Manager and SQS answer).
            PolicyKind::Repository => match self.ecr.delete_repository_policy().repository_name(id).send().await {
                Ok(_) => Ok(()),
                Err(e) if error_code(&e) == Some("RepositoryPolicyNotFoundException") => Ok(()),
                Err(e) => Err(admin_error("ecr:DeleteRepositoryPolicy", &what, e)),
            },
            PolicyKind::Secret => {
                let call = self.secretsmanager.delete_resource_policy().secret_id(id);
                done("secretsmanager:DeleteResourcePolicy", &what, call.send()).await
            }
            PolicyKind::KmsKey | PolicyKind::Topic | PolicyKind::RoleTrust => Err(AdminError::Failed {
                action: format!("delete the {}", kind.noun()),
                why: format!("{what} always has a {}: the service keeps one, so it can only be replaced", kind.noun()),
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn iam_documents_are_url_decoded_once() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22AWS%22%3A%22*%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
        let decoded = decode_iam_document(encoded).unwrap();
        assert_eq!(
            decoded,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#
        );
        // Already JSON (an emulator's): kept as is, even with a literal percent sign in it.
        let plain = r#"{"Statement":[{"Sid":"100%25"}]}"#;
        assert_eq!(decode_iam_document(plain).unwrap(), plain);
    }

    #[test]
    fn empty_policies_are_none() {
        assert_eq!(non_empty(Some("")), None);
        assert_eq!(non_empty(Some("  ")), None);
        assert_eq!(non_empty(None), None);
        assert_eq!(non_empty(Some("{}")), Some("{}".to_owned()));
    }
}
