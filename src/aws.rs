//! One `SdkConfig`, one client per service, and a counter of the calls they make.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, InterceptorContext,
};
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
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
    /// Lambda for the calls that carry a package (CreateFunction, UpdateFunctionCode,
    /// PublishLayerVersion): the same, with [`UPLOAD_ATTEMPT_TIMEOUT`] per attempt.
    pub lambda_upload: aws_sdk_lambda::Client,
    pub iam: aws_sdk_iam::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    /// The run lock (`crate::lock`).
    pub ssm: aws_sdk_ssm::Client,
    /// `deploy logs` and `deploy invoke`: the functions' log groups.
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub region: String,
    pub calls: CallCounter,
}

impl Clients {
    pub async fn new(
        opts: &AwsOptions,
        stack_region: Option<&str>,
    ) -> crate::error::Result<Clients> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(5))
            .timeout_config(timeouts());
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
        // The spec's order: the stack file's `region:`, else --region, else the chain.
        let chain = match (stack_region, &opts.region) {
            (Some(_), None) => chain_region(explicit_profile(opts).as_deref()).await,
            _ => None,
        };
        let (region, warning) = choose_region(stack_region, opts.region.as_deref(), chain);
        if let Some(w) = warning {
            eprintln!("warning: {w}");
        }
        if let Some(r) = region {
            loader = loader.region(aws_config::Region::new(r));
        }
        if let Some(u) = &opts.endpoint_url {
            check_endpoint_url("--endpoint-url", u)?;
            loader = loader.endpoint_url(u);
        } else if let Ok(u) = std::env::var("AWS_ENDPOINT_URL") {
            // The SDK would only log a warning and then fail every call with a request dump.
            check_endpoint_url("AWS_ENDPOINT_URL", &u)?;
        }
        // Every client's calls go through the paced connector (see [`crate::rate_limit`]): the
        // SDK's default HTTPS client, which aws-config would otherwise pick per client.
        let limits = Arc::new(crate::rate_limit::Limits::default());
        let paced = default_http_client().map(|inner| Paced {
            inner,
            limits: limits.clone(),
        });
        let paced_too = paced.is_some();
        if let Some(p) = paced {
            loader = loader.http_client(p);
        }
        let config = loader.load().await;
        let rate = RateFeedback(limits, paced_too);
        let region = config.region().map(|r| r.to_string()).ok_or_else(|| {
            crate::error::Error::user(
                "no AWS region: set `region:` in the stack file, pass --region, or export AWS_REGION",
            )
        })?;
        check_credentials(&config).await?;
        let calls = CallCounter::default();
        macro_rules! client {
            ($krate:ident) => {{
                let conf = $krate::config::Builder::from(&config)
                    .interceptor(calls.clone())
                    .interceptor(rate.clone())
                    .build();
                $krate::Client::from_conf(conf)
            }};
            ($krate:ident, $classifier:expr) => {{
                let conf = $krate::config::Builder::from(&config)
                    .interceptor(calls.clone())
                    .interceptor(rate.clone())
                    .retry_classifier($classifier)
                    .build();
                $krate::Client::from_conf(conf)
            }};
        }
        Ok(Clients {
            ec2: client!(aws_sdk_ec2),
            rds: client!(aws_sdk_rds),
            lambda: client!(aws_sdk_lambda),
            lambda_upload: aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(&config)
                    .interceptor(calls.clone())
                    .interceptor(rate.clone())
                    .timeout_config(
                        TimeoutConfig::builder()
                            .connect_timeout(Duration::from_secs(5))
                            .operation_attempt_timeout(UPLOAD_ATTEMPT_TIMEOUT)
                            .build(),
                    )
                    .build(),
            ),
            iam: client!(aws_sdk_iam, ConcurrentUpdate),
            cognito: client!(aws_sdk_cognitoidentityprovider),
            tagging: client!(aws_sdk_resourcegroupstagging),
            ssm: client!(aws_sdk_ssm, ConcurrentUpdate),
            logs: client!(aws_sdk_cloudwatchlogs),
            region,
            calls,
        })
    }
}

/// IAM answers `ConcurrentModification` (409) while another change to the same entity is being
/// applied, and SSM `TooManyUpdates` while another writer updates the same parameter (two runs
/// taking the lock at once): both clear by themselves (IAM API reference, "Common errors";
/// SSM PutParameter's errors), but the SDK's standard classifiers do not retry them. This one
/// marks them transient, so they get the standard mode's attempts and backoff; what is still
/// refused after that is explained by [`crate::error::Error::aws`].
#[derive(Debug)]
struct ConcurrentUpdate;

