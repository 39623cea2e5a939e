//! Cognito user pool calls both Cognito kinds make: DescribeUserPool normalised into
//! [`super`]'s model, the whole-pool read-modify-write (UpdateUserPool resets what it is
//! not sent), and removing the invoke permission a trigger gave a function.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

use aws_sdk_cognitoidentityprovider as cip;
use cip::types as t;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;

use super::{self as m, Edits, PoolDescription, PoolSettings, UpdateRequest};
use crate::aws::Clients;
use crate::error::{AwsKind, Error, Result, kind_of};
use crate::resources::core::Ctx;

pub(crate) async fn describe_raw(
    clients: &Clients,
    address: &str,
    id: &str,
) -> Result<Option<t::UserPoolType>> {
    match clients
        .cognito
        .describe_user_pool()
        .user_pool_id(id)
        .send()
        .await
    {
        Ok(out) => Ok(out.user_pool),
        Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => Ok(None),
        Err(e) => Err(Error::aws("DescribeUserPool", address, e)),
    }
}

/// A fresh DescribeUserPool of one pool, normalised; `None` when the pool is gone.
pub async fn describe(
    clients: &Clients,
    address: &str,
    id: &str,
) -> Result<Option<PoolDescription>> {
    Ok(describe_raw(clients, address, id)
        .await?
        .map(|p| normalise(&p, &clients.region, None)))
}

fn strings<T: AsRef<str>>(v: &Option<Vec<T>>) -> Option<Vec<String>> {
    v.as_ref()
        .map(|v| v.iter().map(|x| x.as_ref().to_string()).collect())
}

fn s<T: AsRef<str>>(v: &Option<T>) -> Option<String> {
    v.as_ref().map(|x| x.as_ref().to_string())
}

