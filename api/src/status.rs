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
}
