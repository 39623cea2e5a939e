//! Cognito user pools this stack owns, and the read-modify-write model every pool update goes
//! through.
//!
//! UpdateUserPool resets every setting the request leaves out: triggers, password policy,
//! verification messages, tags, MFA, email and SMS settings, account recovery, deletion protection
//! and more (aws-behaviors §4). So nothing here sends a partial update: [`update_request`] takes a
//! full DescribeUserPool, read just before the write, and returns the whole request with only the
//! fields we manage changed. The adapter converts that request field by field.

pub mod aws;

use std::collections::{BTreeMap, BTreeSet};

use crate::plan::{Action, Change, Diff, PlanError, list};
use crate::resources::security_group::{owned_change, tag_diff};
use crate::resources::{Key, LiveEnv, NodeDef, Spec as AnySpec};
use crate::stack::{Pos, Resolver, STACK_TAG, Stack, TRIGGER_EVENTS};

/// What a stack file asks of a pool. `None` fields are not managed.
#[derive(Clone, Debug)]
pub struct Spec {
    pub name: String,
    pub username_attributes: Option<Vec<String>>,
    pub auto_verified_attributes: Option<Vec<String>>,
    pub deletion_protection: Option<bool>,
    pub tags: BTreeMap<String, String>,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    pub id: String,
    pub arn: String,
    pub name: String,
    /// Sorted.
    pub username_attributes: Vec<String>,
    /// Sorted.
    pub auto_verified_attributes: Vec<String>,
    /// DeletionProtection is ACTIVE.
    pub deletion_protection: bool,
    pub tags: BTreeMap<String, String>,
    /// Carries this stack's `deploy:stack` tag.
    pub owned: bool,
    /// Trigger slots that are set: (event in the file's spelling, function ARN).
    pub triggers: Vec<(String, String)>,
    /// Ids of other pools that could equally be this one (same name, same ownership): the plan
    /// refuses to guess.
    pub ambiguous: Vec<String>,
}

/// A pool of the account as trigger specs need it to find an existing pool by id or name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolSummary {
    pub id: String,
    pub name: String,
    pub arn: String,
}

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

/// A tag recording the username attributes a pool was created with. AWS keeps them for the
/// pool's life, but moto (the test emulator) drops them on every UpdateUserPool, and a pool whose
/// username attributes seem to have changed would be planned for replacement (deleting every
/// user). The tag is only read when DescribeUserPool reports none.
pub const USERNAME_TAG: &str = "deploy:username_attributes";

/// The tags CreateUserPool gets: the stack's, plus [`USERNAME_TAG`] when there are username
/// attributes (tag values cannot hold commas: space-separated).
pub fn create_tags(s: &Spec) -> BTreeMap<String, String> {
    let mut tags = s.tags.clone();
    if let Some(attrs) = s.username_attributes.as_ref().filter(|a| !a.is_empty()) {
        tags.insert(USERNAME_TAG.to_string(), sorted(attrs).join(" "));
    }
    tags
}