impl ClassifyRetry for ConcurrentUpdate {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        if !matches!(ctx.output_or_error(), Some(Err(_))) {
            return RetryAction::NoActionIndicated;
        }
        match ctx.response().and_then(|r| r.body().bytes()) {
            Some(body) if is_concurrent_update(&String::from_utf8_lossy(body)) => {
                RetryAction::transient_error()
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "ConcurrentUpdate"
    }
}

/// Whether an error body (IAM's XML, SSM's JSON) carries one of the concurrent-update codes.
fn is_concurrent_update(body: &str) -> bool {
    has_code(body, &["ConcurrentModification", "TooManyUpdates"])
}

/// Whether an error body (XML `<Code>`, JSON `__type`, possibly namespaced) carries one of `codes`.
fn has_code(body: &str, codes: &[&str]) -> bool {
    codes.iter().any(|c| {
        body.contains(&format!("<Code>{c}</Code>"))
            || body.contains(&format!("\"{c}\""))
            || body.contains(&format!("#{c}\""))
    })
}

/// The HTTP client the SDK uses when none is given (its default runtime plugin's).
fn default_http_client() -> Option<aws_smithy_runtime_api::client::http::SharedHttpClient> {
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
    use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;
    let plugin = aws_smithy_runtime::client::defaults::default_http_client_plugin_v2(
        aws_smithy_runtime_api::client::behavior_version::BehaviorVersion::latest(),
    )?;
    plugin
        .runtime_components(&RuntimeComponentsBuilder::new("deploy"))
        .http_client()
}

/// The header that carries a call's rate class from [`RateFeedback`] (which knows the operation)
/// to [`Paced`] (which can wait); removed before the request leaves.
const RATE_CLASS: &str = "x-deploy-rate-class";

/// Seconds on a monotonic clock, for [`crate::rate_limit`].
fn now_s() -> f64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64()
}

/// Whether an answer is a throttle: the codes the SDK itself treats as throttling (aws-runtime's
/// `THROTTLING_ERRORS`, which has EC2's `RequestLimitExceeded`), or HTTP 429.
fn is_throttle(status: u16, error_type: Option<&str>, body: &str) -> bool {
    use aws_runtime::retries::classifiers::THROTTLING_ERRORS;
    status == 429
        || error_type.is_some_and(|t| {
            let t = t.split(':').next().unwrap_or(t);
            crate::error::AwsKind::of(t) == crate::error::AwsKind::Throttled
        })
        || (status >= 400 && has_code(body, THROTTLING_ERRORS))
}

/// Tells [`crate::rate_limit`] what each attempt met (throttled or accepted), and labels each
/// request with its rate class for [`Paced`].
/// When an attempt was handed to the connector (it may wait there for its slot: close enough).
#[derive(Clone, Debug)]
struct SentAt(f64);

impl aws_smithy_types::config_bag::Storable for SentAt {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

/// The flag: [`Paced`] is the HTTP client, to strip the label it reads (else none is added).
#[derive(Clone, Debug)]
struct RateFeedback(Arc<crate::rate_limit::Limits>, bool);

fn rate_class(cfg: &ConfigBag) -> Option<String> {
    let m = cfg.load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()?;
    Some(crate::rate_limit::class_of(m.service(), m.name()))
}

impl Intercept for RateFeedback {
    fn name(&self) -> &'static str {
        "RateFeedback"
    }

    fn modify_before_transmit(
        &self,
        ctx: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(class) = rate_class(cfg).filter(|_| self.1) {
            ctx.request_mut().headers_mut().insert(RATE_CLASS, class);
        }
        cfg.interceptor_state().store_put(SentAt(now_s()));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        ctx: &aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef<
            '_,
        >,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (Some(class), Some(r)) = (rate_class(cfg), ctx.response()) else {
            return Ok(());
        };
        let status = r.status().as_u16();
        let body = r
            .body()
            .bytes()
            .map(String::from_utf8_lossy)
            .unwrap_or_default();
        let throttled = is_throttle(status, r.headers().get("x-amzn-errortype"), &body);
        // A 5xx took a token or not; it says nothing about the pace.
        if throttled || status < 500 {
            let now = now_s();
            let sent = cfg.load::<SentAt>().map_or(now, |s| s.0);
            self.0.answer(&class, sent, now, throttled);
            if throttled {
                tracing::debug!(
                    target: "deploy::aws",
                    "throttled ({class}): pacing at {:.2} calls a second",
                    self.0.rate(&class).unwrap_or_default()
                );
            }
        }
        Ok(())
    }
}

