//! Structured logs with `tracing`: the flags every daemon shares and one
//! `init()`.
//!
//! Verbosity follows klog's `-v`/`--v` levels (0 info, 2-4 debug, 5+
//! trace); `RUST_LOG`, when set, wins so a developer can aim at one module.
//! Logs go to stderr, as upstream components write them.

use clap::{Args, ValueEnum};
use tracing_subscriber::EnvFilter;

/// Transport crates that flood debug logs with per-frame lines; they stay at
/// info until `--v=8` (klog's level for request/response bodies).
const NOISY: &[&str] = &["h2", "hyper", "hyper_util", "tower", "tonic", "axum"];

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (for log collectors).
    Json,
}

/// Logging flags; put `#[command(flatten)] log: daemon::logging::LogArgs`
/// in a daemon's flags.
#[derive(Args, Clone, Debug, Default)]
pub struct LogArgs {
    /// Log format: text or json.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log verbosity as klog's: 0 info, 2-4 debug, 5-7 trace, 8+ trace of the transport too. RUST_LOG, when set, overrides it.
    #[arg(short = 'v', long = "v", value_name = "LEVEL", default_value_t = 0)]
    pub verbosity: u8,
}

impl LogArgs {
    /// The filter in use: `RUST_LOG` when set and not empty, else the level of `-v`.
    pub fn directives(&self, rust_log: Option<&str>) -> String {
        if let Some(env) = rust_log.filter(|s| !s.trim().is_empty()) {
            return env.to_string();
        }
        let quiet = |level: &str| {
            let mut d = level.to_string();
            for c in NOISY {
                d.push_str(&format!(",{c}=info"));
            }
            d
        };
        match self.verbosity {
            0..=1 => "info".into(),
            2..=4 => quiet("debug"),
            5..=7 => quiet("trace"),
            _ => "trace".into(),
        }
    }

    /// Installs the global subscriber (stderr). Fails if one is already set.
    pub fn init(&self) -> Result<(), tracing_subscriber::util::TryInitError> {
        let rust_log = std::env::var("RUST_LOG").ok();
        let directives = self.directives(rust_log.as_deref());
        let filter = EnvFilter::try_new(&directives).unwrap_or_else(|e| {
            eprintln!("invalid log filter {directives:?} ({e}); using info");
            EnvFilter::new("info")
        });
        use tracing_subscriber::util::SubscriberInitExt;
        let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
        match self.log_format {
            LogFormat::Text => builder.finish().try_init(),
            LogFormat::Json => builder.json().finish().try_init(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        log: LogArgs,
    }

    #[test]
    fn verbosity_levels_and_rust_log_precedence() {
        let f = Flags::parse_from(["x"]);
        assert_eq!(f.log.log_format, LogFormat::Text);
        assert_eq!(f.log.directives(None), "info");
        let f = Flags::parse_from(["x", "--v=4", "--log-format", "json"]);
        assert_eq!(f.log.log_format, LogFormat::Json);
        assert!(f.log.directives(None).starts_with("debug,h2=info"));
        assert_eq!(f.log.directives(Some("scheduler=trace")), "scheduler=trace");
        assert_eq!(f.log.directives(Some("  ")), f.log.directives(None));
        assert_eq!(Flags::parse_from(["x", "-v", "9"]).log.directives(None), "trace");
        assert!(Flags::try_parse_from(["x", "--log-format", "xml"]).is_err());
    }
}
