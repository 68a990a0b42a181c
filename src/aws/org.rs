//! The organization as `audit` sees it, over the AWS SDK: its accounts (Organizations, from the
//! management or a delegated administrator account), a role assumed in each (STS), and the Regions
//! each has enabled (Account). Only `audit` uses it; the function never does.

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_account::types::RegionOptStatus;
use aws_sdk_organizations::types::{Account, AccountStatus};
use aws_smithy_types::retry::RetryConfig;
use aws_types::SdkConfig;
use aws_types::region::Region;

use super::ApiError;
use super::retry::RetryPolicy;
use super::sdk::{classified, every_page};

/// The session name `audit` assumes roles under: CloudTrail shows it in every account.
pub const SESSION_NAME: &str = "auto-subscribe-audit";

/// The organization, reached with the caller's credentials.
#[derive(Debug, Clone)]
pub struct Org {
    base: SdkConfig,
    organizations: aws_sdk_organizations::Client,
    sts: aws_sdk_sts::Client,
    retry: RetryPolicy,
}

impl Org {
    pub fn new(base: &SdkConfig, retry: RetryPolicy) -> Self {
        let organizations = aws_sdk_organizations::Client::from_conf(
            aws_sdk_organizations::config::Builder::from(base)
                .retry_config(RetryConfig::disabled())
                .build(),
        );
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(base)
                .retry_config(RetryConfig::disabled())
                .build(),
        );
        Self {
            base: base.clone(),
            organizations,
            sts,
            retry,
        }
    }

    /// Every active account of the organization (ListAccounts, every page).
    pub async fn accounts(&self) -> Result<Vec<String>, ApiError> {
        every_page(
            |token| {
                classified(self.retry, move || {
                    self.organizations
                        .list_accounts()
                        .set_next_token(token.clone())
                        .send()
                })
            },
            |page| {
                (
                    active(page.accounts()),
                    page.next_token().map(str::to_owned),
                )
            },
        )
        .await
    }

    /// Every active account in the organizational unit `ou` and the units below it.
    pub async fn accounts_in(&self, ou: &str) -> Result<Vec<String>, ApiError> {
        let mut accounts = Vec::new();
        let mut units = vec![ou.to_owned()];
        while let Some(unit) = units.pop() {
            let unit = unit.as_str();
            accounts.extend(
                every_page(
                    |token| {
                        classified(self.retry, move || {
                            self.organizations
                                .list_accounts_for_parent()
                                .parent_id(unit)
                                .set_next_token(token.clone())
                                .send()
                        })
                    },
                    |page| {
                        (
                            active(page.accounts()),
                            page.next_token().map(str::to_owned),
                        )
                    },
                )
                .await?,
            );
            units.extend(
                every_page(
                    |token| {
                        classified(self.retry, move || {
                            self.organizations
                                .list_organizational_units_for_parent()
                                .parent_id(unit)
                                .set_next_token(token.clone())
                                .send()
                        })
                    },
                    |page| {
                        let units = page
                            .organizational_units()
                            .iter()
                            .filter_map(|u| u.id().map(str::to_owned))
                            .collect();
                        (units, page.next_token().map(str::to_owned))
                    },
                )
                .await?,
            );
        }
        Ok(accounts)
    }

    /// The configuration of `role` assumed in `account`, for `region`.
    pub async fn assume(
        &self,
        account: &str,
        role: &str,
        partition: &str,
    ) -> Result<SdkConfig, ApiError> {
        let arn = format!("arn:{partition}:iam::{account}:role/{role}");
        let output = classified(self.retry, || {
            self.sts
                .assume_role()
                .role_arn(&arn)
                .role_session_name(SESSION_NAME)
                .send()
        })
        .await?;
        let Some(credentials) = output.credentials() else {
            return Err(ApiError::Other(format!(
                "AssumeRole {arn} returned no credentials"
            )));
        };
        let credentials = Credentials::new(
            credentials.access_key_id(),
            credentials.secret_access_key(),
            Some(credentials.session_token().to_owned()),
            std::time::SystemTime::try_from(*credentials.expiration()).ok(),
            "audit-assumed-role",
        );
        Ok(self
            .base
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build())
    }

    /// The Regions `config`'s account has enabled (Account ListRegions: enabled by default, or
    /// opted in).
    pub async fn enabled_regions(&self, config: &SdkConfig) -> Result<Vec<String>, ApiError> {
        let client = aws_sdk_account::Client::from_conf(
            aws_sdk_account::config::Builder::from(config)
                .retry_config(RetryConfig::disabled())
                .build(),
        );
        let client = &client;
        every_page(
            |token| {
                classified(self.retry, move || {
                    client
                        .list_regions()
                        .region_opt_status_contains(RegionOptStatus::Enabled)
                        .region_opt_status_contains(RegionOptStatus::EnabledByDefault)
                        .set_next_token(token.clone())
                        .send()
                })
            },
            |page| {
                let regions = page
                    .regions()
                    .iter()
                    .filter_map(|r| r.region_name().map(str::to_owned))
                    .collect();
                (regions, page.next_token().map(str::to_owned))
            },
        )
        .await
    }
}

/// The ids of the active accounts among `accounts`.
fn active(accounts: &[Account]) -> Vec<String> {
    accounts
        .iter()
        .filter(|a| a.status() == Some(&AccountStatus::Active))
        .filter_map(|a| a.id().map(str::to_owned))
        .collect()
}

/// `config` for `region`.
pub fn in_region(config: &SdkConfig, region: &str) -> SdkConfig {
    config
        .to_builder()
        .region(Region::new(region.to_owned()))
        .build()
}
