//! The crate's error type, and how each error reaches the user.

use std::fmt;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_types::request_id::RequestId;

use crate::plan::PlanError;
use crate::stack::LoadError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error: what kind it is (which decides the exit code and what a caller may do about it),
/// the address of what failed when there is one (a field, never glued into the message and
/// stripped again), hints saying what to do, and the payload it came from.
#[derive(Debug)]
pub struct Error {
    kind: Kind,
    address: Option<String>,
    hints: Vec<String>,
    what: What,
}

/// What an error carries, by where it came from.
#[derive(Debug)]
enum What {
    /// The stack file is invalid; nothing was sent to AWS.
    Load(LoadError),
    /// The plan asks for something AWS would reject; nothing was changed.
    Plan {
        file: String,
        errors: Vec<PlanError>,
    },
    /// An AWS call failed, with AWS's code and message.
    Aws {
        operation: &'static str,
        code: String,
        message: String,
    },
    /// Everything else: a sentence for the user.
    Message(String),
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.what {
            What::Load(e) => Some(e),
            _ => None,
        }
    }
}

impl From<LoadError> for Error {
    fn from(e: LoadError) -> Self {
        Error::new(Kind::Load, None, What::Load(e))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.what, self.kind) {
            (What::Load(e), _) => write!(f, "{e}")?,
            (What::Plan { file, errors }, _) => write!(f, "{}", PlanErrors(file.clone(), errors))?,
            (What::Message(m), Kind::Internal) => {
                write!(f, "{}", Internal(self.address.as_deref(), m))?
            }
            (what, _) => {
                if let Some(a) = &self.address {
                    write!(f, "{a}: ")?;
                }
                match what {
                    What::Aws {
                        operation,
                        code,
                        message,
                    } => write!(f, "{operation} failed: {code}: {message}")?,
                    What::Message(m) => f.write_str(m)?,
                    _ => unreachable!("handled above"),
                }
            }
        }
        for h in &self.hints {
            write!(f, "\nhint: {h}")?;
        }
        Ok(())
    }
}

/// What an error is, for the exit code and for whoever handles it: the variant without its
/// payload, and for an AWS error what its code means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The stack file is invalid.
    Load,
    /// The plan asks for something AWS would reject.
    Plan,
    Aws(AwsKind),
    /// The user must do something first (also usage errors found after parsing).
    User,
    Wait,
    /// A saved plan refused before any write.
    Refused,
    Locked,
    Internal,
    Other,
}

/// What an AWS error code means to the code that decides on it. One classifier for every
/// adapter, so that "not found" or "already exists" is the same test whichever service said it
/// (each service spells them its own way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwsKind {
    NotFound,
    /// Too many requests: nothing was done, and the same call may be sent again later.
    Throttled,
    /// The resource is busy with another change (or in a state that refuses this one).
    Conflict,
    /// Something else still uses the resource (a delete must wait).
    InUse,
    Denied,
    AlreadyExists,
    Other,
}

impl AwsKind {
    pub fn of(code: &str) -> AwsKind {
        use aws_runtime::retries::classifiers::THROTTLING_ERRORS;
        match code {
            "NoSuchEntity" => AwsKind::NotFound,
            c if c.ends_with("NotFound")
                || c.ends_with("NotFoundFault")
                || c.ends_with("NotFoundException") =>
            {
                AwsKind::NotFound
            }
            "EntityAlreadyExists" | "InvalidGroup.Duplicate" | "InvalidPermission.Duplicate" => {
                AwsKind::AlreadyExists
            }
            c if c.ends_with("AlreadyExists")
                || c.ends_with("AlreadyExistsFault")
                || c.ends_with("AlreadyExistsException") =>
            {
                AwsKind::AlreadyExists
            }
            "ResourceConflictException"
            | "InvalidDBInstanceState"
            | "InvalidDBInstanceStateFault"
            | "ConcurrentModification"
            | "ConcurrentModificationException"
            | "TooManyUpdates" => AwsKind::Conflict,
            "DependencyViolation"
            | "DeleteConflict"
            | "ResourceInUseException"
            | "InvalidGroup.InUse" => AwsKind::InUse,
            "UnauthorizedOperation" => AwsKind::Denied,
            c if c.starts_with("AccessDenied") => AwsKind::Denied,
            // The codes the SDK itself treats as throttling (with EC2's RequestLimitExceeded).
            c if THROTTLING_ERRORS.contains(&c) => AwsKind::Throttled,
            _ => AwsKind::Other,
        }
    }
}

