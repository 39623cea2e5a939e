//! Creates that AWS does not make unique by name: a user pool (names may repeat) and a layer
//! version (each publish is a new one). Sending such a call twice makes two. The SDK retries a
//! call whose answer was lost (connection closed, attempt timeout) as if nothing had happened,
//! so these are sent with its retries off, and [`create_once`] retries itself: after an answer
//! that may hide a success, it first looks for what the call made, and only sends again when
//! there is nothing.

use std::future::Future;
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::{AwsKind, Error, Result};

/// Sends at most this many times (the SDK's own setting for the other calls).
pub const ATTEMPTS: u32 = 5;

/// What one failed attempt tells about whether AWS acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Refused before acting (throttled): send again.
    Refused,
    /// Maybe acted: no answer, a timeout, or a server error. Look before sending again.
    Unknown,
    /// An answer that will not change: stop.
    Final,
}

pub fn classify<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> Failure {
    match e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            Failure::Unknown
        }
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = se.err().code().unwrap_or("");
            if status == 429 || AwsKind::of(code) == AwsKind::Throttled {
                Failure::Refused
            } else if status >= 500 {
                Failure::Unknown
            } else {
                Failure::Final
            }
        }
        _ => Failure::Final,
    }
}

/// Sends `send` (whose SDK retries must be off) until it succeeds, at most [`ATTEMPTS`] times;
/// after an attempt that may have acted, returns what `find` finds instead of sending again.
pub async fn create_once<T, E, S, SF, F, FF>(
    operation: &'static str,
    address: &str,
    mut send: S,
    mut find: F,
) -> Result<T>
where
    S: FnMut() -> SF,
    SF: Future<Output = std::result::Result<T, SdkError<E, HttpResponse>>>,
    F: FnMut() -> FF,
    FF: Future<Output = Result<Option<T>>>,
    E: ProvideErrorMetadata
        + aws_types::request_id::RequestId
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    let mut maybe_made = false;
    let mut attempt = 0;
    loop {
        if maybe_made && let Some(found) = find().await? {
            tracing::debug!("{address}: {operation} had acted though its answer was lost");
            return Ok(found);
        }
        attempt += 1;
        match send().await {
            Ok(v) => return Ok(v),
            Err(e) => match classify(&e) {
                Failure::Final => return Err(Error::aws(operation, address, e)),
                _ if attempt >= ATTEMPTS => {
                    // The last attempt may have acted too: what it made is the answer.
                    if classify(&e) == Failure::Unknown
                        && let Some(found) = find().await?
                    {
                        return Ok(found);
                    }
                    return Err(Error::aws(operation, address, e));
                }
                f => {
                    maybe_made |= f == Failure::Unknown;
                    tokio::time::sleep(backoff(attempt)).await;
                }
            },
        }
    }
}

/// 0.2 s, 0.4 s, 0.8 s, ... up to 5 s, with a jitter from the clock so that parallel steps
/// throttled together do not come back together.
fn backoff(attempt: u32) -> Duration {
    let base = 200u64.saturating_mul(1 << attempt.min(5)).min(5_000);
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_millis()))
        % (base / 2 + 1);
    Duration::from_millis(base / 2 + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::result::{ConnectorError, SdkError};
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;
    use std::cell::RefCell;

    type E = aws_sdk_cognitoidentityprovider::operation::create_user_pool::CreateUserPoolError;

    fn lost() -> SdkError<E, HttpResponse> {
        SdkError::dispatch_failure(ConnectorError::io("connection closed".into()))
    }

    fn service(status: u16, code: &str) -> SdkError<E, HttpResponse> {
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        let err = E::generic(ErrorMetadata::builder().code(code).message("m").build());
        SdkError::service_error(err, raw)
    }

    #[test]
    fn what_may_hide_a_success() {
        assert_eq!(classify(&lost()), Failure::Unknown);
        assert_eq!(classify(&service(500, "InternalError")), Failure::Unknown);
        assert_eq!(
            classify(&service(400, "TooManyRequestsException")),
            Failure::Refused
        );
        assert_eq!(classify(&service(429, "x")), Failure::Refused);
        assert_eq!(classify(&service(400, "InvalidParameter")), Failure::Final);
    }

    /// A lost answer: the thing was made; the retry finds it instead of making a second one.
    #[tokio::test(start_paused = true)]
    async fn a_lost_answer_is_looked_for_before_sending_again() {
        let made = RefCell::new(0);
        let r = create_once(
            "CreateUserPool",
            "user_pools.p",
            || async {
                *made.borrow_mut() += 1;
                Err::<u32, _>(lost())
            },
            || async { Ok((*made.borrow() > 0).then_some(7)) },
        )
        .await
        .unwrap();
        assert_eq!((r, *made.borrow()), (7, 1));
    }

    /// Throttled: nothing was made, nothing is looked for, it is sent again.
    #[tokio::test(start_paused = true)]
    async fn a_throttled_create_is_sent_again_without_looking() {
        let sent = RefCell::new(0);
        let looked = RefCell::new(0);
        let r = create_once(
            "CreateUserPool",
            "user_pools.p",
            || async {
                *sent.borrow_mut() += 1;
                if *sent.borrow() < 3 {
                    Err(service(400, "TooManyRequestsException"))
                } else {
                    Ok(1)
                }
            },
            || async {
                *looked.borrow_mut() += 1;
                Ok(None)
            },
        )
        .await
        .unwrap();
        assert_eq!((r, *sent.borrow(), *looked.borrow()), (1, 3, 0));
    }

    /// Lost, and nothing found: it was not made, so sending again is safe.
    #[tokio::test(start_paused = true)]
    async fn a_lost_request_that_made_nothing_is_sent_again() {
        let sent = RefCell::new(0);
        let r = create_once(
            "CreateUserPool",
            "user_pools.p",
            || async {
                *sent.borrow_mut() += 1;
                if *sent.borrow() == 1 {
                    Err(lost())
                } else {
                    Ok(2)
                }
            },
            || async { Ok(None) },
        )
        .await
        .unwrap();
        assert_eq!((r, *sent.borrow()), (2, 2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_final_error_is_not_retried() {
        let sent = RefCell::new(0);
        let e = create_once(
            "CreateUserPool",
            "user_pools.p",
            || async {
                *sent.borrow_mut() += 1;
                Err::<u32, _>(service(400, "InvalidParameterException"))
            },
            || async { Ok(None) },
        )
        .await
        .unwrap_err();
        assert_eq!(*sent.borrow(), 1);
        assert_eq!(e.aws_code(), Some("InvalidParameterException"));
    }
}