/// The full UpdateUserPool request that applies `edits` to `current` and keeps everything else.
pub fn update_request(current: &PoolDescription, edits: &Edits) -> UpdateRequest {
    let mut s = current.settings.clone();

    // DescribeUserPool reports the legacy UnusedAccountValidityDays next to the password policy's
    // TemporaryPasswordValidityDays, but UpdateUserPool refuses both together ("Please use
    // TemporaryPasswordValidityDays in PasswordPolicy instead of UnusedAccountValidityDays", the
    // case terraform-provider-aws retries on). 0 is "not set"; the password policy carries the value.
    let temporary_days = s
        .policies
        .as_ref()
        .and_then(|p| p.password_policy.as_ref())
        .map_or(0, |p| p.temporary_password_validity_days);
    if temporary_days != 0
        && let Some(a) = s.admin_create_user_config.as_mut()
    {
        a.unused_account_validity_days = 0;
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

    /// The username attributes, from DescribeUserPool or else from the tag written at creation
    /// (see [`USERNAME_TAG`]).
    pub fn username_attributes(&self) -> Vec<String> {
        if !self.username_attributes.is_empty() {
            return self.username_attributes.clone();
        }
        let tags = self.settings.tags.as_ref();
        tags.and_then(|t| t.get(USERNAME_TAG))
            .map(|v| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    }

    pub fn observed(&self, stack: &str) -> Observed {
        let mut username_attributes = self.username_attributes();
        username_attributes.sort();
        let mut auto_verified_attributes = self
            .settings
            .auto_verified_attributes
            .clone()
            .unwrap_or_default();
        auto_verified_attributes.sort();
        Observed {
            id: self.id.clone(),
            arn: self.arn.clone(),
            name: self.name.clone(),
            username_attributes,
            auto_verified_attributes,
            deletion_protection: self.deletion_protection(),
            tags: self.tags(),
            owned: self.owned_by(stack),
            triggers: self.set_triggers(),
            ambiguous: Vec::new(),
        }
    }
}

/// Which live pool each pool name stands for. A pool tagged with this stack wins; an untagged
/// pool counts only under a declared name (to adopt); pools of other stacks never count. When
/// several pools qualify equally, the first (by id) is returned with the others in `ambiguous`,
/// and [`diff`] refuses to plan it.
pub fn select(
    stack: &str,
    declared: &BTreeSet<String>,
    pools: &[PoolDescription],
) -> Vec<Observed> {
    let mut by_name: BTreeMap<&str, Vec<&PoolDescription>> = BTreeMap::new();
    for p in pools {
        by_name.entry(p.name.as_str()).or_default().push(p);
    }
    let mut out = Vec::new();
    for (name, mut candidates) in by_name {
        candidates.sort_by(|a, b| a.id.cmp(&b.id));
        let owned: Vec<_> = candidates.iter().filter(|p| p.owned_by(stack)).collect();
        let untagged: Vec<_> = candidates
            .iter()
            .filter(|p| {
                !p.settings
                    .tags
                    .as_ref()
                    .is_some_and(|t| t.contains_key(STACK_TAG))
            })
            .collect();
        let group = if !owned.is_empty() {
            owned
        } else if declared.contains(name) && !untagged.is_empty() {
            untagged
        } else {
            continue;
        };
        let mut o = group[0].observed(stack);
        o.ambiguous = group[1..].iter().map(|p| p.id.clone()).collect();
        out.push(o);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Nodes, specs, diff.
// ---------------------------------------------------------------------------------------------

pub fn address(name: &str) -> String {
    format!("user_pools.{name}")
}

pub fn nodes(stack: &Stack) -> Vec<NodeDef> {
    stack
        .user_pools
        .keys()
        .map(|name| NodeDef {
            address: address(name),
            key: Key::UserPool(name.clone()),
            deps: vec![],
        })
        .collect()
}

pub fn spec(stack: &Stack, key: &Key, _r: &Resolver, _env: &LiveEnv) -> AnySpec {
    let Key::UserPool(name) = key else {
        unreachable!("user_pool::spec called for {key:?}")
    };
    let p = &stack.user_pools[name];
    AnySpec::UserPool(Spec {
        name: name.clone(),
        username_attributes: p.username_attributes.clone(),
        auto_verified_attributes: p.auto_verified_attributes.clone(),
        deletion_protection: p.deletion_protection,
        tags: crate::engine::stack_tags(stack),
        pos: p.pos,
    })
}

const LOSES_USERS: &str = "DELETES THE POOL AND ALL ITS USERS (accounts, passwords, groups, app clients); this cannot be undone";

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v.dedup();
    v
}

pub fn diff(
    address: &str,
    spec: Option<&Spec>,
    observed: Option<&Observed>,
) -> Result<Option<Change>, PlanError> {
    let err = |pos: Pos, message: String| PlanError {
        address: address.to_string(),
        pos,
        message,
    };
    if let Some(o) = observed.filter(|o| !o.ambiguous.is_empty()) {
        let ids = std::iter::once(o.id.as_str())
            .chain(o.ambiguous.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(", ");
        let whose = if o.owned {
            "carry this stack's tag"
        } else {
            "have no owner tag"
        };
        return Err(err(
            spec.map_or(Pos::default(), |s| s.pos),
            format!(
                "several user pools named `{}` {whose} ({ids}); deploy cannot tell which one is meant: delete or rename the extra ones",
                o.name
            ),
        ));
    }
    let Some(s) = spec else {
        let Some(o) = observed.filter(|o| o.owned) else {
            return Ok(None);
        };
        if o.deletion_protection {
            return Err(err(
                Pos::default(),
                format!(
                    "deletion protection is active on user pool {}: put it back in stack.yaml with `deletion_protection: false` and apply, then remove it",
                    o.id
                ),
            ));
        }
        return Ok(Some(Change::new(address, Action::Delete).note(LOSES_USERS)));
    };
    let o = observed;
    let mut d = Diff::new();
    d.value(
        "username_attributes",
        o.map(|o| list(&sorted(&o.username_attributes))),
        s.username_attributes.as_ref().map(|v| list(&sorted(v))),
        true,
    );
    d.value(
        "auto_verified_attributes",
        o.map(|o| list(&sorted(&o.auto_verified_attributes))),
        s.auto_verified_attributes
            .as_ref()
            .map(|v| list(&sorted(v))),
        false,
    );
    d.value(
        "deletion_protection",
        o.map(|o| o.deletion_protection),
        s.deletion_protection,
        false,
    );
    tag_diff(
        &mut d,
        &o.map(|o| o.tags.clone()).unwrap_or_default(),
        &s.tags,
    );
    let Some(o) = o else {
        return Ok(Some(d.into_create(address)));
    };
    if d.forces_replacement() {
        if !o.owned {
            return Err(err(
                s.pos,
                format!(
                    "the existing pool {} has username_attributes {} and AWS cannot change them; adopting it with {} would mean deleting it and all its users: write its current value in stack.yaml",
                    o.id,
                    list(&o.username_attributes),
                    list(s.username_attributes.as_deref().unwrap_or_default())
                ),
            ));
        }
        if o.deletion_protection && s.deletion_protection != Some(false) {
            return Err(err(
                s.pos,
                format!(
                    "username_attributes cannot change in place, so pool {} would be replaced, but its deletion protection is active: set `deletion_protection: false` to allow it (this deletes all its users)",
                    o.id
                ),
            ));
        }
    }
    let change = owned_change(address, d, o.owned).map(|c| match c.action {
        Action::Replace => c.note(format!(
            "username_attributes cannot change after creation: the pool is replaced. {LOSES_USERS}. The new pool gets a new id"
        )),
        Action::Adopt if !o.triggers.is_empty() => {
            let events: Vec<&str> = o.triggers.iter().map(|(e, _)| e.as_str()).collect();
            c.note(format!(
                "once adopted, every trigger slot of this pool is managed by this stack: slots set now ({}) that cognito_triggers does not declare will be removed by the next apply",
                events.join(", ")
            ))
        }
        _ => c,
    });
    Ok(change)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::value::Shown;

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
    fn legacy_unused_account_days_are_dropped_only_next_to_temporary_password_days() {
        let pool = rich_pool();
        let r = update_request(&pool, &Edits::default());
        assert_eq!(
            r.settings
                .admin_create_user_config
                .unwrap()
                .unused_account_validity_days,
            0
        );
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
        assert_eq!(
            r.settings
                .admin_create_user_config
                .unwrap()
                .unused_account_validity_days,
            3
        );
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

    #[test]
    fn username_attributes_fall_back_to_the_creation_tag() {
        let mut pool = rich_pool();
        pool.username_attributes = vec![];
        assert!(pool.observed("s").username_attributes.is_empty());
        pool.settings
            .tags
            .as_mut()
            .unwrap()
            .insert(USERNAME_TAG.into(), "phone_number email".into());
        assert_eq!(
            pool.observed("s").username_attributes,
            vec!["email", "phone_number"]
        );
        pool.username_attributes = vec!["email".into()];
        assert_eq!(pool.observed("s").username_attributes, vec!["email"]);
        let spec = pool_spec(Some(vec!["phone_number", "email"]));
        assert_eq!(create_tags(&spec)[USERNAME_TAG], "email phone_number");
        assert!(!create_tags(&pool_spec(None)).contains_key(USERNAME_TAG));
    }

    fn described(id: &str, name: &str, t: &[(&str, &str)]) -> PoolDescription {
        PoolDescription {
            id: id.into(),
            name: name.into(),
            arn: format!("arn:aws:cognito-idp:us-east-1:1:userpool/{id}"),
            settings: PoolSettings {
                tags: Some(tags(t)),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn select_prefers_owned_pools_and_adopts_only_declared_untagged_ones() {
        let pools = vec![
            described("p1", "app", &[]),
            described("p2", "app", &[(STACK_TAG, "s")]),
            described("p3", "other-stack", &[(STACK_TAG, "t")]),
            described("p4", "loose", &[]),
            described("p5", "orphan", &[(STACK_TAG, "s")]),
            described("p6", "twin", &[]),
            described("p7", "twin", &[]),
            described("p8", "other-stack-declared", &[(STACK_TAG, "t")]),
        ];
        let declared: BTreeSet<String> = ["app", "twin", "other-stack-declared"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = select("s", &declared, &pools);
        let summary: Vec<(&str, &str, bool, Vec<String>)> = got
            .iter()
            .map(|o| (o.name.as_str(), o.id.as_str(), o.owned, o.ambiguous.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("app", "p2", true, vec![]),
                ("orphan", "p5", true, vec![]),
                ("twin", "p6", false, vec!["p7".to_string()]),
            ]
        );
    }

    fn pool_spec(username: Option<Vec<&str>>) -> Spec {
        Spec {
            name: "pool".into(),
            username_attributes: username.map(|v| v.into_iter().map(str::to_string).collect()),
            auto_verified_attributes: Some(vec!["email".into()]),
            deletion_protection: None,
            tags: tags(&[(STACK_TAG, "s")]),
            pos: Pos { line: 7, col: 3 },
        }
    }

    fn live(owned: bool) -> Observed {
        Observed {
            id: "us-east-1_abc".into(),
            arn: "arn:p".into(),
            name: "pool".into(),
            username_attributes: vec!["email".into()],
            auto_verified_attributes: vec!["email".into()],
            deletion_protection: false,
            tags: if owned {
                tags(&[(STACK_TAG, "s")])
            } else {
                BTreeMap::new()
            },
            owned,
            triggers: vec![],
            ambiguous: vec![],
        }
    }

    #[test]
    fn create_lists_the_managed_fields() {
        let c = diff(
            "user_pools.pool",
            Some(&pool_spec(Some(vec!["email"]))),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.action, Action::Create);
        let paths: Vec<&str> = c.fields.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "username_attributes",
                "auto_verified_attributes",
                "tags.deploy:stack"
            ]
        );
        assert_eq!(c.fields[0].after, Shown::value("[email]"));
    }

    #[test]
    fn matching_pool_is_no_change_and_unmanaged_fields_are_not_diffed() {
        assert!(
            diff(
                "a",
                Some(&pool_spec(Some(vec!["email"]))),
                Some(&live(true))
            )
            .unwrap()
            .is_none()
        );
        let mut s = pool_spec(None);
        s.auto_verified_attributes = None;
        let mut o = live(true);
        o.deletion_protection = true;
        o.auto_verified_attributes = vec![];
        o.tags.insert("extra".into(), "kept".into());
        assert!(diff("a", Some(&s), Some(&o)).unwrap().is_none());
    }

    #[test]
    fn verification_protection_and_tags_update_in_place() {
        let mut s = pool_spec(Some(vec!["email"]));
        s.auto_verified_attributes = Some(vec!["email".into(), "phone_number".into()]);
        s.deletion_protection = Some(true);
        s.tags.insert("project".into(), "x".into());
        let mut o = live(true);
        o.tags.insert("project".into(), "drifted".into());
        let c = diff("a", Some(&s), Some(&o)).unwrap().unwrap();
        assert_eq!(c.action, Action::Update);
        let f: Vec<(&str, Shown, Shown)> = c
            .fields
            .iter()
            .map(|f| (f.path.as_str(), f.before.clone(), f.after.clone()))
            .collect();
        assert_eq!(
            f,
            vec![
                (
                    "auto_verified_attributes",
                    Shown::value("[email]"),
                    Shown::value("[email, phone_number]")
                ),
                (
                    "deletion_protection",
                    Shown::value("false"),
                    Shown::value("true")
                ),
                ("tags.project", Shown::value("drifted"), Shown::value("x")),
            ]
        );
    }

    #[test]
    fn username_attributes_force_a_loud_replace() {
        let c = diff(
            "a",
            Some(&pool_spec(Some(vec!["phone_number"]))),
            Some(&live(true)),
        )
        .unwrap()
        .unwrap();
        assert_eq!(c.action, Action::Replace);
        let f = c.field("username_attributes").unwrap();
        assert!(f.forces_replacement);
        assert!(
            c.notes.iter().any(|n| n.contains("ALL ITS USERS")),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn deletion_protection_blocks_replace_and_delete() {
        let mut o = live(true);
        o.deletion_protection = true;
        let e = diff("a", Some(&pool_spec(Some(vec!["phone_number"]))), Some(&o)).unwrap_err();
        assert_eq!(e.pos, Pos { line: 7, col: 3 });
        assert!(e.message.contains("deletion protection"), "{}", e.message);
        // Turning it off in the file allows the replace (apply turns it off first).
        let mut s = pool_spec(Some(vec!["phone_number"]));
        s.deletion_protection = Some(false);
        assert_eq!(
            diff("a", Some(&s), Some(&o)).unwrap().unwrap().action,
            Action::Replace
        );
        let e = diff("a", None, Some(&o)).unwrap_err();
        assert!(
            e.message.contains("deletion_protection: false"),
            "{}",
            e.message
        );
    }

    #[test]
    fn delete_only_what_is_owned() {
        let c = diff("a", None, Some(&live(true))).unwrap().unwrap();
        assert_eq!(c.action, Action::Delete);
        assert!(c.notes[0].contains("ALL ITS USERS"));
        assert!(diff("a", None, Some(&live(false))).unwrap().is_none());
        assert!(diff("a", None, None).unwrap().is_none());
    }

    #[test]
    fn untagged_pool_is_adopted_but_never_replaced() {
        let mut o = live(false);
        o.triggers = vec![("pre_sign_up".into(), "arn:f".into())];
        let c = diff("a", Some(&pool_spec(Some(vec!["email"]))), Some(&o))
            .unwrap()
            .unwrap();
        assert_eq!(c.action, Action::Adopt);
        assert_eq!(c.fields[0].path, "tags.deploy:stack");
        assert!(
            c.notes.iter().any(|n| n.contains("pre_sign_up")),
            "{:?}",
            c.notes
        );
        let e = diff("a", Some(&pool_spec(Some(vec!["phone_number"]))), Some(&o)).unwrap_err();
        assert!(
            e.message.contains("write its current value"),
            "{}",
            e.message
        );
    }

    #[test]
    fn ambiguous_pools_are_a_plan_error_naming_every_id() {
        let mut o = live(false);
        o.ambiguous = vec!["us-east-1_def".into()];
        let e = diff("user_pools.pool", Some(&pool_spec(None)), Some(&o)).unwrap_err();
        assert!(
            e.message.contains("us-east-1_abc") && e.message.contains("us-east-1_def"),
            "{}",
            e.message
        );
        assert_eq!(e.pos, Pos { line: 7, col: 3 });
    }
}
