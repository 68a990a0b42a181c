//! The function's errors: when it cannot do what it should, Lambda retries the event, then keeps
//! it on the stack's failure destination. Each message says what to fix, and the error's type
//! says whether a retry can help (`SubscribeFailed` or `SubscribeFailed.Retryable`).

use thiserror::Error;

use crate::destination::DestinationError;
use crate::stack::StackError;
use crate::sweep::slices::SweepError;

/// The function could not do what it should; the message says what to fix.
#[derive(Debug, Error)]
pub enum FunctionError {
    #[error("cannot tell this function's account and Region: {0}")]
    Identity(String),
    #[error("{0}")]
    Destination(#[from] DestinationError),
    #[error("log group {group}: {message}")]
    Failed {
        group: String,
        message: String,
        /// The cause was transient (retries ran out on throttling or 5xx).
        retryable: bool,
    },
    #[error("sweep: {0}")]
    Sweep(SweepError),
    #[error(transparent)]
    Stack(#[from] StackError),
}

impl From<SweepError> for FunctionError {
    fn from(error: SweepError) -> Self {
        match error {
            SweepError::Destination(e) => Self::Destination(e),
            other => Self::Sweep(other),
        }
    }
}

impl FunctionError {
    /// Whether the same invocation, retried later, may succeed: the cause was transient, not
    /// something to fix first.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Identity(_) => false,
            Self::Destination(DestinationError::Read { error, .. }) => error.is_transient(),
            Self::Destination(_) => false,
            Self::Failed { retryable, .. } => *retryable,
            Self::Sweep(
                SweepError::Listing(e)
                | SweepError::HandOn(e)
                | SweepError::Start(e)
                | SweepError::Lookup(e),
            ) => e.is_transient(),
            Self::Sweep(SweepError::Destination(_)) => false,
            // CloudFormation is answered again when Lambda retries: that is why it is an error.
            Self::Stack(_) => true,
        }
    }

    /// The Lambda error's `errorType`: the kind of failure, with `.Retryable` when a retry can help.
    pub fn error_type(&self) -> String {
        let kind = match self {
            Self::Identity(_) => "InvalidInvocation",
            Self::Destination(_) => "DestinationUnusable",
            Self::Failed { .. } => "SubscribeFailed",
            Self::Sweep(_) => "SweepFailed",
            Self::Stack(_) => "CustomResourceUnanswered",
        };
        if self.retryable() {
            format!("{kind}.Retryable")
        } else {
            kind.to_owned()
        }
    }
}

impl From<FunctionError> for lambda_runtime::Diagnostic {
    fn from(error: FunctionError) -> Self {
        Self {
            error_type: error.error_type(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ApiError;

    #[test]
    fn the_error_type_says_whether_a_retry_can_help() {
        let exhausted = || ApiError::RetriesExhausted {
            attempts: 8,
            last: "Rate exceeded".into(),
        };
        let cases = [
            (
                FunctionError::Failed {
                    group: "/a".into(),
                    message: "AWS denied".into(),
                    retryable: false,
                },
                "SubscribeFailed",
            ),
            (
                FunctionError::Failed {
                    group: "/a".into(),
                    message: "gave up".into(),
                    retryable: true,
                },
                "SubscribeFailed.Retryable",
            ),
            (
                FunctionError::Destination(DestinationError::Missing { name: "/p".into() }),
                "DestinationUnusable",
            ),
            (
                FunctionError::Destination(DestinationError::Read {
                    name: "/p".into(),
                    error: exhausted(),
                }),
                "DestinationUnusable.Retryable",
            ),
            (
                SweepError::Listing(exhausted()).into(),
                "SweepFailed.Retryable",
            ),
            (
                SweepError::Listing(ApiError::AccessDenied("no".into())).into(),
                "SweepFailed",
            ),
            (
                FunctionError::Identity("nonsense".into()),
                "InvalidInvocation",
            ),
        ];
        for (error, expected) in cases {
            let diagnostic = lambda_runtime::Diagnostic::from(error);
            assert_eq!(
                diagnostic.error_type, expected,
                "{}",
                diagnostic.error_message
            );
        }
    }
}
