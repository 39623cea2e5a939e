//! `deploy invoke`: runs a function once with a sample event of its trigger, or a file, and
//! prints its result and the tail of its log (Lambda's Invoke with `LogType=Tail`: the last
//! 4 KB of the run's log, base64, in the answer; Lambda API reference, Invoke).
//!
//! The post-confirmation event is the one Cognito sends after a user confirms a sign-up
//! (https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-post-confirmation.html),
//! for a generated user, so that the seed's manual check (sign up, then read the logs) is one
//! command.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use crate::aws::{AwsOptions, Clients};
use crate::error::{Error, Result};
use crate::stack::{FunctionRef, PoolRef, Stack};

pub const POST_CONFIRMATION: &str = "post-confirmation";

/// A Cognito `PostConfirmation_ConfirmSignUp` event for the user `n`.
pub fn post_confirmation_event(region: &str, pool_id: &str, n: u64) -> serde_json::Value {
    let sub = format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        n as u32,
        (n >> 32) as u16,
        n % 0xfff,
        (n >> 12) % 0xfff,
        n
    );
    serde_json::json!({
        "version": "1",
        "region": region,
        "userPoolId": pool_id,
        "userName": sub,
        "callerContext": {
            "awsSdkVersion": "aws-sdk-unknown-unknown",
            "clientId": "deploy-invoke"
        },
        "triggerSource": "PostConfirmation_ConfirmSignUp",
        "request": {
            "userAttributes": {
                "sub": sub,
                "cognito:user_status": "CONFIRMED",
                "email_verified": "true",
                "name": format!("Deploy Test {n}"),
                "preferred_username": format!("deploy-test-{n}"),
                "email": format!("deploy-test-{n}@example.com")
            }
        },
        "response": {}
    })
}

/// Whether a `post_confirmation` trigger of the file names `function`.
fn confirms_sign_ups<'a>(stack: &'a Stack, function: &str) -> Option<&'a PoolRef> {
    stack
        .cognito_triggers
        .iter()
        .find(|t| {
            t.event == "post_confirmation"
                && matches!(&t.function, FunctionRef::Stack(f) if f == function)
        })
        .map(|t| &t.user_pool)
}

pub async fn run(
    stack: &Stack,
    aws: &AwsOptions,
    function: &str,
    event: Option<&str>,
) -> Result<u8> {
    super::function_of_stack(stack, function)?;
    let event = match event {
        Some(e) => e.to_string(),
        None if confirms_sign_ups(stack, function).is_some() => POST_CONFIRMATION.to_string(),
        None => {
            return Err(Error::user(format!(
                "no trigger of {} sends `{function}` a sample event deploy knows: pass --event FILE (a JSON event) or --event {POST_CONFIRMATION}",
                stack.file.display()
            )));
        }
    };
    // The file is read before any AWS call: a bad one changes nothing.
    let from_file = if event == POST_CONFIRMATION {
        None
    } else {
        let text = std::fs::read_to_string(&event)
            .map_err(|e| Error::user(format!("--event {event}: {e}")))?;
        serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
            Error::user(format!(
                "--event {event}:{}:{}: not JSON: {e}",
                e.line(),
                e.column()
            ))
        })?;
        Some(text)
    };
    let clients = Clients::new(aws, stack.region.as_deref()).await?;
    let payload = match from_file {
        Some(text) => text,
        None => {
            let pool_id = match confirms_sign_ups(stack, function) {
                Some(PoolRef::External(id)) if id.contains('_') => id.clone(),
                _ => format!("{}_deployInvoke", clients.region),
            };
            let n = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let e = post_confirmation_event(&clients.region, &pool_id, n);
            eprintln!(
                "event: post-confirmation of generated user deploy-test-{n} (deploy-test-{n}@example.com)"
            );
            e.to_string()
        }
    };
    let out = clients
        .lambda
        .invoke()
        .function_name(function)
        .payload(aws_smithy_types::Blob::new(payload.into_bytes()))
        .log_type(aws_sdk_lambda::types::LogType::Tail)
        .send()
        .await
        .map_err(|e| Error::aws("Invoke", &format!("functions.{function}"), e))?;
    let result = out
        .payload()
        .map(|b| String::from_utf8_lossy(b.as_ref()).to_string())
        .unwrap_or_default();
    let shown = serde_json::from_str::<serde_json::Value>(&result)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(result);
    println!("{}", crate::redact::scrub(&shown));
    if let Some(tail) = out.log_result() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(tail)
            .unwrap_or_default();
        eprintln!("--- the log's tail (/aws/lambda/{function}) ---");
        eprint!("{}", crate::redact::scrub(&String::from_utf8_lossy(&bytes)));
    }
    match out.function_error() {
        Some(kind) => Err(Error::user(format!(
            "functions.{function} failed ({kind}): its error is above; `deploy logs {function}` shows the whole log"
        ))),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_post_confirmation_event_is_cognitos_with_a_generated_user() {
        let e = post_confirmation_event("us-east-1", "us-east-1_abc", 1_765_000_000_123);
        assert_eq!(e["triggerSource"], "PostConfirmation_ConfirmSignUp");
        let a = &e["request"]["userAttributes"];
        assert_eq!(a["preferred_username"], "deploy-test-1765000000123");
        assert_eq!(a["email"], "deploy-test-1765000000123@example.com");
        assert_eq!(a["sub"], e["userName"]);
        assert_eq!(a["sub"].as_str().unwrap().len(), 36);
        assert_eq!(e["userPoolId"], "us-east-1_abc");
    }
}