/// The HTTP client, with each call of a throttled class waiting for its slot (see
/// [`crate::rate_limit`]) before it is sent: the SDK's interceptors cannot wait, its connector can.
#[derive(Clone, Debug)]
struct Paced {
    inner: aws_smithy_runtime_api::client::http::SharedHttpClient,
    limits: Arc<crate::rate_limit::Limits>,
}

impl aws_smithy_runtime_api::client::http::HttpClient for Paced {
    fn http_connector(
        &self,
        settings: &aws_smithy_runtime_api::client::http::HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
        aws_smithy_runtime_api::client::http::SharedHttpConnector::new(PacedConnector {
            inner: self.inner.http_connector(settings, components),
            limits: self.limits.clone(),
        })
    }

    fn validate_base_client_config(
        &self,
        rc: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_base_client_config(rc, cfg)
    }

    fn validate_final_config(
        &self,
        rc: &RuntimeComponents,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_final_config(rc, cfg)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct PacedConnector {
    inner: aws_smithy_runtime_api::client::http::SharedHttpConnector,
    limits: Arc<crate::rate_limit::Limits>,
}

impl aws_smithy_runtime_api::client::http::HttpConnector for PacedConnector {
    fn call(
        &self,
        mut request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
    ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
        use aws_smithy_runtime_api::client::http::HttpConnectorFuture;
        let class = request.headers_mut().remove(RATE_CLASS);
        let wait = class
            .as_ref()
            .map_or(Duration::ZERO, |c| self.limits.reserve(c, now_s()));
        if wait.is_zero() {
            return self.inner.call(request);
        }
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            tokio::time::sleep(wait).await;
            inner.call(request).await
        })
    }
}

/// Per-attempt limits, so a stalled connection is cut and retried instead of holding the run:
/// AWS answers these APIs in well under a second, and the slow parts (an instance being created)
/// are polled, not waited for inside one call. Uploads (function code, layers) get a longer
/// attempt from [`UPLOAD_ATTEMPT_TIMEOUT`]. `DEPLOY_AWS_ATTEMPT_TIMEOUT` (seconds) overrides the
/// default, for tests and unusual networks.
fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(attempt_timeout())
        .build()
}

