//! Field errors in upstream's shape (k8s.io/apimachinery/pkg/util/validation/field).
//!
//! `FieldError::to_string()` prints exactly what upstream prints, e.g.
//! `spec.containers[0].image: Required value` or
//! `metadata.name: Invalid value: "Foo": a lowercase RFC 1123 subdomain must ...`.

use std::fmt;

/// A field path: `spec.containers[0].image`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path(String);

impl Path {
    pub fn new(root: &str) -> Self {
        Path(root.to_string())
    }
    /// `spec` -> `spec.containers`
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Path(name.to_string())
        } else {
            Path(format!("{}.{}", self.0, name))
        }
    }
    /// `spec.containers` -> `spec.containers[0]`
    pub fn index(&self, i: usize) -> Self {
        Path(format!("{}[{}]", self.0, i))
    }
    /// `metadata.labels` -> `metadata.labels[app]`
    pub fn key(&self, k: &str) -> Self {
        Path(format!("{}[{}]", self.0, k))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ErrorType {
    Required,
    /// The offending value, already rendered as upstream does (`"Foo"`, `-1`).
    Invalid(String),
    NotSupported { value: String, supported: Vec<String> },
    Duplicate(String),
    Forbidden,
    TooLong { max: usize },
    TooMany { max: usize },
    NotFound(String),
    Internal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: Path,
    pub kind: ErrorType,
    pub detail: String,
}

/// Renders a value the way upstream's field errors quote it.
pub fn quote(v: impl fmt::Display) -> String {
    format!("{:?}", v.to_string())
}

impl FieldError {
    pub fn required(field: &Path, detail: &str) -> Self {
        FieldError { field: field.clone(), kind: ErrorType::Required, detail: detail.into() }
    }
    /// `value` is shown quoted, as upstream does for strings.
    pub fn invalid(field: &Path, value: impl fmt::Display, detail: &str) -> Self {
        FieldError { field: field.clone(), kind: ErrorType::Invalid(quote(value)), detail: detail.into() }
    }
    /// For numbers and other values shown unquoted.
    pub fn invalid_raw(field: &Path, value: impl fmt::Display, detail: &str) -> Self {
        FieldError { field: field.clone(), kind: ErrorType::Invalid(value.to_string()), detail: detail.into() }
    }
    pub fn not_supported(field: &Path, value: impl fmt::Display, supported: &[&str]) -> Self {
        FieldError {
            field: field.clone(),
            kind: ErrorType::NotSupported { value: quote(value), supported: supported.iter().map(|s| quote(s)).collect() },
            detail: String::new(),
        }
    }
    pub fn duplicate(field: &Path, value: impl fmt::Display) -> Self {
        FieldError { field: field.clone(), kind: ErrorType::Duplicate(quote(value)), detail: String::new() }
    }
    pub fn forbidden(field: &Path, detail: &str) -> Self {
        FieldError { field: field.clone(), kind: ErrorType::Forbidden, detail: detail.into() }
    }
    pub fn too_long(field: &Path, max: usize) -> Self {
        FieldError { field: field.clone(), kind: ErrorType::TooLong { max }, detail: String::new() }
    }
    pub fn too_many(field: &Path, max: usize) -> Self {
        FieldError { field: field.clone(), kind: ErrorType::TooMany { max }, detail: String::new() }
    }
    pub fn not_found(field: &Path, value: impl fmt::Display) -> Self {
        FieldError { field: field.clone(), kind: ErrorType::NotFound(quote(value)), detail: String::new() }
    }

    /// Upstream's StatusCause reason for this error.
    pub fn reason(&self) -> &'static str {
        match self.kind {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid(_) => "FieldValueInvalid",
            ErrorType::NotSupported { .. } => "FieldValueNotSupported",
            ErrorType::Duplicate(_) => "FieldValueDuplicate",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong { .. } => "FieldValueTooLong",
            ErrorType::TooMany { .. } => "FieldValueTooMany",
            ErrorType::NotFound(_) => "FieldValueNotFound",
            ErrorType::Internal => "InternalError",
        }
    }

    /// The cause message without the field path (upstream's ErrorBody).
    pub fn body(&self) -> String {
        let (head, value) = match &self.kind {
            ErrorType::Required => ("Required value".to_string(), None),
            ErrorType::Invalid(v) => ("Invalid value".to_string(), Some(v.clone())),
            ErrorType::NotSupported { value, supported } => {
                let s = format!("Unsupported value: {value}");
                if supported.is_empty() {
                    return s;
                }
                return format!("{s}: supported values: {}", supported.join(", "));
            }
            ErrorType::Duplicate(v) => ("Duplicate value".to_string(), Some(v.clone())),
            ErrorType::Forbidden => ("Forbidden".to_string(), None),
            ErrorType::TooLong { max } => {
                let s = format!("Too long: may not be more than {max} bytes");
                return if self.detail.is_empty() { s } else { format!("Too long: {}", self.detail) };
            }
            ErrorType::TooMany { max } => (format!("Too many: must have at most {max} items"), None),
            ErrorType::NotFound(v) => ("Not found".to_string(), Some(v.clone())),
            ErrorType::Internal => ("Internal error".to_string(), None),
        };
        let mut s = head;
        if let Some(v) = value {
            s.push_str(": ");
            s.push_str(&v);
        }
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

pub type ErrorList = Vec<FieldError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_upstream() {
        let p = Path::new("spec").child("containers").index(0);
        assert_eq!(FieldError::required(&p.child("image"), "").to_string(), "spec.containers[0].image: Required value");
        assert_eq!(
            FieldError::not_supported(&Path::new("spec").child("restartPolicy"), "Sometimes", &["Always", "Never", "OnFailure"]).to_string(),
            r#"spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure""#
        );
        assert_eq!(
            FieldError::invalid(&Path::new("metadata").child("name"), "Foo", "bad").to_string(),
            r#"metadata.name: Invalid value: "Foo": bad"#
        );
        assert_eq!(FieldError::duplicate(&p.child("name"), "a").to_string(), r#"spec.containers[0].name: Duplicate value: "a""#);
        assert_eq!(Path::new("metadata").child("labels").key("app").to_string(), "metadata.labels[app]");
    }
}
