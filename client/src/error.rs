//! Errors, and the mapping between upstream `Status` reasons and gRPC codes.

pub use ::api::status::Reason;
use proto::v1::{Status, StatusCause, StatusDetails};
use tonic::Code;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The apiserver refused the call with an upstream-style Status.
    #[error("{0}")]
    Api(ApiError),
    /// The connection could not be made.
    #[error("cannot connect to the apiserver: {0}")]
    Connect(#[from] tonic::transport::Error),
    /// A gRPC failure without a Status (connection lost, deadline, ...).
    #[error("{}", .0.message())]
    Rpc(tonic::Status),
    /// A body could not be encoded or decoded.
    #[error("cannot decode object: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// The upstream reason the server gave, if it gave a Status.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            Error::Api(e) => Some(e.reason()),
            _ => None,
        }
    }
    pub fn is_not_found(&self) -> bool {
        self.reason() == Some(Reason::NotFound)
    }
    pub fn is_already_exists(&self) -> bool {
        self.reason() == Some(Reason::AlreadyExists)
    }
    pub fn is_conflict(&self) -> bool {
        self.reason() == Some(Reason::Conflict)
    }
    /// The resourceVersion asked for is compacted or too old: relist.
    pub fn is_expired(&self) -> bool {
        self.reason().is_some_and(Reason::is_expired)
    }
    pub fn is_invalid(&self) -> bool {
        self.reason() == Some(Reason::Invalid)
    }
}

/// A Status returned by the server (metav1.Status on the wire).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError(pub Status);

impl ApiError {
    /// A Status with the reason's upstream HTTP code.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        ApiError::with_code(reason.code(), reason, message)
    }
    /// A Status whose code is not the reason's usual one.
    pub fn with_code(code: i32, reason: Reason, message: impl Into<String>) -> Self {
        ApiError(Status { code, reason: reason.as_str().into(), message: message.into(), details: None })
    }
    /// The Status reason as an enum (Unknown for one this build does not know).
    pub fn reason(&self) -> Reason {
        Reason::parse(&self.0.reason)
    }
    pub fn with_details(mut self, details: StatusDetails) -> Self {
        self.0.details = Some(details);
        self
    }
    pub fn causes(&self) -> &[StatusCause] {
        self.0.details.as_ref().map(|d| d.causes.as_slice()).unwrap_or(&[])
    }

    /// The Status as upstream's JSON (metav1.Status), e.g. for watch ERROR events.
    pub fn to_json(&self) -> serde_json::Value {
        let s = &self.0;
        let mut v = serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": s.message, "reason": s.reason, "code": s.code,
        });
        if let Some(d) = &s.details {
            let mut det = serde_json::Map::new();
            for (k, val) in [("name", &d.name), ("group", &d.group), ("kind", &d.kind), ("uid", &d.uid)] {
                if !val.is_empty() {
                    det.insert(k.into(), val.clone().into());
                }
            }
            if !d.causes.is_empty() {
                let causes: Vec<_> = d
                    .causes
                    .iter()
                    .map(|c| serde_json::json!({"reason": c.reason, "message": c.message, "field": c.field}))
                    .collect();
                det.insert("causes".into(), causes.into());
            }
            if d.retry_after_seconds > 0 {
                det.insert("retryAfterSeconds".into(), d.retry_after_seconds.into());
            }
            v["details"] = det.into();
        }
        v
    }

    /// Parses upstream's Status JSON (as carried by watch ERROR events).
    pub fn from_json(v: &serde_json::Value) -> Self {
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
        let details = v.get("details").map(|d| {
            let g = |k: &str| d.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
            StatusDetails {
                name: g("name"),
                group: g("group"),
                kind: g("kind"),
                uid: g("uid"),
                causes: d
                    .get("causes")
                    .and_then(|c| c.as_array())
                    .map(|cs| {
                        cs.iter()
                            .map(|c| {
                                let g = |k: &str| c.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
                                StatusCause { reason: g("reason"), message: g("message"), field: g("field") }
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                retry_after_seconds: d.get("retryAfterSeconds").and_then(|x| x.as_i64()).unwrap_or(0) as i32,
            }
        });
        ApiError(Status {
            code: v.get("code").and_then(|c| c.as_i64()).unwrap_or(500) as i32,
            reason: s("reason"),
            message: s("message"),
            details,
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for ApiError {}

/// The gRPC code for an upstream reason.
pub fn grpc_code(reason: Reason) -> Code {
    match reason {
        Reason::NotFound => Code::NotFound,
        Reason::AlreadyExists => Code::AlreadyExists,
        Reason::Conflict => Code::Aborted,
        Reason::Invalid | Reason::BadRequest => Code::InvalidArgument,
        Reason::Expired | Reason::Gone => Code::OutOfRange,
        Reason::TooLarge | Reason::TooManyRequests => Code::ResourceExhausted,
        Reason::MethodNotAllowed | Reason::NotAcceptable | Reason::UnsupportedMediaType => Code::Unimplemented,
        Reason::Forbidden => Code::PermissionDenied,
        Reason::Unauthorized => Code::Unauthenticated,
        Reason::Timeout | Reason::ServerTimeout => Code::DeadlineExceeded,
        Reason::ServiceUnavailable => Code::Unavailable,
        Reason::Unknown | Reason::InternalError | Reason::StoreReadError => Code::Internal,
    }
}

impl From<ApiError> for tonic::Status {
    fn from(e: ApiError) -> Self {
        use prost::Message;
        let mut st = tonic::Status::new(grpc_code(e.reason()), e.0.message.clone());
        let bytes = e.0.encode_to_vec();
        st.metadata_mut()
            .insert_bin(proto::STATUS_DETAILS_KEY, tonic::metadata::MetadataValue::from_bytes(&bytes));
        st
    }
}

impl From<tonic::Status> for Error {
    fn from(st: tonic::Status) -> Self {
        use prost::Message;
        if let Some(v) = st.metadata().get_bin(proto::STATUS_DETAILS_KEY) {
            if let Ok(bytes) = v.to_bytes() {
                if let Ok(s) = Status::decode(bytes.as_ref()) {
                    return Error::Api(ApiError(s));
                }
            }
        }
        Error::Rpc(st)
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_roundtrips_through_grpc() {
        let e = ApiError::new(Reason::NotFound, "pods \"x\" not found")
            .with_details(StatusDetails { name: "x".into(), kind: "pods".into(), ..Default::default() });
        let st: tonic::Status = e.clone().into();
        assert_eq!(st.code(), Code::NotFound);
        let back: Error = st.into();
        assert!(back.is_not_found());
        match back {
            Error::Api(a) => assert_eq!(a, e),
            other => panic!("expected Api error, got {other:?}"),
        }
    }

    #[test]
    fn status_json_roundtrip() {
        let e = ApiError::new(Reason::Invalid, "bad").with_details(StatusDetails {
            name: "p".into(),
            kind: "Pod".into(),
            causes: vec![StatusCause { reason: "FieldValueRequired".into(), message: "Required value".into(), field: "spec.containers".into() }],
            ..Default::default()
        });
        assert_eq!(ApiError::from_json(&e.to_json()), e);
    }
}