/// What the code of a failed SDK call means; `None` when AWS sent no code (no answer at all).
pub fn kind_of<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<AwsKind> {
    code_of(err).map(AwsKind::of)
}

/// What an internal error asks of whoever sees it.
const REPORT: &str = "This is a bug in deploy, not a problem with your stack or account: please report it, with this message and `deploy --version`.";

struct Internal<'a>(Option<&'a str>, &'a str);

impl fmt::Display for Internal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(address) = self.0 {
            write!(f, "{address}: ")?;
        }
        write!(f, "internal error: {}", self.1)
    }
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
        Error::aws_answer(address, operation, code, message)
    }

    fn new(kind: Kind, address: Option<&str>, what: What) -> Self {
        Error {
            kind,
            address: address.map(str::to_string),
            hints: Vec::new(),
            what,
        }
    }

    /// An AWS call that failed with `code` (AWS's error code) and `message`.
    pub fn aws_answer(
        address: &str,
        operation: &'static str,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let code = code.into();
        Error::new(
            Kind::Aws(AwsKind::of(&code)),
            Some(address),
            What::Aws {
                operation,
                code,
                message: message.into(),
            },
        )
    }

    /// The user must do something first (a flag, a confirmation, a file); the message says what.
    pub fn user(message: impl Into<String>) -> Self {
        Error::new(Kind::User, None, What::Message(message.into()))
    }

    /// A failure that is neither the user's input nor an AWS answer (a database, a file, a
    /// process): the message says what and where.
    pub fn other(message: impl Into<String>) -> Self {
        Error::new(Kind::Other, None, What::Message(message.into()))
    }

    /// A wait for `address` ran out of time, or AWS reported a failed state.
    pub fn wait(address: &str, message: impl Into<String>) -> Self {
        Error::new(Kind::Wait, Some(address), What::Message(message.into()))
    }

    /// A saved plan refused before any write: stale, edited, or not the expected digest.
    pub fn refused(message: impl Into<String>) -> Self {
        Error::new(Kind::Refused, None, What::Message(message.into()))
    }

    /// The stack is locked by another run (also when `--lock-timeout` ran out); nothing was read.
    pub fn locked(message: impl Into<String>) -> Self {
        Error::new(Kind::Locked, None, What::Message(message.into()))
    }

    /// The plan asks for something AWS would reject; nothing was changed.
    pub fn plan(file: impl Into<String>, errors: Vec<PlanError>) -> Self {
        Error::new(
            Kind::Plan,
            None,
            What::Plan {
                file: file.into(),
                errors,
            },
        )
    }

    /// The same error, naming `address` as what failed (when it names nothing yet).
    pub fn at(mut self, address: &str) -> Self {
        self.address.get_or_insert_with(|| address.to_string());
        self
    }

    /// The same error with a hint: what the user can do about it, on a line of its own.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// The message without the address (an AWS error's without its operation and code).
    pub fn message(&self) -> String {
        match &self.what {
            What::Aws { message, .. } | What::Message(message) => message.clone(),
            _ => self.to_string(),
        }
    }

    /// What the process exits with, by kind (spec section 5): 3 when the stack is locked and 4
    /// for a refused saved plan, so that CI can tell "try later" and "plan again" from a failure;
    /// 1 for every other error (usage and internal errors included). An interrupt is not an
    /// error: the command returns 130 itself.
    pub fn exit_code(&self) -> u8 {
        match self.kind() {
            Kind::Locked => 3,
            Kind::Refused => 4,
            _ => 1,
        }
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// A bug in deploy, never the user's mistake: the message says so and asks for a report.
    pub fn internal(address: Option<&str>, message: impl Into<String>) -> Self {
        Error::new(Kind::Internal, address, What::Message(message.into())).hint(REPORT)
    }

    /// The AWS error code, when this is an AWS error.
    pub fn aws_code(&self) -> Option<&str> {
        match &self.what {
            What::Aws { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The operation that failed, when this is an AWS error.
    pub fn aws_operation(&self) -> Option<&'static str> {
        match &self.what {
            What::Aws { operation, .. } => Some(operation),
            _ => None,
        }
    }

    /// What the AWS error code means, when this is an AWS error.
    pub fn aws_kind(&self) -> Option<AwsKind> {
        self.aws_code().map(AwsKind::of)
    }

    /// The address of what failed, when the error carries it.
    pub fn address(&self) -> Option<&str> {
        self.address.as_deref()
    }

    /// The message for a line that already names `address`: without the address when the error
    /// carries it as its own. Messages that name it in their text (built by the adapters as
    /// `"{address}: ..."`) lose that prefix too.
    pub fn message_at(&self, address: &str) -> String {
        if self.address.as_deref() == Some(address) {
            let mut e = Error::new(self.kind, None, What::Message(String::new()));
            e.hints.clone_from(&self.hints);
            e.what = match &self.what {
                What::Aws {
                    operation,
                    code,
                    message,
                } => What::Aws {
                    operation,
                    code: code.clone(),
                    message: message.clone(),
                },
                What::Message(m) => What::Message(m.clone()),
                _ => return self.to_string(),
            };
            return e.to_string();
        }
        let msg = self.to_string();
        match msg.strip_prefix(address).and_then(|m| m.strip_prefix(": ")) {
            Some(rest) => rest.to_string(),
            None => msg,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_spelling_of_a_meaning_is_one_kind() {
        for code in [
            "NoSuchEntity",
            "ResourceNotFoundException",
            "ParameterNotFound",
            "DBInstanceNotFound",
            "DBInstanceNotFoundFault",
            "InvalidGroup.NotFound",
            "InvalidPermission.NotFound",
            "InvalidNetworkInterfaceID.NotFound",
        ] {
            assert_eq!(AwsKind::of(code), AwsKind::NotFound, "{code}");
        }
        for code in [
            "EntityAlreadyExists",
            "ParameterAlreadyExists",
            "DBInstanceAlreadyExists",
            "InvalidGroup.Duplicate",
            "InvalidPermission.Duplicate",
        ] {
            assert_eq!(AwsKind::of(code), AwsKind::AlreadyExists, "{code}");
        }
        for code in [
            "AccessDenied",
            "AccessDeniedException",
            "UnauthorizedOperation",
        ] {
            assert_eq!(AwsKind::of(code), AwsKind::Denied, "{code}");
        }
        for code in [
            "Throttling",
            "ThrottlingException",
            "TooManyRequestsException",
            "RequestLimitExceeded",
        ] {
            assert_eq!(AwsKind::of(code), AwsKind::Throttled, "{code}");
        }
        for code in ["ResourceConflictException", "InvalidDBInstanceState"] {
            assert_eq!(AwsKind::of(code), AwsKind::Conflict, "{code}");
        }
        assert_eq!(AwsKind::of("DependencyViolation"), AwsKind::InUse);
        for code in [
            "InvalidParameterValueException",
            "InvalidParameterValue",
            "Unknown",
        ] {
            assert_eq!(AwsKind::of(code), AwsKind::Other, "{code}");
        }
    }

    #[test]
    fn the_address_is_a_field_a_line_naming_it_does_not_repeat() {
        let e = Error::aws_answer(
            "functions.api",
            "CreateFunction",
            "AccessDeniedException",
            "no",
        );
        assert_eq!(
            e.to_string(),
            "functions.api: CreateFunction failed: AccessDeniedException: no"
        );
        assert_eq!(e.address(), Some("functions.api"));
        assert_eq!(e.kind(), Kind::Aws(AwsKind::Denied));
        assert_eq!(
            e.message_at("functions.api"),
            "CreateFunction failed: AccessDeniedException: no"
        );
        // Another address: the message is whole.
        assert_eq!(e.message_at("functions.other"), e.to_string());
        // Adapters' own messages that start with the address lose it too.
        let e = Error::other("functions.api: gone");
        assert_eq!(e.message_at("functions.api"), "gone");
        assert_eq!(e.message_at("functions.ap"), "functions.api: gone");
    }

    #[test]
    fn hints_follow_the_message_on_lines_of_their_own() {
        let e = Error::user("no region").hint("pass --region").at("stack");
        assert_eq!(e.to_string(), "stack: no region\nhint: pass --region");
        assert_eq!(e.message_at("stack"), "no region\nhint: pass --region");
    }

    #[test]
    fn an_internal_error_says_it_is_a_bug_and_asks_for_a_report() {
        let e = Error::internal(Some("security_groups.a"), "a node of another kind");
        let text = e.to_string();
        assert!(
            text.starts_with("security_groups.a: internal error: a node of another kind\nhint: "),
            "{text}"
        );
        assert!(text.contains("bug in deploy") && text.contains("please report it"));
        assert_eq!(e.exit_code(), 1);
        assert_eq!(e.kind(), Kind::Internal);
        assert!(
            e.message_at("security_groups.a")
                .starts_with("internal error: a node of another kind\n")
        );
        assert_eq!(Error::locked(String::new()).exit_code(), 3);
        assert_eq!(Error::refused(String::new()).exit_code(), 4);
    }
}
