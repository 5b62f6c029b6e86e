//! Command errors, printed the way upstream kubectl's `cmdutil.CheckErr` does:
//! `Error from server (NotFound): ...`, `The Pod "x" is invalid: ...`,
//! `error: ...`, always exit code 1.

use std::sync::OnceLock;

use client::{ApiError, Reason};

pub type CmdResult<T = ()> = Result<T, CmdError>;

/// The server address, for "connection refused" messages.
static SERVER: OnceLock<String> = OnceLock::new();

pub fn set_server_for_messages(addr: &str) {
    let _ = SERVER.set(addr.to_string());
}

#[derive(Debug)]
pub enum CmdError {
    /// A Status from the server.
    Api(ApiError),
    /// The type named on the command line is not served.
    NoResourceType(String),
    /// Printed as "error: <msg>".
    Msg(String),
    /// Printed verbatim.
    Raw(String),
    /// A usage error: "error: <msg>\nSee 'kubectl <cmd> -h' for help and examples".
    Usage { msg: String, cmd: String },
    /// Already reported; exit with this code.
    Exit(i32),
    /// Several errors, each on its own line (upstream's aggregate).
    Many(Vec<CmdError>),
}

impl CmdError {
    pub fn msg(m: impl Into<String>) -> Self {
        CmdError::Msg(m.into())
    }
    pub fn raw(m: impl Into<String>) -> Self {
        CmdError::Raw(m.into())
    }
    pub fn usage(cmd: &str, m: impl Into<String>) -> Self {
        CmdError::Usage { msg: m.into(), cmd: cmd.into() }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, CmdError::Api(e) if e.reason() == Reason::NotFound)
    }
    pub fn is_already_exists(&self) -> bool {
        matches!(self, CmdError::Api(e) if e.reason() == Reason::AlreadyExists)
    }
    pub fn is_conflict(&self) -> bool {
        matches!(self, CmdError::Api(e) if e.reason() == Reason::Conflict)
    }

    /// Upstream's AddSourceToErr: "error when creating \"f.yaml\": <message>".
    pub fn with_source(self, verb: &str, source: &str) -> Self {
        match self {
            CmdError::Api(mut e) if !source.is_empty() => {
                e.0.message = format!("error when {verb} \"{source}\": {}", e.0.message);
                CmdError::Api(e)
            }
            other => other,
        }
    }

    /// Folds a list of errors: none, one, or an aggregate.
    pub fn aggregate(mut errs: Vec<CmdError>) -> CmdResult {
        match errs.len() {
            0 => Ok(()),
            1 => Err(errs.pop().unwrap()),
            _ => Err(CmdError::Many(errs)),
        }
    }

    /// The text printed on stderr (with a final newline, or empty) and the exit code.
    pub fn render(&self) -> (String, i32) {
        match self {
            CmdError::Api(e) if e.reason() == Reason::Invalid => (invalid_message(e), 1),
            CmdError::Many(errs) => {
                let mut out = String::new();
                for e in errs {
                    let (m, _) = match e {
                        CmdError::Api(a) => (standard_message(a), 1),
                        other => other.render(),
                    };
                    out.push_str(m.trim_end_matches('\n'));
                    out.push('\n');
                }
                (out, 1)
            }
            CmdError::Api(e) => (format!("{}\n", standard_message(e)), 1),
            CmdError::NoResourceType(r) => (format!("error: the server doesn't have a resource type \"{r}\"\n"), 1),
            CmdError::Msg(m) => {
                let m = m.trim_end_matches('\n');
                if m.starts_with("error: ") {
                    (format!("{m}\n"), 1)
                } else {
                    (format!("error: {m}\n"), 1)
                }
            }
            CmdError::Raw(m) => (format!("{}\n", m.trim_end_matches('\n')), 1),
            CmdError::Usage { msg, cmd } => {
                (format!("error: {msg}\nSee 'kubectl {cmd} -h' for help and examples\n"), 1)
            }
            CmdError::Exit(c) => (String::new(), *c),
        }
    }
}

