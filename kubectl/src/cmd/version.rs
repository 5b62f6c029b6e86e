//! `kubectl version`.

use crate::context::{out, Ctx};
use crate::error::CmdResult;

#[derive(clap::Args, Debug, Clone)]
pub struct VersionArgs {
    /// If true, shows client version only (no server required).
    #[arg(long)]
    pub client: bool,
    /// One of 'yaml' or 'json'.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

pub async fn run(ctx: &Ctx, a: VersionArgs) -> CmdResult {
    let client = serde_json::to_value(api::version::get()).unwrap_or_default();
    let server = if a.client { None } else { Some(ctx.discovery().await?.server_version.clone()) };
    match a.output.as_deref() {
        Some("json") | Some("yaml") => {
            let mut v = serde_json::json!({"clientVersion": client});
            if let Some(s) = &server {
                v["serverVersion"] = serde_json::json!({"gitVersion": s});
            }
            if a.output.as_deref() == Some("json") {
                out(&crate::printers::json::to_json(&v));
            } else {
                out(&crate::util::to_yaml(&v));
            }
        }
        _ => {
            let mut s = format!("Client Version: {}\n", client["gitVersion"].as_str().unwrap_or_default());
            if let Some(sv) = server {
                s.push_str(&format!("Server Version: {sv}\n"));
            }
            out(&s);
        }
    }
    Ok(())
}
