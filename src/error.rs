//! The crate's error type, and how each error reaches the user.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;

use crate::plan::PlanError;
use crate::stack::LoadError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The stack file is invalid; nothing was sent to AWS.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The plan asks for something AWS would reject; nothing was changed.
    #[error("{}", PlanErrors(.file.clone(), .errors))]
    Plan {
        file: String,
        errors: Vec<PlanError>,
    },
    /// An AWS call failed.
    #[error("{address}: {operation} failed: {code}: {message}")]
    Aws {
        address: String,
        operation: &'static str,
        code: String,
        message: String,
    },
    /// The user must do something first (a flag, a confirmation, a file).
    #[error("{0}")]
    User(String),
    /// A wait ran out of time or AWS reported a failed state.
    #[error("{address}: {message}")]
    Wait { address: String, message: String },
    /// A saved plan is refused before any write: stale, edited, or not the expected digest.
    #[error("{0}")]
    Refused(String),
    /// The stack is locked by another run (also when `--lock-timeout` ran out); nothing was read.
    #[error("{0}")]
    Locked(String),
    #[error("{0}")]
    Other(String),
}

struct PlanErrors<'a>(String, &'a [PlanError]);

impl fmt::Display for PlanErrors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.1.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if e.pos.line > 0 {
                write!(
                    f,
                    "{}:{}:{}: {}: {}",
                    self.0, e.pos.line, e.pos.col, e.address, e.message
                )?;
            } else {
                write!(f, "{}: {}", e.address, e.message)?;
            }
        }
        Ok(())
    }
}

impl Error {
    /// Wraps a failed SDK call, keeping AWS's error code and message. Connection failures have no
    /// code; their cause chain is what tells the user that the endpoint is wrong.
    pub fn aws<E>(operation: &'static str, address: &str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + RequestId + std::error::Error + Send + Sync + 'static,
    {
        let (code, message) = match &err {
            SdkError::ServiceError(se) => {
                let message = err.message().unwrap_or_default().trim().to_string();
                let message = if message.is_empty() {
                    // Some AWS errors carry only a code (or nothing at all); what support and the
                    // user can still act on is who answered, with what status, under which id.
                    format!(
                        "AWS gave no message ({} {operation}, HTTP {}, request id {})",
                        service_of::<E>(),
                        se.raw().status().as_u16(),
                        se.raw()
                            .request_id()
                            .or(se.err().request_id())
                            .map(str::to_string)
                            .or_else(|| se.raw().body().bytes().and_then(request_id_in_body))
                            .unwrap_or_else(|| "none".into())
                    )
                } else {
                    message
                };
                (err.code().unwrap_or("Unknown").to_string(), message)
            }
            SdkError::DispatchFailure(_) => (
                "ConnectionFailed".to_string(),
                format!(
                    "{} (check --endpoint-url / AWS_ENDPOINT_URL, the network, and --region)",
                    cause_chain(&err)
                ),
            ),
            SdkError::TimeoutError(_) => ("Timeout".into(), "the request timed out".into()),
            // An answer the SDK could not read (not the JSON or XML the service speaks: a proxy's
            // or a captive portal's page, say): who answered, with what status, under which id,
            // and why it was unreadable, without the raw response's dump.
            SdkError::ResponseError(re) => (
                "InvalidResponse".to_string(),
                format!(
                    "the answer could not be read ({} {operation}, HTTP {}, request id {}): {}",
                    service_of::<E>(),
                    re.raw().status().as_u16(),
                    re.raw()
                        .headers()
                        .get("x-amzn-requestid")
                        .or_else(|| re.raw().headers().get("x-amz-request-id"))
                        .map(str::to_string)
                        .or_else(|| re.raw().body().bytes().and_then(request_id_in_body))
                        .unwrap_or_else(|| "none".into()),
                    cause_chain(&err)
                ),
            ),
            _ => (
                err.code().unwrap_or("Unknown").to_string(),
                aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
            ),
        };
        // Retried already (`crate::aws`'s ConcurrentUpdate classifier): say what it means.
        let message = match code.as_str() {
            "ConcurrentModification" => format!(
                "{message} (IAM was still applying another change to this entity after several attempts: run again in a minute)"
            ),
            "TooManyUpdates" => format!(
                "{message} (another writer kept updating the same SSM parameter, such as two runs taking the lock at once: run again)"
            ),
            _ => message,
        };
        Error::Aws {
            address: address.to_string(),
            operation,
            code,
            message,
        }
    }

    /// What the process exits with (spec section 5): 3 when the stack is locked and 4 for a
    /// refused saved plan, so that CI can tell "try later" and "plan again" from a failure; 1 for
    /// every other error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Locked(_) => 3,
            Error::Refused(_) => 4,
            _ => 1,
        }
    }

    /// The AWS error code, when this is an AWS error.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            Error::Aws { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// EC2's query protocol puts the request id only in the XML body (`<RequestID>`).
fn request_id_in_body(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    ["<RequestID>", "<RequestId>"].iter().find_map(|open| {
        let rest = &text[text.find(open)? + open.len()..];
        let id = &rest[..rest.find('<')?];
        let ok = !id.is_empty()
            && id.len() <= 128
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        ok.then(|| id.to_string())
    })
}

/// The service an SDK error type belongs to, from its crate (`aws_sdk_ec2::…` -> `EC2`).
fn service_of<E>() -> &'static str {
    let name = std::any::type_name::<E>();
    match name.split("::").next().unwrap_or("") {
        "aws_sdk_ec2" => "EC2",
        "aws_sdk_rds" => "RDS",
        "aws_sdk_lambda" => "Lambda",
        "aws_sdk_iam" => "IAM",
        "aws_sdk_cognitoidentityprovider" => "Cognito",
        "aws_sdk_resourcegroupstagging" => "Resource Groups Tagging",
        "aws_sdk_ssm" => "SSM",
        _ => "AWS",
    }
}

/// The messages of an error's causes, outermost first, without repeats: the SDK's own Display
/// is terse ("dispatch failure") and its Debug is noise.
pub(crate) fn cause_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let m = e.to_string();
        if !m.is_empty() && !parts.iter().any(|p| p.contains(&m)) {
            parts.push(m);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// The error code of a failed SDK call, if AWS sent one.
pub fn code_of<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<&str> {
    match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}