pub fn attempt_timeout() -> Duration {
    std::env::var("DEPLOY_AWS_ATTEMPT_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map_or(Duration::from_secs(30), Duration::from_secs_f64)
}

/// A 50 MB package over a slow uplink takes minutes; such a call is not stalled.
pub const UPLOAD_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(600);

fn check_endpoint_url(source: &str, url: &str) -> crate::error::Result<()> {
    let ok = url
        .parse::<hyper::Uri>()
        .ok()
        .filter(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
    if ok.is_some() {
        return Ok(());
    }
    Err(crate::error::Error::user(format!(
        "{source} `{url}` is not a URL: it needs http:// or https:// and a host, e.g. http://127.0.0.1:5000 for a local emulator"
    )))
}

/// Resolving credentials once up front turns "dispatch failure: no credentials found in chain"
/// on every call into one line that says what to do.
async fn check_credentials(config: &aws_config::SdkConfig) -> crate::error::Result<()> {
    use aws_credential_types::provider::ProvideCredentials;
    let no_creds = |why: String| {
        crate::error::Error::user(format!(
            "no AWS credentials: {why}. Provide them with `aws configure` (or `aws sso login`) and \
             --profile NAME / AWS_PROFILE, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
             (for a local emulator any non-empty values do)"
        ))
    };
    let Some(provider) = config.credentials_provider() else {
        return Err(no_creds("no credentials provider is configured".into()));
    };
    match provider.provide_credentials().await {
        Ok(_) => Ok(()),
        Err(aws_credential_types::provider::error::CredentialsError::CredentialsNotLoaded(_)) => {
            Err(no_creds("none were found in the environment, the AWS config files, or an instance or container role".into()))
        }
        Err(e) => Err(no_creds(crate::error::cause_chain(&e))),
    }
}

/// The profile the user named: `--profile`, else a non-empty `AWS_PROFILE`.
/// The region a run uses when the chain is not asked (`None`: ask it), and a warning when the
/// stack file's region overrules another one given. The file wins: it describes where the
/// stack lives, and a leftover `AWS_REGION` or a habitual `--region` must not plan the same
/// stack against an empty region (everything "to create") or apply it there.
pub fn choose_region(
    file: Option<&str>,
    flag: Option<&str>,
    chain: Option<String>,
) -> (Option<String>, Option<String>) {
    let Some(file) = file else {
        return (flag.map(str::to_string), None);
    };
    let other = match (flag, chain) {
        (Some(f), _) if f != file => Some(format!("--region {f}")),
        (None, Some(c)) if c != file => Some(format!("AWS_REGION (or the AWS profile) {c}")),
        _ => None,
    };
    let warning = other.map(|o| {
        format!(
            "the stack file says `region: {file}` and {o} names another region: using {file}, the stack file's (remove `region:` from the file to choose the region per run)"
        )
    });
    (Some(file.to_string()), warning)
}

/// The region the environment or the profile names, without the instance-metadata lookup (its
/// timeouts and warnings are not worth a warning).
async fn chain_region(profile: Option<&str>) -> Option<String> {
    use aws_config::meta::region::ProvideRegion;
    if let Some(r) = aws_config::environment::EnvironmentVariableRegionProvider::new()
        .region()
        .await
    {
        return Some(r.to_string());
    }
    let mut p = aws_config::profile::ProfileFileRegionProvider::builder();
    if let Some(name) = profile {
        p = p.profile_name(name);
    }
    p.build().region().await.map(|r| r.to_string())
}

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
        crate::error::Error::user(format!(
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
    Err(crate::error::Error::user(format!(
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

#[cfg(test)]
mod tests {
    #[test]
    fn concurrent_update_codes_are_found_in_iam_and_ssm_bodies() {
        assert!(super::is_concurrent_update(
            "<ErrorResponse><Error><Type>Sender</Type><Code>ConcurrentModification</Code></Error></ErrorResponse>"
        ));
        assert!(super::is_concurrent_update(
            r#"{"__type":"TooManyUpdates","message":"There are concurrent updates"}"#
        ));
        assert!(super::is_concurrent_update(
            r#"{"__type":"com.amazonaws.ssm#TooManyUpdates","message":"x"}"#
        ));
        assert!(!super::is_concurrent_update(
            "<Error><Code>NoSuchEntity</Code><Message>ConcurrentModification is not this</Message></Error>"
        ));
    }

    #[test]
    fn throttling_answers_are_recognised_by_the_sdks_own_codes() {
        use super::is_throttle;
        let ec2 = "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors></Response>";
        assert!(is_throttle(503, None, ec2));
        assert!(is_throttle(429, None, ""));
        assert!(is_throttle(
            400,
            None,
            r#"{"__type":"TooManyRequestsException","message":"Too many requests"}"#
        ));
        assert!(is_throttle(
            400,
            Some("ThrottlingException:http://internal.amazon.com/"),
            ""
        ));
        assert!(!is_throttle(
            400,
            None,
            "<Response><Errors><Error><Code>InvalidPermission.Duplicate</Code></Error></Errors></Response>"
        ));
        assert!(!is_throttle(
            200,
            None,
            "RequestLimitExceeded in a description"
        ));
    }

    use super::choose_region;

    #[test]
    fn the_stack_files_region_wins_and_says_what_it_overrules() {
        let r =
            |file, flag, chain: Option<&str>| choose_region(file, flag, chain.map(String::from));
        assert_eq!(r(None, None, Some("eu-west-1")), (None, None));
        assert_eq!(
            r(None, Some("eu-west-1"), None).0.as_deref(),
            Some("eu-west-1")
        );
        let (region, warning) = r(Some("us-east-1"), Some("eu-west-1"), None);
        assert_eq!(region.as_deref(), Some("us-east-1"));
        let w = warning.unwrap();
        assert!(
            w.contains("--region eu-west-1") && w.contains("using us-east-1"),
            "{w}"
        );
        let (region, warning) = r(Some("us-east-1"), None, Some("eu-west-1"));
        assert_eq!(region.as_deref(), Some("us-east-1"));
        assert!(
            warning
                .unwrap()
                .contains("AWS_REGION (or the AWS profile) eu-west-1")
        );
        assert_eq!(
            r(Some("us-east-1"), Some("us-east-1"), None),
            (Some("us-east-1".into()), None)
        );
        assert_eq!(
            r(Some("us-east-1"), None, Some("us-east-1")),
            (Some("us-east-1".into()), None)
        );
    }
}
