//! metav1.Status reasons and cause types (k8s.io/apimachinery/pkg/apis/meta/v1
//! StatusReason and CauseType) as enums, so callers compare variants, not strings.

use std::fmt;

/// metav1.StatusReason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// "" or a reason this build does not know.
    Unknown,
    Unauthorized,
    Forbidden,
    NotFound,
    AlreadyExists,
    Conflict,
    Gone,
    Invalid,
    ServerTimeout,
    StoreReadError,
    Timeout,
    TooManyRequests,
    BadRequest,
    MethodNotAllowed,
    NotAcceptable,
    /// "RequestEntityTooLarge".
    TooLarge,
    UnsupportedMediaType,
    InternalError,
    /// The resourceVersion asked for is compacted: relist.
    Expired,
    ServiceUnavailable,
}

const ALL: [Reason; 20] = [
    Reason::Unknown,
    Reason::Unauthorized,
    Reason::Forbidden,
    Reason::NotFound,
    Reason::AlreadyExists,
    Reason::Conflict,
    Reason::Gone,
    Reason::Invalid,
    Reason::ServerTimeout,
    Reason::StoreReadError,
    Reason::Timeout,
    Reason::TooManyRequests,
    Reason::BadRequest,
    Reason::MethodNotAllowed,
    Reason::NotAcceptable,
    Reason::TooLarge,
    Reason::UnsupportedMediaType,
    Reason::InternalError,
    Reason::Expired,
    Reason::ServiceUnavailable,
];

impl Reason {
    /// The reason as it travels in a Status.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unknown => "",
            Reason::Unauthorized => "Unauthorized",
            Reason::Forbidden => "Forbidden",
            Reason::NotFound => "NotFound",
            Reason::AlreadyExists => "AlreadyExists",
            Reason::Conflict => "Conflict",
            Reason::Gone => "Gone",
            Reason::Invalid => "Invalid",
            Reason::ServerTimeout => "ServerTimeout",
            Reason::StoreReadError => "StorageReadError",
            Reason::Timeout => "Timeout",
            Reason::TooManyRequests => "TooManyRequests",
            Reason::BadRequest => "BadRequest",
            Reason::MethodNotAllowed => "MethodNotAllowed",
            Reason::NotAcceptable => "NotAcceptable",
            Reason::TooLarge => "RequestEntityTooLarge",
            Reason::UnsupportedMediaType => "UnsupportedMediaType",
            Reason::InternalError => "InternalError",
            Reason::Expired => "Expired",
            Reason::ServiceUnavailable => "ServiceUnavailable",
        }
    }

    /// Parses a Status reason; anything unknown is `Unknown`.
    pub fn parse(s: &str) -> Reason {
        if s == "TooLarge" {
            return Reason::TooLarge;
        }
        ALL.into_iter().find(|r| r.as_str() == s).unwrap_or(Reason::Unknown)
    }

    /// The HTTP status code upstream's errors package pairs with the reason.
    pub fn code(self) -> i32 {
        match self {
            Reason::Unknown | Reason::ServerTimeout | Reason::StoreReadError | Reason::InternalError => 500,
            Reason::Unauthorized => 401,
            Reason::Forbidden => 403,
            Reason::NotFound => 404,
            Reason::AlreadyExists | Reason::Conflict => 409,
            Reason::Gone | Reason::Expired => 410,
            Reason::Invalid => 422,
            Reason::Timeout => 504,
            Reason::TooManyRequests => 429,
            Reason::BadRequest => 400,
            Reason::MethodNotAllowed => 405,
            Reason::NotAcceptable => 406,
            Reason::TooLarge => 413,
            Reason::UnsupportedMediaType => 415,
            Reason::ServiceUnavailable => 503,
        }
    }

    /// upstream's ReasonForError fallback: the reason a bare HTTP code implies.
    pub fn from_code(code: i32) -> Reason {
        match code {
            400 => Reason::BadRequest,
            401 => Reason::Unauthorized,
            403 => Reason::Forbidden,
            404 => Reason::NotFound,
            405 => Reason::MethodNotAllowed,
            406 => Reason::NotAcceptable,
            409 => Reason::Conflict,
            410 => Reason::Gone,
            413 => Reason::TooLarge,
            415 => Reason::UnsupportedMediaType,
            422 => Reason::Invalid,
            429 => Reason::TooManyRequests,
            500 => Reason::InternalError,
            503 => Reason::ServiceUnavailable,
            504 => Reason::Timeout,
            _ => Reason::Unknown,
        }
    }

    /// Whether a watch or list must start over from a fresh list (Expired or Gone).
    pub fn is_expired(self) -> bool {
        matches!(self, Reason::Expired | Reason::Gone)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Reason {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Reason::parse(s))
    }
}

/// metav1.CauseType: why one field of an Invalid request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CauseType {
    FieldValueNotFound,
    FieldValueRequired,
    FieldValueDuplicate,
    FieldValueInvalid,
    FieldValueNotSupported,
    FieldValueForbidden,
    FieldValueTooLong,
    FieldValueTooMany,
    FieldValueTypeInvalid,
    InternalError,
    UnexpectedServerResponse,
    FieldManagerConflict,
    ResourceVersionTooLarge,
    Unknown,
}

const CAUSES: [CauseType; 14] = [
    CauseType::FieldValueNotFound,
    CauseType::FieldValueRequired,
    CauseType::FieldValueDuplicate,
    CauseType::FieldValueInvalid,
    CauseType::FieldValueNotSupported,
    CauseType::FieldValueForbidden,
    CauseType::FieldValueTooLong,
    CauseType::FieldValueTooMany,
    CauseType::FieldValueTypeInvalid,
    CauseType::InternalError,
    CauseType::UnexpectedServerResponse,
    CauseType::FieldManagerConflict,
    CauseType::ResourceVersionTooLarge,
    CauseType::Unknown,
];

