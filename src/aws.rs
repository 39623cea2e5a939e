//! One `SdkConfig`, one client per service, and a counter of the calls they make.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Where to send AWS calls; every field falls back to the standard AWS chain.
#[derive(Clone, Debug, Default)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// The clients of every service `deploy` talks to, built once per run.
#[derive(Clone, Debug)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub rds: aws_sdk_rds::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub iam: aws_sdk_iam::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    pub region: String,
    pub calls: CallCounter,
}

impl Clients {
    pub async fn new(
        opts: &AwsOptions,
        stack_region: Option<&str>,
    ) -> crate::error::Result<Clients> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(5));
        if let Some(p) = explicit_profile(opts) {
            check_profile_exists(&p).await?;
            // The default chain looks at AWS_ACCESS_KEY_ID before any profile, so a profile
            // named on purpose would silently lose to leftover key variables; the AWS CLI lets
            // the named profile win, and so do we.
            let creds = aws_config::profile::ProfileFileCredentialsProvider::builder()
                .profile_name(&p)
                .build();
            loader = loader.profile_name(&p).credentials_provider(creds);
        }
        // The stack file's region wins over the environment, and --region over both.
        if let Some(r) = opts.region.as_deref().or(stack_region) {
            loader = loader.region(aws_config::Region::new(r.to_string()));
        }
        if let Some(u) = &opts.endpoint_url {
            loader = loader.endpoint_url(u);
        }
        let config = loader.load().await;
        let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
            crate::error::Error::User(
                "no AWS region: set `region:` in the stack file, pass --region, or export AWS_REGION".into(),
            )
        })?;
        let calls = CallCounter::default();
        macro_rules! client {
            ($krate:ident) => {{
                let conf = $krate::config::Builder::from(&config)
                    .interceptor(calls.clone())
                    .build();
                $krate::Client::from_conf(conf)
            }};
        }
        Ok(Clients {
            ec2: client!(aws_sdk_ec2),
            rds: client!(aws_sdk_rds),
            lambda: client!(aws_sdk_lambda),
            iam: client!(aws_sdk_iam),
            cognito: client!(aws_sdk_cognitoidentityprovider),
            tagging: client!(aws_sdk_resourcegroupstagging),
            region,
            calls,
        })
    }
}

/// The profile the user named: `--profile`, else a non-empty `AWS_PROFILE`.
fn explicit_profile(opts: &AwsOptions) -> Option<String> {
    opts.profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok())
        .filter(|p| !p.is_empty())
}

/// A misspelt profile must stop the run before any call, not fall through to other credentials.
async fn check_profile_exists(name: &str) -> crate::error::Result<()> {
    use aws_runtime::env_config::file::EnvConfigFiles;
    use aws_types::os_shim_internal::{Env, Fs};
    let set = aws_config::profile::load(
        &Fs::real(),
        &Env::real(),
        &EnvConfigFiles::default(),
        Some(name.to_string().into()),
    )
    .await
    .map_err(|e| {
        crate::error::Error::User(format!(
            "cannot read the AWS config files for profile `{name}`: {e}"
        ))
    })?;
    if set.get_profile(name).is_some() {
        return Ok(());
    }
    let mut known: Vec<&str> = set.profiles().collect();
    known.sort_unstable();
    let known = if known.is_empty() {
        "no profiles are defined".to_string()
    } else {
        format!("defined: {}", known.join(", "))
    };
    Err(crate::error::Error::User(format!(
        "AWS profile `{name}` (from --profile or AWS_PROFILE) does not exist in ~/.aws/config or ~/.aws/credentials \
         (or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE); {known}. Fix the name, or unset AWS_PROFILE to use the default credentials"
    )))
}

/// Counts AWS calls by `Service.Operation`, so `-v` can show what a run cost and how many writes it
/// made (a no-op apply must make none).
#[derive(Clone, Debug, Default)]
pub struct CallCounter(Arc<Mutex<BTreeMap<String, usize>>>);

impl CallCounter {
    pub fn snapshot(&self) -> BTreeMap<String, usize> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }
    /// (reads, writes): reads are the Describe/List/Get calls.
    pub fn totals(&self) -> (usize, usize) {
        let mut t = (0, 0);
        for (op, n) in self.snapshot() {
            let name = op.rsplit('.').next().unwrap_or("");
            if ["Describe", "List", "Get"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                t.0 += n;
            } else {
                t.1 += n;
            }
        }
        t
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }
    fn read_before_execution(
        &self,
        _ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        Ok(())
    }
    // Counted per attempt that reaches the wire, so a retried call counts each time it is sent.
    fn read_before_transmit(
        &self,
        _ctx: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<aws_smithy_runtime_api::client::orchestrator::Metadata>() {
            let key = format!("{}.{}", m.service(), m.name());
            tracing::debug!(target: "deploy::aws", "call {key}");
            if let Ok(mut map) = self.0.lock() {
                *map.entry(key).or_default() += 1;
            }
        }
        Ok(())
    }
}
