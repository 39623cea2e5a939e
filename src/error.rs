//! The crate's error type, and how each error reaches the user.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

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
    pub fn aws<E, R>(operation: &'static str, address: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let (code, message) = match &err {
            SdkError::ServiceError(_) => (
                err.code().unwrap_or("Unknown").to_string(),
                err.message().unwrap_or_default().to_string(),
            ),
            SdkError::DispatchFailure(_) => (
                "ConnectionFailed".to_string(),
                format!(
                    "{} (check --endpoint-url / AWS_ENDPOINT_URL, the network, and --region)",
                    cause_chain(&err)
                ),
            ),
            SdkError::TimeoutError(_) => ("Timeout".into(), "the request timed out".into()),
            _ => (
                err.code().unwrap_or("Unknown").to_string(),
                aws_smithy_types::error::display::DisplayErrorContext(&err).to_string(),
            ),
        };
        Error::Aws {
            address: address.to_string(),
            operation,
            code,
            message,
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

/// The messages of an error's causes, outermost first, without repeats: the SDK's own Display
/// is terse ("dispatch failure") and its Debug is noise.
fn cause_chain(err: &(dyn std::error::Error + 'static)) -> String {
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