impl CauseType {
    pub fn as_str(self) -> &'static str {
        match self {
            CauseType::FieldValueNotFound => "FieldValueNotFound",
            CauseType::FieldValueRequired => "FieldValueRequired",
            CauseType::FieldValueDuplicate => "FieldValueDuplicate",
            CauseType::FieldValueInvalid => "FieldValueInvalid",
            CauseType::FieldValueNotSupported => "FieldValueNotSupported",
            CauseType::FieldValueForbidden => "FieldValueForbidden",
            CauseType::FieldValueTooLong => "FieldValueTooLong",
            CauseType::FieldValueTooMany => "FieldValueTooMany",
            CauseType::FieldValueTypeInvalid => "FieldValueTypeInvalid",
            CauseType::InternalError => "InternalError",
            CauseType::UnexpectedServerResponse => "UnexpectedServerResponse",
            CauseType::FieldManagerConflict => "FieldManagerConflict",
            CauseType::ResourceVersionTooLarge => "ResourceVersionTooLarge",
            CauseType::Unknown => "",
        }
    }

    pub fn parse(s: &str) -> CauseType {
        CAUSES.into_iter().find(|c| c.as_str() == s).unwrap_or(CauseType::Unknown)
    }
}

impl fmt::Display for CauseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// metav1.StatusCause: one field's part in a refusal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCause {
    /// A [`CauseType`] string, or a kind's own (policy's "DisruptionBudget").
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// metav1.StatusDetails.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusDetails {
    pub name: String,
    pub group: String,
    /// The kind, or for most errors the resource (upstream's qualifiedResource).
    pub kind: String,
    pub uid: String,
    pub causes: Vec<StatusCause>,
    pub retry_after_seconds: i32,
}

/// A failed request as upstream's errors.StatusError: a metav1.Status with
/// status Failure, independent of the wire that carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusError {
    /// The HTTP code (usually the reason's).
    pub code: i32,
    pub reason: Reason,
    pub message: String,
    pub details: Option<StatusDetails>,
}

impl StatusError {
    /// A Status with the reason's upstream HTTP code.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        StatusError::with_code(reason.code(), reason, message)
    }
    /// A Status whose code is not the reason's usual one.
    pub fn with_code(code: i32, reason: Reason, message: impl Into<String>) -> Self {
        StatusError { code, reason, message: message.into(), details: None }
    }
    pub fn with_details(mut self, details: StatusDetails) -> Self {
        self.details = Some(details);
        self
    }
    pub fn reason(&self) -> Reason {
        self.reason
    }
    pub fn causes(&self) -> &[StatusCause] {
        self.details.as_ref().map(|d| d.causes.as_slice()).unwrap_or(&[])
    }

    /// The Status as upstream's JSON (metav1.Status), e.g. for watch ERROR events.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": self.message, "reason": self.reason.as_str(), "code": self.code,
        });
        if let Some(d) = &self.details {
            let mut det = serde_json::Map::new();
            for (k, val) in [("name", &d.name), ("group", &d.group), ("kind", &d.kind), ("uid", &d.uid)] {
                if !val.is_empty() {
                    det.insert(k.into(), val.clone().into());
                }
            }
            if !d.causes.is_empty() {
                let causes = d.causes.iter().map(|c| serde_json::json!({"reason": c.reason, "message": c.message, "field": c.field}));
                det.insert("causes".into(), causes.collect::<Vec<_>>().into());
            }
            if d.retry_after_seconds > 0 {
                det.insert("retryAfterSeconds".into(), d.retry_after_seconds.into());
            }
            v["details"] = det.into();
        }
        v
    }
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StatusError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_with_upstream_codes() {
        for r in ALL {
            assert_eq!(Reason::parse(r.as_str()), r);
        }
        assert_eq!(Reason::parse("TooLarge"), Reason::TooLarge);
        assert_eq!(Reason::parse("Whatever"), Reason::Unknown);
        assert_eq!(Reason::TooLarge.as_str(), "RequestEntityTooLarge");
        for (r, code) in [
            (Reason::NotFound, 404),
            (Reason::AlreadyExists, 409),
            (Reason::Conflict, 409),
            (Reason::Invalid, 422),
            (Reason::Expired, 410),
            (Reason::Gone, 410),
            (Reason::TooLarge, 413),
            (Reason::Forbidden, 403),
            (Reason::Unauthorized, 401),
            (Reason::TooManyRequests, 429),
            (Reason::Timeout, 504),
            (Reason::ServiceUnavailable, 503),
        ] {
            assert_eq!(r.code(), code, "{r:?}");
        }
        assert_eq!(Reason::from_code(404), Reason::NotFound);
        assert!(Reason::Gone.is_expired() && Reason::Expired.is_expired() && !Reason::Conflict.is_expired());
        for c in CAUSES {
            assert_eq!(CauseType::parse(c.as_str()), c);
        }
    }
    #[test]
    fn status_error_json_is_upstreams_status() {
        let e = StatusError::new(Reason::Invalid, "Pod \"p\" is invalid: spec: Required value").with_details(StatusDetails {
            name: "p".into(),
            kind: "Pod".into(),
            causes: vec![StatusCause { reason: "FieldValueRequired".into(), message: "Required value".into(), field: "spec".into() }],
            ..Default::default()
        });
        assert_eq!(e.code, 422);
        assert_eq!(
            e.to_json(),
            serde_json::json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Pod \"p\" is invalid: spec: Required value", "reason": "Invalid", "code": 422,
                "details": {"name": "p", "kind": "Pod", "causes": [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec"}]}})
        );
    }
}
