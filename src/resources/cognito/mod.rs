//! The Cognito family: two kinds, [`user_pool`] and [`trigger`], over one Cognito user pool. This
//! module is the pool as both see it: the normalised DescribeUserPool / UpdateUserPool model, and
//! (in [`aws`]) the read-modify-write every pool update goes through (user pools change their own
//! settings, triggers change slots of a pool's LambdaConfig).
//!
//! UpdateUserPool resets every setting the request leaves out: triggers, password policy,
//! verification messages, tags, MFA, email and SMS settings, account recovery, deletion protection
//! and more (aws-behaviors §4). So nothing here sends a partial update: [`update_request`] takes a
//! full DescribeUserPool, read just before the write, and returns the whole request with only the
//! fields we manage changed. The adapter converts that request field by field.

pub mod aws;
pub mod trigger;
pub mod user_pool;

use std::collections::BTreeMap;

use crate::resources::core::PoolSummary;
use crate::stack::{STACK_TAG, TRIGGER_EVENTS};

/// Every pool of the account as DescribeUserPool returned it, shared with the trigger reader.
#[derive(Clone, Debug, Default)]
pub struct Pools {
    /// Sorted by id.
    pub all: Vec<PoolDescription>,
    /// The pool that `user_pools.<name>` stands for (owned, or untagged under a declared name).
    pub stack_pools: BTreeMap<String, String>,
}

impl Pools {
    pub fn get(&self, id: &str) -> Option<&PoolDescription> {
        self.all.iter().find(|p| p.id == id)
    }