/// DescribeUserPool's answer in our own types, losing nothing UpdateUserPool can take.
pub fn normalise(p: &t::UserPoolType, region: &str, account: Option<&str>) -> PoolDescription {
    let id = p.id.clone().unwrap_or_default();
    let arn = p.arn.clone().unwrap_or_else(|| {
        // Only reachable on an API that omits Arn; the pool's region is the client's.
        format!(
            "arn:aws:cognito-idp:{region}:{}:userpool/{id}",
            account.unwrap_or("")
        )
    });
    let policies = p.policies.as_ref().map(|x| m::Policies {
        password_policy: x.password_policy.as_ref().map(|pp| m::PasswordPolicy {
            minimum_length: pp.minimum_length,
            require_uppercase: pp.require_uppercase,
            require_lowercase: pp.require_lowercase,
            require_numbers: pp.require_numbers,
            require_symbols: pp.require_symbols,
            password_history_size: pp.password_history_size,
            temporary_password_validity_days: pp.temporary_password_validity_days,
        }),
        sign_in_policy: x.sign_in_policy.as_ref().map(|sp| m::SignInPolicy {
            allowed_first_auth_factors: strings(&sp.allowed_first_auth_factors),
        }),
    });
    let lambda_config = p.lambda_config.as_ref().map(|lc| {
        let mut triggers = BTreeMap::new();
        let plain: [(&str, &Option<String>); 10] = [
            ("PreSignUp", &lc.pre_sign_up),
            ("CustomMessage", &lc.custom_message),
            ("PostConfirmation", &lc.post_confirmation),
            ("PreAuthentication", &lc.pre_authentication),
            ("PostAuthentication", &lc.post_authentication),
            ("DefineAuthChallenge", &lc.define_auth_challenge),
            ("CreateAuthChallenge", &lc.create_auth_challenge),
            (
                "VerifyAuthChallengeResponse",
                &lc.verify_auth_challenge_response,
            ),
            ("PreTokenGeneration", &lc.pre_token_generation),
            ("UserMigration", &lc.user_migration),
        ];
        for (field, v) in plain {
            if let Some(arn) = v {
                triggers.insert(field.to_string(), arn.clone());
            }
        }
        m::LambdaConfig {
            triggers,
            pre_token_generation_config: lc.pre_token_generation_config.as_ref().map(|c| {
                m::VersionedLambda {
                    version: c.lambda_version.as_str().to_string(),
                    arn: c.lambda_arn.clone(),
                }
            }),
            custom_sms_sender: lc.custom_sms_sender.as_ref().map(|c| m::VersionedLambda {
                version: c.lambda_version.as_str().to_string(),
                arn: c.lambda_arn.clone(),
            }),
            custom_email_sender: lc.custom_email_sender.as_ref().map(|c| m::VersionedLambda {
                version: c.lambda_version.as_str().to_string(),
                arn: c.lambda_arn.clone(),
            }),
            inbound_federation: lc.inbound_federation.as_ref().map(|c| m::VersionedLambda {
                version: c.lambda_version.as_str().to_string(),
                arn: c.lambda_arn.clone(),
            }),
            kms_key_id: lc.kms_key_id.clone(),
        }
    });
    let settings = PoolSettings {
        policies,
        deletion_protection: s(&p.deletion_protection),
        lambda_config,
        auto_verified_attributes: strings(&p.auto_verified_attributes),
        sms_verification_message: p.sms_verification_message.clone(),
        email_verification_message: p.email_verification_message.clone(),
        email_verification_subject: p.email_verification_subject.clone(),
        verification_message_template: p.verification_message_template.as_ref().map(|v| {
            m::VerificationMessageTemplate {
                sms_message: v.sms_message.clone(),
                email_message: v.email_message.clone(),
                email_subject: v.email_subject.clone(),
                email_message_by_link: v.email_message_by_link.clone(),
                email_subject_by_link: v.email_subject_by_link.clone(),
                default_email_option: s(&v.default_email_option),
            }
        }),
        sms_authentication_message: p.sms_authentication_message.clone(),
        user_attribute_update_settings: p.user_attribute_update_settings.as_ref().map(|u| {
            m::UserAttributeUpdateSettings {
                attributes_require_verification_before_update: strings(
                    &u.attributes_require_verification_before_update,
                ),
            }
        }),
        mfa_configuration: s(&p.mfa_configuration),
        device_configuration: p
            .device_configuration
            .as_ref()
            .map(|d| m::DeviceConfiguration {
                challenge_required_on_new_device: d.challenge_required_on_new_device,
                device_only_remembered_on_user_prompt: d.device_only_remembered_on_user_prompt,
            }),
        email_configuration: p
            .email_configuration
            .as_ref()
            .map(|e| m::EmailConfiguration {
                source_arn: e.source_arn.clone(),
                reply_to_email_address: e.reply_to_email_address.clone(),
                email_sending_account: s(&e.email_sending_account),
                from: e.from.clone(),
                configuration_set: e.configuration_set.clone(),
            }),
        sms_configuration: p.sms_configuration.as_ref().map(|c| m::SmsConfiguration {
            sns_caller_arn: c.sns_caller_arn.clone(),
            external_id: c.external_id.clone(),
            sns_region: c.sns_region.clone(),
            eums_sms: c.eums_sms.as_ref().map(|e| m::EumsSmsConfiguration {
                caller_arn: e.caller_arn.clone(),
                external_id: e.external_id.clone(),
                origination_identity: e.origination_identity.clone(),
                configuration_set_name: e.configuration_set_name.clone(),
                in_entity_id: e.in_entity_id.clone(),
                in_template_id: e.in_template_id.clone(),
                region: e.region.clone(),
            }),
        }),
        tags: p
            .user_pool_tags
            .as_ref()
            .map(|h| h.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        admin_create_user_config: p.admin_create_user_config.as_ref().map(|a| {
            m::AdminCreateUserConfig {
                allow_admin_create_user_only: a.allow_admin_create_user_only,
                unused_account_validity_days: a.unused_account_validity_days,
                invite_message_template: a.invite_message_template.as_ref().map(|i| {
                    m::MessageTemplate {
                        sms_message: i.sms_message.clone(),
                        email_message: i.email_message.clone(),
                        email_subject: i.email_subject.clone(),
                    }
                }),
            }
        }),
        user_pool_add_ons: p.user_pool_add_ons.as_ref().map(|a| m::UserPoolAddOns {
            advanced_security_mode: a.advanced_security_mode.as_str().to_string(),
            advanced_security_additional_flows: a.advanced_security_additional_flows.as_ref().map(
                |f| m::AdvancedSecurityAdditionalFlows {
                    custom_auth_mode: s(&f.custom_auth_mode),
                },
            ),
        }),
        account_recovery_setting: p.account_recovery_setting.as_ref().map(|a| {
            m::AccountRecoverySetting {
                recovery_mechanisms: a.recovery_mechanisms.as_ref().map(|v| {
                    v.iter()
                        .map(|r| m::RecoveryOption {
                            priority: r.priority,
                            name: r.name.as_str().to_string(),
                        })
                        .collect()
                }),
            }
        }),
        pool_name: p.name.clone(),
        user_pool_tier: s(&p.user_pool_tier),
        key_configuration: p.key_configuration.as_ref().map(|k| m::KeyConfiguration {
            key_type: s(&k.key_type),
            kms_key_arn: k.kms_key_arn.clone(),
        }),
        issuer_configuration: p
            .issuer_configuration
            .as_ref()
            .map(|i| m::IssuerConfiguration {
                issuer_type: s(&i.r#type),
            }),
        acr_configuration: p.acr_configuration.as_ref().map(|h| {
            h.iter()
                .map(|(k, v)| (k.clone(), v.acr_value.clone()))
                .collect()
        }),
    };
    PoolDescription {
        id,
        name: p.name.clone().unwrap_or_default(),
        arn,
        username_attributes: strings(&p.username_attributes).unwrap_or_default(),
        settings,
    }
}

pub fn enums<T: for<'a> From<&'a str>>(v: &Option<Vec<String>>) -> Option<Vec<T>> {
    v.as_ref()
        .map(|v| v.iter().map(|x| T::from(x.as_str())).collect())
}

fn built<T>(
    address: &str,
    r: std::result::Result<T, aws_smithy_types::error::operation::BuildError>,
) -> Result<T> {
    r.map_err(|e| {
        Error::other(format!(
            "{address}: cannot build the UpdateUserPool request: {e}"
        ))
    })
}

/// The SDK call for a whole request: every field copied, none defaulted. The nested settings that
/// can fail to build (a required member missing) are converted by the functions below it.
fn update_call(
    clients: &Clients,
    address: &str,
    r: &UpdateRequest,
) -> Result<cip::operation::update_user_pool::builders::UpdateUserPoolFluentBuilder> {
    let st = &r.settings;
    let lambda_config = st
        .lambda_config
        .as_ref()
        .map(|lc| lambda_config(address, lc))
        .transpose()?;
    let sms_configuration = st
        .sms_configuration
        .as_ref()
        .map(|c| sms_configuration(address, c))
        .transpose()?;
    let add_ons = st
        .user_pool_add_ons
        .as_ref()
        .map(|a| add_ons(address, a))
        .transpose()?;
    let account_recovery = st
        .account_recovery_setting
        .as_ref()
        .map(|a| account_recovery(address, a))
        .transpose()?;
    let acr = st
        .acr_configuration
        .as_ref()
        .map(|m| acr_configuration(address, m))
        .transpose()?;
    Ok(clients
        .cognito
        .update_user_pool()
        .user_pool_id(&r.pool_id)
        .set_policies(st.policies.as_ref().map(policies))
        .set_deletion_protection(st.deletion_protection.as_deref().map(Into::into))
        .set_lambda_config(lambda_config)
        .set_auto_verified_attributes(enums(&st.auto_verified_attributes))
        .set_sms_verification_message(st.sms_verification_message.clone())
        .set_email_verification_message(st.email_verification_message.clone())
        .set_email_verification_subject(st.email_verification_subject.clone())
        .set_verification_message_template(st.verification_message_template.as_ref().map(|v| {
            t::VerificationMessageTemplateType::builder()
                .set_sms_message(v.sms_message.clone())
                .set_email_message(v.email_message.clone())
                .set_email_subject(v.email_subject.clone())
                .set_email_message_by_link(v.email_message_by_link.clone())
                .set_email_subject_by_link(v.email_subject_by_link.clone())
                .set_default_email_option(v.default_email_option.as_deref().map(Into::into))
                .build()
        }))
        .set_sms_authentication_message(st.sms_authentication_message.clone())
        .set_user_attribute_update_settings(st.user_attribute_update_settings.as_ref().map(|u| {
            t::UserAttributeUpdateSettingsType::builder()
                .set_attributes_require_verification_before_update(enums(
                    &u.attributes_require_verification_before_update,
                ))
                .build()
        }))
        .set_mfa_configuration(st.mfa_configuration.as_deref().map(Into::into))
        .set_device_configuration(st.device_configuration.as_ref().map(|d| {
            t::DeviceConfigurationType::builder()
                .challenge_required_on_new_device(d.challenge_required_on_new_device)
                .device_only_remembered_on_user_prompt(d.device_only_remembered_on_user_prompt)
                .build()
        }))
        .set_email_configuration(st.email_configuration.as_ref().map(|e| {
            t::EmailConfigurationType::builder()
                .set_source_arn(e.source_arn.clone())
                .set_reply_to_email_address(e.reply_to_email_address.clone())
                .set_email_sending_account(e.email_sending_account.as_deref().map(Into::into))
                .set_from(e.from.clone())
                .set_configuration_set(e.configuration_set.clone())
                .build()
        }))
        .set_sms_configuration(sms_configuration)
        .set_user_pool_tags(st.tags.as_ref().map(|m| m.clone().into_iter().collect()))
        .set_admin_create_user_config(st.admin_create_user_config.as_ref().map(|a| {
            t::AdminCreateUserConfigType::builder()
                .allow_admin_create_user_only(a.allow_admin_create_user_only)
                .unused_account_validity_days(a.unused_account_validity_days)
                .set_invite_message_template(a.invite_message_template.as_ref().map(|i| {
                    t::MessageTemplateType::builder()
                        .set_sms_message(i.sms_message.clone())
                        .set_email_message(i.email_message.clone())
                        .set_email_subject(i.email_subject.clone())
                        .build()
                }))
                .build()
        }))
        .set_user_pool_add_ons(add_ons)
        .set_account_recovery_setting(account_recovery)
        .set_pool_name(st.pool_name.clone())
        .set_user_pool_tier(st.user_pool_tier.as_deref().map(Into::into))
        .set_key_configuration(st.key_configuration.as_ref().map(|k| {
            t::KeyConfigurationType::builder()
                .set_key_type(k.key_type.as_deref().map(Into::into))
                .set_kms_key_arn(k.kms_key_arn.clone())
                .build()
        }))
        .set_issuer_configuration(st.issuer_configuration.as_ref().map(|i| {
            t::IssuerConfigurationType::builder()
                .set_type(i.issuer_type.as_deref().map(Into::into))
                .build()
        }))
        .set_acr_configuration(acr))
}

/// The trigger slots, and the versioned senders whose builders require both members.
fn lambda_config(address: &str, lc: &m::LambdaConfig) -> Result<t::LambdaConfigType> {
    let versioned = |v: &m::VersionedLambda| (v.version.as_str().to_string(), v.arn.clone());
    let slot = |f: &str| lc.triggers.get(f).cloned();
    let mut b = t::LambdaConfigType::builder()
        .set_pre_sign_up(slot("PreSignUp"))
        .set_custom_message(slot("CustomMessage"))
        .set_post_confirmation(slot("PostConfirmation"))
        .set_pre_authentication(slot("PreAuthentication"))
        .set_post_authentication(slot("PostAuthentication"))
        .set_define_auth_challenge(slot("DefineAuthChallenge"))
        .set_create_auth_challenge(slot("CreateAuthChallenge"))
        .set_verify_auth_challenge_response(slot("VerifyAuthChallengeResponse"))
        .set_pre_token_generation(slot("PreTokenGeneration"))
        .set_user_migration(slot("UserMigration"))
        .set_kms_key_id(lc.kms_key_id.clone());
    if let Some((v, arn)) = lc.pre_token_generation_config.as_ref().map(versioned) {
        b = b.pre_token_generation_config(built(
            address,
            t::PreTokenGenerationVersionConfigType::builder()
                .lambda_version(v.as_str().into())
                .lambda_arn(arn)
                .build(),
        )?);
    }
    if let Some((v, arn)) = lc.custom_sms_sender.as_ref().map(versioned) {
        b = b.custom_sms_sender(built(
            address,
            t::CustomSmsLambdaVersionConfigType::builder()
                .lambda_version(v.as_str().into())
                .lambda_arn(arn)
                .build(),
        )?);
    }
    if let Some((v, arn)) = lc.custom_email_sender.as_ref().map(versioned) {
        b = b.custom_email_sender(built(
            address,
            t::CustomEmailLambdaVersionConfigType::builder()
                .lambda_version(v.as_str().into())
                .lambda_arn(arn)
                .build(),
        )?);
    }
    if let Some((v, arn)) = lc.inbound_federation.as_ref().map(versioned) {
        b = b.inbound_federation(built(
            address,
            t::InboundFederationLambdaType::builder()
                .lambda_version(v.as_str().into())
                .lambda_arn(arn)
                .build(),
        )?);
    }
    Ok(b.build())
}

fn policies(p: &m::Policies) -> t::UserPoolPolicyType {
    t::UserPoolPolicyType::builder()
        .set_password_policy(p.password_policy.as_ref().map(|pp| {
            t::PasswordPolicyType::builder()
                .set_minimum_length(pp.minimum_length)
                .require_uppercase(pp.require_uppercase)
                .require_lowercase(pp.require_lowercase)
                .require_numbers(pp.require_numbers)
                .require_symbols(pp.require_symbols)
                .set_password_history_size(pp.password_history_size)
                .temporary_password_validity_days(pp.temporary_password_validity_days)
                .build()
        }))
        .set_sign_in_policy(p.sign_in_policy.as_ref().map(|sp| {
            t::SignInPolicyType::builder()
                .set_allowed_first_auth_factors(enums(&sp.allowed_first_auth_factors))
                .build()
        }))
        .build()
}

fn sms_configuration(address: &str, c: &m::SmsConfiguration) -> Result<t::SmsConfigurationType> {
    let eums = match &c.eums_sms {
        None => None,
        Some(e) => Some(built(
            address,
            t::EumsSmsConfigurationType::builder()
                .caller_arn(&e.caller_arn)
                .set_external_id(e.external_id.clone())
                .set_origination_identity(e.origination_identity.clone())
                .set_configuration_set_name(e.configuration_set_name.clone())
                .set_in_entity_id(e.in_entity_id.clone())
                .set_in_template_id(e.in_template_id.clone())
                .set_region(e.region.clone())
                .build(),
        )?),
    };
    Ok(t::SmsConfigurationType::builder()
        .sns_caller_arn(&c.sns_caller_arn)
        .set_external_id(c.external_id.clone())
        .set_sns_region(c.sns_region.clone())
        .set_eums_sms(eums)
        .build())
}

fn add_ons(address: &str, a: &m::UserPoolAddOns) -> Result<t::UserPoolAddOnsType> {
    built(
        address,
        t::UserPoolAddOnsType::builder()
            .advanced_security_mode(a.advanced_security_mode.as_str().into())
            .set_advanced_security_additional_flows(
                a.advanced_security_additional_flows.as_ref().map(|f| {
                    t::AdvancedSecurityAdditionalFlowsType::builder()
                        .set_custom_auth_mode(f.custom_auth_mode.as_deref().map(Into::into))
                        .build()
                }),
            )
            .build(),
    )
}

fn account_recovery(
    address: &str,
    a: &m::AccountRecoverySetting,
) -> Result<t::AccountRecoverySettingType> {
    let mechanisms = match &a.recovery_mechanisms {
        None => None,
        Some(v) => Some(
            v.iter()
                .map(|r| {
                    built(
                        address,
                        t::RecoveryOptionType::builder()
                            .priority(r.priority)
                            .name(r.name.as_str().into())
                            .build(),
                    )
                })
                .collect::<Result<Vec<_>>>()?,
        ),
    };
    Ok(t::AccountRecoverySettingType::builder()
        .set_recovery_mechanisms(mechanisms)
        .build())
}

fn acr_configuration(
    address: &str,
    levels: &BTreeMap<String, String>,
) -> Result<HashMap<String, t::AcrLevelConfigType>> {
    levels
        .iter()
        .map(|(k, v)| {
            Ok((
                k.clone(),
                built(
                    address,
                    t::AcrLevelConfigType::builder().acr_value(v).build(),
                )?,
            ))
        })
        .collect()
}

/// Removes `AdminCreateUserConfig.UnusedAccountValidityDays` from UpdateUserPool's body before it
/// is signed. The SDK models the member as a plain `i32`, so its serialiser always writes it (a 0
/// included), and Cognito refuses it beside the password policy's TemporaryPasswordValidityDays
/// ("Please use TemporaryPasswordValidityDays in PasswordPolicy instead of
/// UnusedAccountValidityDays"; UpdateUserPool and AdminCreateUserConfigType in the Cognito API
/// reference mark it deprecated). The model carries the value in the password policy instead.
#[derive(Debug)]
struct NoLegacyValidityDays;

impl Intercept for NoLegacyValidityDays {
    fn name(&self) -> &'static str {
        "NoLegacyValidityDays"
    }

    fn modify_before_signing(
        &self,
        ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> std::result::Result<(), BoxError> {
        let request = ctx.request_mut();
        let Some(body) = request.body().bytes() else {
            return Ok(());
        };
        if let Some(stripped) = without_legacy_validity_days(body)? {
            request
                .headers_mut()
                .insert("Content-Length", stripped.len().to_string());
            *request.body_mut() = SdkBody::from(stripped);
        }
        Ok(())
    }
}

/// The body without the legacy member, or `None` when it holds none.
fn without_legacy_validity_days(body: &[u8]) -> serde_json::Result<Option<Vec<u8>>> {
    let mut doc: serde_json::Value = serde_json::from_slice(body)?;
    let removed = doc
        .get_mut("AdminCreateUserConfig")
        .and_then(serde_json::Value::as_object_mut)
        .and_then(|a| a.remove("UnusedAccountValidityDays"));
    match removed {
        None => Ok(None),
        Some(_) => serde_json::to_vec(&doc).map(Some),
    }
}

/// One async lock per pool id for the whole process: two nodes of one apply (two triggers of a
/// pool, or a pool and its trigger) must never interleave their read-modify-writes, or the later
/// write would put back what the earlier one changed.
static POOL_LOCKS: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

async fn lock_pool(id: &str) -> tokio::sync::OwnedMutexGuard<()> {
    let lock = {
        let mut map = POOL_LOCKS.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(id.to_string()).or_default().clone()
    };
    lock.lock_owned().await
}

/// Reads the pool afresh, applies the edits `edit` computes from that reading, and writes the
/// whole pool back (nothing is written when the edits change nothing). Returns the pool as read
/// after the write, or `None` when the pool no longer exists.
pub async fn read_modify_write(
    ctx: &Ctx<'_>,
    address: &str,
    pool_id: &str,
    edit: impl FnOnce(&PoolDescription) -> Edits,
) -> Result<Option<PoolDescription>> {
    let _guard = lock_pool(pool_id).await;
    let Some(current) = describe(ctx.clients, address, pool_id).await? else {
        return Ok(None);
    };
    let request = m::update_request(&current, &edit(&current));
    if request == m::update_request(&current, &Edits::default()) {
        return Ok(Some(current));
    }
    update_call(ctx.clients, address, &request)?
        .customize()
        .interceptor(NoLegacyValidityDays)
        .send()
        .await
        .map_err(|e| Error::aws("UpdateUserPool", address, e))?;
    let after = describe(ctx.clients, address, pool_id)
        .await?
        .ok_or_else(|| {
            Error::other(format!(
                "{address}: user pool {pool_id} disappeared during the update"
            ))
        })?;
    let lost = m::lost_settings(&request.settings, &after.settings);
    if !lost.is_empty() {
        ctx.progress.line(
            address,
            &format!(
                "warning: user pool {pool_id} did not keep these settings after UpdateUserPool: {}; check them in the console",
                lost.join(", ")
            ),
        );
    }
    Ok(Some(after))
}

/// Removes one statement; a missing function, policy or statement is success (moto answers an
/// unknown statement id with "No policy is associated with the given resource").
pub async fn remove_permission(
    clients: &Clients,
    address: &str,
    function: &str,
    sid: &str,
) -> Result<()> {
    match clients
        .lambda
        .remove_permission()
        .function_name(function)
        .statement_id(sid)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if kind_of(&e) == Some(AwsKind::NotFound) => Ok(()),
        Err(e) => Err(Error::aws("RemovePermission", address, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legacy_validity_days_leave_the_body_and_nothing_else_does() {
        let body = br#"{"UserPoolId":"p","AdminCreateUserConfig":{"AllowAdminCreateUserOnly":false,"UnusedAccountValidityDays":0},"Policies":{"PasswordPolicy":{"TemporaryPasswordValidityDays":7}}}"#;
        let out = without_legacy_validity_days(body).unwrap().unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({"UserPoolId": "p", "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": false}, "Policies": {"PasswordPolicy": {"TemporaryPasswordValidityDays": 7}}})
        );
        assert_eq!(
            without_legacy_validity_days(br#"{"UserPoolId":"p"}"#).unwrap(),
            None
        );
    }
}