fn standard_message(e: &ApiError) -> String {
    match e.reason() {
        Reason::Unauthorized => format!("error: You must be logged in to the server ({})", e.0.message),
        // an unknown reason is still printed as the server sent it
        _ if e.0.reason.is_empty() => format!("Error from server: {}", e.0.message),
        _ => format!("Error from server ({}): {}", e.0.reason, e.0.message),
    }
}

/// `The Deployment "web" is invalid: spec.replicas: Invalid value: -1: ...`
fn invalid_message(e: &ApiError) -> String {
    let Some(d) = &e.0.details else { return "The request is invalid\n".into() };
    let mut s = "The request is invalid".to_string();
    if !d.kind.is_empty() || !d.name.is_empty() {
        s = format!("The {} \"{}\" is invalid", d.kind, d.name);
    }
    let mut msgs: Vec<String> = Vec::new();
    for c in &d.causes {
        let m = format!("{}: {}", c.field, c.message);
        if !msgs.contains(&m) {
            msgs.push(m);
        }
    }
    match msgs.len() {
        0 => format!("{s}\n"),
        1 => format!("{s}: {}\n", msgs[0]),
        _ => {
            let mut out = format!("{s}: \n");
            for m in msgs {
                out.push_str(&format!("* {m}\n"));
            }
            out
        }
    }
}

impl From<client::Error> for CmdError {
    fn from(e: client::Error) -> Self {
        match e {
            client::Error::Api(a) => CmdError::Api(a),
            client::Error::Connect(_) => refused(),
            client::Error::Rpc(st) if st.code() == tonic::Code::Unavailable => refused(),
            client::Error::Rpc(st) => CmdError::msg(st.message().to_string()),
            other => CmdError::msg(other.to_string()),
        }
    }
}

fn refused() -> CmdError {
    let server = SERVER.get().cloned().unwrap_or_else(|| "localhost:8080".into());
    CmdError::raw(format!("The connection to the server {server} was refused - did you specify the right host or port?"))
}

impl From<std::io::Error> for CmdError {
    fn from(e: std::io::Error) -> Self {
        CmdError::msg(e.to_string())
    }
}

impl From<serde_json::Error> for CmdError {
    fn from(e: serde_json::Error) -> Self {
        CmdError::msg(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use client::proto::v1::{StatusCause, StatusDetails};

    #[test]
    fn not_found_like_upstream() {
        let e = CmdError::Api(ApiError::new(Reason::NotFound, "pods \"x\" not found"));
        assert_eq!(e.render(), ("Error from server (NotFound): pods \"x\" not found\n".into(), 1));
        let e = CmdError::Api(ApiError::new(Reason::AlreadyExists, "deployments.apps \"web\" already exists"))
            .with_source("creating", "d.yaml");
        assert_eq!(
            e.render().0,
            "Error from server (AlreadyExists): error when creating \"d.yaml\": deployments.apps \"web\" already exists\n"
        );
    }

    #[test]
    fn invalid_like_upstream() {
        let cause = |f: &str, m: &str| StatusCause { reason: "FieldValueRequired".into(), message: m.into(), field: f.into() };
        let one = ApiError::new(Reason::Invalid, "x").with_details(StatusDetails {
            name: "p".into(),
            kind: "Pod".into(),
            causes: vec![cause("spec.containers[0].image", "Required value")],
            ..Default::default()
        });
        assert_eq!(CmdError::Api(one).render().0, "The Pod \"p\" is invalid: spec.containers[0].image: Required value\n");
        let two = ApiError::new(Reason::Invalid, "x").with_details(StatusDetails {
            name: "p".into(),
            kind: "Pod".into(),
            causes: vec![cause("a", "Required value"), cause("b", "Required value"), cause("a", "Required value")],
            ..Default::default()
        });
        assert_eq!(CmdError::Api(two).render().0, "The Pod \"p\" is invalid: \n* a: Required value\n* b: Required value\n");
    }

    #[test]
    fn plain_errors() {
        assert_eq!(CmdError::NoResourceType("foo".into()).render().0, "error: the server doesn't have a resource type \"foo\"\n");
        assert_eq!(CmdError::msg("boom").render(), ("error: boom\n".into(), 1));
    }
}