    /// What `LiveEnv::user_pools` carries.
    pub fn summaries(&self) -> Vec<PoolSummary> {
        self.all
            .iter()
            .map(|p| PoolSummary {
                id: p.id.clone(),
                name: p.name.clone(),
                arn: p.arn.clone(),
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The normalised DescribeUserPool / UpdateUserPool model.
// ---------------------------------------------------------------------------------------------

/// One pool as DescribeUserPool reported it: identity, the fields only CreateUserPool can set
/// that we diff, and every field UpdateUserPool takes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolDescription {
    pub id: String,
    pub name: String,
    pub arn: String,
    pub username_attributes: Vec<String>,
    pub settings: PoolSettings,
}

/// Every field of UpdateUserPool except the pool id, as DescribeUserPool reported it. `None` means
/// the pool did not report the field, and the request leaves it out as well. Enumerations are kept
/// as their API strings so values this crate does not know survive the round trip.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolSettings {
    pub policies: Option<Policies>,
    pub deletion_protection: Option<String>,
    pub lambda_config: Option<LambdaConfig>,
    pub auto_verified_attributes: Option<Vec<String>>,
    pub sms_verification_message: Option<String>,
    pub email_verification_message: Option<String>,
    pub email_verification_subject: Option<String>,
    pub verification_message_template: Option<VerificationMessageTemplate>,
    pub sms_authentication_message: Option<String>,
    pub user_attribute_update_settings: Option<UserAttributeUpdateSettings>,
    pub mfa_configuration: Option<String>,
    pub device_configuration: Option<DeviceConfiguration>,
    pub email_configuration: Option<EmailConfiguration>,
    pub sms_configuration: Option<SmsConfiguration>,
    pub tags: Option<BTreeMap<String, String>>,
    pub admin_create_user_config: Option<AdminCreateUserConfig>,
    pub user_pool_add_ons: Option<UserPoolAddOns>,
    pub account_recovery_setting: Option<AccountRecoverySetting>,
    pub pool_name: Option<String>,
    pub user_pool_tier: Option<String>,
    pub key_configuration: Option<KeyConfiguration>,
    pub issuer_configuration: Option<IssuerConfiguration>,
    /// ACR level -> custom value.
    pub acr_configuration: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policies {
    pub password_policy: Option<PasswordPolicy>,
    pub sign_in_policy: Option<SignInPolicy>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub minimum_length: Option<i32>,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_numbers: bool,
    pub require_symbols: bool,
    pub password_history_size: Option<i32>,
    /// 0 = not reported.
    pub temporary_password_validity_days: i32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignInPolicy {
    pub allowed_first_auth_factors: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LambdaConfig {
    /// The plain ARN slots, by LambdaConfig field name (`PreSignUp`, `PostConfirmation`, …).
    pub triggers: BTreeMap<String, String>,
    pub pre_token_generation_config: Option<VersionedLambda>,
    pub custom_sms_sender: Option<VersionedLambda>,
    pub custom_email_sender: Option<VersionedLambda>,
    pub inbound_federation: Option<VersionedLambda>,
    pub kms_key_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionedLambda {
    pub version: String,
    pub arn: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerificationMessageTemplate {
    pub sms_message: Option<String>,
    pub email_message: Option<String>,
    pub email_subject: Option<String>,
    pub email_message_by_link: Option<String>,
    pub email_subject_by_link: Option<String>,
    pub default_email_option: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserAttributeUpdateSettings {
    pub attributes_require_verification_before_update: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceConfiguration {
    pub challenge_required_on_new_device: bool,
    pub device_only_remembered_on_user_prompt: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EmailConfiguration {
    pub source_arn: Option<String>,
    pub reply_to_email_address: Option<String>,
    pub email_sending_account: Option<String>,
    pub from: Option<String>,
    pub configuration_set: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmsConfiguration {
    pub sns_caller_arn: String,
    pub external_id: Option<String>,
    pub sns_region: Option<String>,
    pub eums_sms: Option<EumsSmsConfiguration>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EumsSmsConfiguration {
    pub caller_arn: String,
    pub external_id: Option<String>,
    pub origination_identity: Option<String>,
    pub configuration_set_name: Option<String>,
    pub in_entity_id: Option<String>,
    pub in_template_id: Option<String>,
    pub region: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdminCreateUserConfig {
    pub allow_admin_create_user_only: bool,
    /// Legacy; 0 = not reported.
    pub unused_account_validity_days: i32,
    pub invite_message_template: Option<MessageTemplate>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageTemplate {
    pub sms_message: Option<String>,
    pub email_message: Option<String>,
    pub email_subject: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserPoolAddOns {
    pub advanced_security_mode: String,
    pub advanced_security_additional_flows: Option<AdvancedSecurityAdditionalFlows>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdvancedSecurityAdditionalFlows {
    pub custom_auth_mode: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountRecoverySetting {
    pub recovery_mechanisms: Option<Vec<RecoveryOption>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryOption {
    pub priority: i32,
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyConfiguration {
    pub key_type: Option<String>,
    pub kms_key_arn: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IssuerConfiguration {
    pub issuer_type: Option<String>,
}

/// The changes we make to a pool; everything else is copied from the fresh description.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Edits {
    pub auto_verified_attributes: Option<Vec<String>>,
    pub deletion_protection: Option<bool>,
    /// Added or overwritten; other tags are kept.
    pub set_tags: BTreeMap<String, String>,
    pub remove_tags: Vec<String>,
    /// Trigger slots by LambdaConfig field name: `Some(arn)` sets one, `None` clears it.
    pub triggers: BTreeMap<String, Option<String>>,
}

/// A whole UpdateUserPool request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateRequest {
    pub pool_id: String,
    pub settings: PoolSettings,
}

const PRE_TOKEN_GENERATION: &str = "PreTokenGeneration";

/// The full UpdateUserPool request that applies `edits` to `current` and keeps everything else.
pub fn update_request(current: &PoolDescription, edits: &Edits) -> UpdateRequest {
    let mut s = current.settings.clone();

    // DescribeUserPool reports the legacy UnusedAccountValidityDays next to the password policy's
    // TemporaryPasswordValidityDays, but UpdateUserPool refuses the legacy field ("Please use
    // TemporaryPasswordValidityDays in PasswordPolicy instead of UnusedAccountValidityDays", the
    // case terraform-provider-aws retries on; the API reference marks it deprecated). It is never
    // sent (0 here; the adapter strips the member the SDK always writes): a pool that reports only
    // the legacy value keeps it as the password policy's, its replacement.
    if let Some(a) = s.admin_create_user_config.as_mut() {
        let legacy = std::mem::take(&mut a.unused_account_validity_days);
        if let Some(pp) = s
            .policies
            .as_mut()
            .and_then(|p| p.password_policy.as_mut())
            .filter(|pp| pp.temporary_password_validity_days == 0 && legacy != 0)
        {
            pp.temporary_password_validity_days = legacy;
        }
    }

    // DescribeUserPool reports the effective ACR configuration, defaults merged in; custom values
    // need a feature plan above Lite, so a Lite pool is sent none (it keeps its defaults) and an
    // Essentials or Plus pool gets back exactly what it holds, never reset.
    if s.user_pool_tier.as_deref() == Some("LITE") {
        s.acr_configuration = None;
    }

    if let Some(v) = &edits.auto_verified_attributes {
        s.auto_verified_attributes = Some(v.clone());
    }
    if let Some(on) = edits.deletion_protection {
        s.deletion_protection = Some(if on { "ACTIVE" } else { "INACTIVE" }.to_string());
    }
    if !edits.set_tags.is_empty() || !edits.remove_tags.is_empty() {
        let tags = s.tags.get_or_insert_with(BTreeMap::new);
        for k in &edits.remove_tags {
            tags.remove(k);
        }
        tags.extend(edits.set_tags.clone());
    }
    if !edits.triggers.is_empty() {
        let lc = s.lambda_config.get_or_insert_with(LambdaConfig::default);
        for (field, arn) in &edits.triggers {
            match arn {
                Some(arn) => {
                    lc.triggers.insert(field.clone(), arn.clone());
                    // PreTokenGeneration and PreTokenGenerationConfig.LambdaArn are one slot; a
                    // stale config ARN would win over (or contradict) the new one.
                    if field == PRE_TOKEN_GENERATION
                        && let Some(c) = lc.pre_token_generation_config.as_mut()
                    {
                        c.arn = arn.clone();
                    }
                }
                None => {
                    lc.triggers.remove(field);
                    if field == PRE_TOKEN_GENERATION {
                        lc.pre_token_generation_config = None;
                    }
                }
            }
        }
    }
    UpdateRequest {
        pool_id: current.id.clone(),
        settings: s,
    }
}

/// The settings a written request asked for that the pool, read back, does not have: what
/// UpdateUserPool silently reset. Values AWS itself fills in (the legacy validity days we left
/// out, the pre-token-generation version) are not counted.
pub fn lost_settings(sent: &PoolSettings, now: &PoolSettings) -> Vec<&'static str> {
    let mut lost = Vec::new();
    macro_rules! check {
        ($($field:ident),* $(,)?) => {
            $(
                if sent.$field.is_some() && sent.$field != now.$field {
                    lost.push(stringify!($field));
                }
            )*
        };
    }
    check!(
        policies,
        deletion_protection,
        auto_verified_attributes,
        sms_verification_message,
        email_verification_message,
        email_verification_subject,
        verification_message_template,
        sms_authentication_message,
        user_attribute_update_settings,
        mfa_configuration,
        device_configuration,
        email_configuration,
        sms_configuration,
        tags,
        user_pool_add_ons,
        account_recovery_setting,
        pool_name,
        user_pool_tier,
        key_configuration,
        issuer_configuration,
        acr_configuration,
    );
    if let Some(a) = &sent.admin_create_user_config {
        let same = now.admin_create_user_config.as_ref().is_some_and(|b| {
            a.allow_admin_create_user_only == b.allow_admin_create_user_only
                && a.invite_message_template == b.invite_message_template
                && (a.unused_account_validity_days == 0
                    || a.unused_account_validity_days == b.unused_account_validity_days)
        });
        if !same {
            lost.push("admin_create_user_config");
        }
    }
    if let Some(a) = &sent.lambda_config {
        let empty = LambdaConfig::default();
        let b = now.lambda_config.as_ref().unwrap_or(&empty);
        let same = a.triggers == b.triggers
            && a.custom_sms_sender == b.custom_sms_sender
            && a.custom_email_sender == b.custom_email_sender
            && a.inbound_federation == b.inbound_federation
            && a.kms_key_id == b.kms_key_id
            && (a.pre_token_generation_config.is_none()
                || a.pre_token_generation_config == b.pre_token_generation_config);
        if !same {
            lost.push("lambda_config");
        }
    }
    lost
}

impl PoolDescription {
    pub fn tags(&self) -> BTreeMap<String, String> {
        self.settings.tags.clone().unwrap_or_default()
    }

    /// Carries `deploy:stack=<stack>`.
    pub fn owned_by(&self, stack: &str) -> bool {
        self.settings
            .tags
            .as_ref()
            .and_then(|t| t.get(STACK_TAG))
            .map(String::as_str)
            == Some(stack)
    }

    /// The function a trigger slot points at, by LambdaConfig field name. Pre-token-generation
    /// can be set either way (the V2 events only through the config).
    pub fn trigger(&self, field: &str) -> Option<&str> {
        let lc = self.settings.lambda_config.as_ref()?;
        lc.triggers.get(field).map(String::as_str).or_else(|| {
            (field == PRE_TOKEN_GENERATION)
                .then(|| {
                    lc.pre_token_generation_config
                        .as_ref()
                        .map(|c| c.arn.as_str())
                })
                .flatten()
        })
    }

    /// Set trigger slots in the file's spelling, with their function ARNs.
    pub fn set_triggers(&self) -> Vec<(String, String)> {
        TRIGGER_EVENTS
            .iter()
            .filter_map(|(event, field)| {
                self.trigger(field)
                    .map(|arn| (event.to_string(), arn.to_string()))
            })
            .collect()
    }

    pub fn deletion_protection(&self) -> bool {
        self.settings.deletion_protection.as_deref() == Some("ACTIVE")
    }
}

/// How every statement id [`statement_id`] makes begins.
pub const STATEMENT_PREFIX: &str = "deploy-cognito-";

/// The resource-policy statement id for a pool's event: deterministic, so a rerun finds it and a
/// delete can remove it without reading. Lambda allows `[A-Za-z0-9_-]`, at most 100 characters.
pub fn statement_id(event: &str, pool_id: &str) -> String {
    let clean: String = pool_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut sid = format!("{STATEMENT_PREFIX}{event}-{clean}");
    sid.truncate(100);
    sid
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    /// A pool with every setting away from its default, and someone else's pre-sign-up trigger.
    pub(crate) fn rich_pool() -> PoolDescription {
        PoolDescription {
            id: "us-east-1_abc".into(),
            name: "pool".into(),
            arn: "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_abc".into(),
            username_attributes: vec!["email".into()],
            settings: PoolSettings {
                policies: Some(Policies {
                    password_policy: Some(PasswordPolicy {
                        minimum_length: Some(14),
                        require_uppercase: false,
                        require_lowercase: true,
                        require_numbers: false,
                        require_symbols: true,
                        password_history_size: Some(5),
                        temporary_password_validity_days: 3,
                    }),
                    sign_in_policy: Some(SignInPolicy {
                        allowed_first_auth_factors: Some(vec![
                            "PASSWORD".into(),
                            "EMAIL_OTP".into(),
                        ]),
                    }),
                }),
                deletion_protection: some("ACTIVE"),
                lambda_config: Some(LambdaConfig {
                    triggers: tags(&[("PreSignUp", "arn:aws:lambda:us-east-1:1:function:theirs")]),
                    pre_token_generation_config: None,
                    custom_sms_sender: Some(VersionedLambda {
                        version: "V1_0".into(),
                        arn: "arn:aws:lambda:us-east-1:1:function:sms".into(),
                    }),
                    custom_email_sender: Some(VersionedLambda {
                        version: "V1_0".into(),
                        arn: "arn:aws:lambda:us-east-1:1:function:mail".into(),
                    }),
                    inbound_federation: Some(VersionedLambda {
                        version: "V1_0".into(),
                        arn: "arn:aws:lambda:us-east-1:1:function:fed".into(),
                    }),
                    kms_key_id: some("arn:aws:kms:us-east-1:1:key/k"),
                }),
                auto_verified_attributes: Some(vec!["email".into()]),
                sms_verification_message: some("sms {####}"),
                email_verification_message: some("mail {####}"),
                email_verification_subject: some("subject"),
                verification_message_template: Some(VerificationMessageTemplate {
                    sms_message: some("sms {####}"),
                    email_message: some("mail {####}"),
                    email_subject: some("subject"),
                    email_message_by_link: some("click {##Verify##}"),
                    email_subject_by_link: some("link"),
                    default_email_option: some("CONFIRM_WITH_LINK"),
                }),
                sms_authentication_message: some("auth {####}"),
                user_attribute_update_settings: Some(UserAttributeUpdateSettings {
                    attributes_require_verification_before_update: Some(vec!["email".into()]),
                }),
                mfa_configuration: some("OPTIONAL"),
                device_configuration: Some(DeviceConfiguration {
                    challenge_required_on_new_device: true,
                    device_only_remembered_on_user_prompt: true,
                }),
                email_configuration: Some(EmailConfiguration {
                    source_arn: some("arn:aws:ses:us-east-1:1:identity/x.com"),
                    reply_to_email_address: some("r@x.com"),
                    email_sending_account: some("DEVELOPER"),
                    from: some("No Reply <n@x.com>"),
                    configuration_set: some("cs"),
                }),
                sms_configuration: Some(SmsConfiguration {
                    sns_caller_arn: "arn:aws:iam::1:role/sns".into(),
                    external_id: some("ext"),
                    sns_region: some("us-east-1"),
                    eums_sms: None,
                }),
                tags: Some(tags(&[("team", "identity"), ("cost", "42")])),
                admin_create_user_config: Some(AdminCreateUserConfig {
                    allow_admin_create_user_only: true,
                    unused_account_validity_days: 3,
                    invite_message_template: Some(MessageTemplate {
                        sms_message: some("hi {username} {####}"),
                        email_message: some("hello {username} {####}"),
                        email_subject: some("welcome"),
                    }),
                }),
                user_pool_add_ons: Some(UserPoolAddOns {
                    advanced_security_mode: "AUDIT".into(),
                    advanced_security_additional_flows: Some(AdvancedSecurityAdditionalFlows {
                        custom_auth_mode: some("AUDIT"),
                    }),
                }),
                account_recovery_setting: Some(AccountRecoverySetting {
                    recovery_mechanisms: Some(vec![
                        RecoveryOption {
                            priority: 1,
                            name: "verified_email".into(),
                        },
                        RecoveryOption {
                            priority: 2,
                            name: "verified_phone_number".into(),
                        },
                    ]),
                }),
                pool_name: some("pool"),
                user_pool_tier: some("PLUS"),
                key_configuration: Some(KeyConfiguration {
                    key_type: some("CUSTOMER_MANAGED_KEY"),
                    kms_key_arn: some("arn:aws:kms:us-east-1:1:key/p"),
                }),
                issuer_configuration: Some(IssuerConfiguration {
                    issuer_type: some("UPDATED"),
                }),
                acr_configuration: Some(tags(&[("LEVEL_1", "urn:x:1")])),
            },
        }
    }

    fn set_trigger(field: &str, arn: Option<&str>) -> Edits {
        Edits {
            triggers: [(field.to_string(), arn.map(str::to_string))].into(),
            ..Default::default()
        }
    }

    /// What the request keeps of a description: everything, bar the legacy validity days.
    fn kept(p: &PoolDescription) -> PoolSettings {
        let mut s = p.settings.clone();
        s.admin_create_user_config
            .as_mut()
            .unwrap()
            .unused_account_validity_days = 0;
        s
    }

    #[test]
    fn setting_a_trigger_keeps_every_other_setting() {
        let pool = rich_pool();
        let arn = "arn:aws:lambda:us-east-1:1:function:mine";
        let r = update_request(&pool, &set_trigger("PostConfirmation", Some(arn)));
        assert_eq!(r.pool_id, "us-east-1_abc");
        let mut want = kept(&pool);
        want.lambda_config
            .as_mut()
            .unwrap()
            .triggers
            .insert("PostConfirmation".into(), arn.into());
        assert_eq!(r.settings, want);
        // The other trigger and the versioned senders and KMS key are in the request.
        let lc = r.settings.lambda_config.as_ref().unwrap();
        assert_eq!(
            lc.triggers["PreSignUp"],
            "arn:aws:lambda:us-east-1:1:function:theirs"
        );
        assert!(
            lc.custom_sms_sender.is_some()
                && lc.custom_email_sender.is_some()
                && lc.inbound_federation.is_some()
        );
        assert_eq!(
            lc.kms_key_id.as_deref(),
            Some("arn:aws:kms:us-east-1:1:key/k")
        );
    }

    #[test]
    fn removing_a_trigger_keeps_every_other_setting() {
        let mut pool = rich_pool();
        pool.settings
            .lambda_config
            .as_mut()
            .unwrap()
            .triggers
            .insert("PostConfirmation".into(), "arn:mine".into());
        let r = update_request(&pool, &set_trigger("PostConfirmation", None));
        assert_eq!(r.settings, kept(&rich_pool()));
    }

    #[test]
    fn a_pool_without_lambda_config_gets_one() {
        let mut pool = rich_pool();
        pool.settings.lambda_config = None;
        let r = update_request(&pool, &set_trigger("PostConfirmation", Some("arn:f")));
        assert_eq!(
            r.settings.lambda_config.unwrap().triggers,
            tags(&[("PostConfirmation", "arn:f")])
        );
        // Nothing asked of the lambda config: it stays absent.
        assert_eq!(
            update_request(&pool, &Edits::default())
                .settings
                .lambda_config,
            None
        );
    }

    #[test]
    fn legacy_unused_account_days_are_never_sent_and_move_to_the_password_policy() {
        let pool = rich_pool();
        let r = update_request(&pool, &Edits::default());
        let days = |s: &PoolSettings| {
            (
                s.admin_create_user_config
                    .as_ref()
                    .unwrap()
                    .unused_account_validity_days,
                s.policies
                    .as_ref()
                    .unwrap()
                    .password_policy
                    .as_ref()
                    .unwrap()
                    .temporary_password_validity_days,
            )
        };
        assert_eq!(days(&r.settings), (0, days(&pool.settings).1));
        let mut old = rich_pool();
        old.settings
            .policies
            .as_mut()
            .unwrap()
            .password_policy
            .as_mut()
            .unwrap()
            .temporary_password_validity_days = 0;
        let r = update_request(&old, &Edits::default());
        assert_eq!(days(&r.settings), (0, 3));
    }

    #[test]
    fn a_lite_pool_is_sent_no_acr_configuration_and_others_keep_theirs() {
        let mut pool = rich_pool();
        let held = pool.settings.acr_configuration.clone();
        assert!(held.is_some());
        for tier in ["ESSENTIALS", "PLUS"] {
            pool.settings.user_pool_tier = Some(tier.into());
            let r = update_request(&pool, &set_trigger("PostConfirmation", Some("arn:x")));
            assert_eq!(r.settings.acr_configuration, held, "{tier}");
        }
        pool.settings.user_pool_tier = Some("LITE".into());
        let r = update_request(&pool, &set_trigger("PostConfirmation", Some("arn:x")));
        assert_eq!(r.settings.acr_configuration, None);
    }

    #[test]
    fn pre_token_generation_and_its_config_stay_one_slot() {
        let mut pool = rich_pool();
        pool.settings
            .lambda_config
            .as_mut()
            .unwrap()
            .pre_token_generation_config = Some(VersionedLambda {
            version: "V2_0".into(),
            arn: "arn:old".into(),
        });
        assert_eq!(pool.trigger("PreTokenGeneration"), Some("arn:old"));
        let r = update_request(&pool, &set_trigger("PreTokenGeneration", Some("arn:new")));
        let lc = r.settings.lambda_config.unwrap();
        assert_eq!(lc.triggers["PreTokenGeneration"], "arn:new");
        assert_eq!(
            lc.pre_token_generation_config,
            Some(VersionedLambda {
                version: "V2_0".into(),
                arn: "arn:new".into()
            })
        );
        let r = update_request(&pool, &set_trigger("PreTokenGeneration", None));
        let lc = r.settings.lambda_config.unwrap();
        assert!(!lc.triggers.contains_key("PreTokenGeneration"));
        assert_eq!(lc.pre_token_generation_config, None);
        assert!(lc.custom_email_sender.is_some());
        // Without a config, only the plain slot is set (AWS fills in the version).
        let r = update_request(
            &rich_pool(),
            &set_trigger("PreTokenGeneration", Some("arn:new")),
        );
        assert_eq!(
            r.settings
                .lambda_config
                .unwrap()
                .pre_token_generation_config,
            None
        );
    }

    #[test]
    fn managed_fields_change_and_tags_merge() {
        let pool = rich_pool();
        let r = update_request(
            &pool,
            &Edits {
                auto_verified_attributes: Some(vec![]),
                deletion_protection: Some(false),
                set_tags: tags(&[("deploy:stack", "s"), ("team", "auth")]),
                remove_tags: vec!["cost".into()],
                ..Default::default()
            },
        );
        let mut want = kept(&pool);
        want.auto_verified_attributes = Some(vec![]);
        want.deletion_protection = some("INACTIVE");
        want.tags = Some(tags(&[("deploy:stack", "s"), ("team", "auth")]));
        assert_eq!(r.settings, want);
    }

    #[test]
    fn no_edits_means_the_same_request_as_nothing_to_do() {
        let pool = rich_pool();
        let noop = update_request(&pool, &Edits::default());
        // The adapter skips the write when the edits change nothing.
        let same = update_request(
            &pool,
            &Edits {
                deletion_protection: Some(true),
                set_tags: tags(&[("team", "identity")]),
                ..Default::default()
            },
        );
        assert_eq!(noop, same);
        assert_ne!(
            noop,
            update_request(&pool, &set_trigger("PostConfirmation", Some("arn:x")))
        );
    }

    #[test]
    fn lost_settings_names_what_a_write_reset() {
        let pool = rich_pool();
        let sent = update_request(&pool, &set_trigger("PostConfirmation", Some("arn:x"))).settings;
        // AWS reports the legacy days again and fills in a pre-token version: not a loss.
        let mut now = sent.clone();
        now.admin_create_user_config
            .as_mut()
            .unwrap()
            .unused_account_validity_days = 3;
        assert!(lost_settings(&sent, &now).is_empty());
        // A reset to defaults is.
        let mut reset = now.clone();
        reset.tags = None;
        reset.mfa_configuration = some("OFF");
        reset
            .lambda_config
            .as_mut()
            .unwrap()
            .triggers
            .remove("PreSignUp");
        reset.policies = None;
        assert_eq!(
            lost_settings(&sent, &reset),
            vec!["policies", "mfa_configuration", "tags", "lambda_config"]
        );
    }
}
