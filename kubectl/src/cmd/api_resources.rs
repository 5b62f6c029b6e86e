//! `kubectl api-resources` and `kubectl api-versions`.

use crate::context::{out, Ctx};
use crate::error::CmdResult;
use crate::util::TabWriter;

#[derive(clap::Args, Debug, Clone)]
pub struct ApiResourcesArgs {
    /// Limit to resources in the specified API group.
    #[arg(long = "api-group")]
    pub api_group: Option<String>,
    /// If false, non-namespaced resources will be returned, otherwise returning namespaced resources by default.
    #[arg(long)]
    pub namespaced: Option<bool>,
    /// Limit to resources that support the specified verbs.
    #[arg(long, value_delimiter = ',')]
    pub verbs: Vec<String>,
    /// Limit to resources that belong to the specified categories.
    #[arg(long, value_delimiter = ',')]
    pub categories: Vec<String>,
    /// Output format. One of: (wide, name).
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// If non-empty, sort list of resources using specified field. One of (name, kind).
    #[arg(long = "sort-by")]
    pub sort_by: Option<String>,
    /// When using the default or custom-column output format, don't print headers (default print headers).
    #[arg(long = "no-headers")]
    pub no_headers: bool,
    /// Use the cached list of resources if available (accepted for compatibility).
    #[arg(long)]
    pub cached: bool,
}

pub async fn run(ctx: &Ctx, a: ApiResourcesArgs) -> CmdResult {
    let d = ctx.discovery().await?;
    let mut rs: Vec<_> = d
        .resources
        .iter()
        .filter(|r| a.api_group.as_ref().is_none_or(|g| *g == r.group))
        .filter(|r| a.namespaced.is_none_or(|n| n == r.namespaced))
        .filter(|r| a.verbs.iter().all(|v| r.verbs.contains(v)))
        .filter(|r| a.categories.iter().all(|c| r.categories.contains(c)))
        .collect();
    let key = |r: &&client::proto::v1::ApiResource| match a.sort_by.as_deref() {
        Some("name") => r.name.clone(),
        Some("kind") => r.kind.clone(),
        _ => r.group.clone(),
    };
    rs.sort_by(|x, y| key(x).cmp(&key(y)).then_with(|| x.name.cmp(&y.name)));
    if a.output.as_deref() == Some("name") {
        out(&rs.iter().map(|r| format!("{}\n", crate::resources::group_resource(r))).collect::<String>());
        return Ok(());
    }
    let wide = a.output.as_deref() == Some("wide");
    let mut tw = TabWriter::new();
    if !a.no_headers {
        let mut h = vec!["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"];
        if wide {
            h.extend(["VERBS", "CATEGORIES"]);
        }
        tw.row(&h);
    }
    for r in rs {
        let mut row = vec![
            r.name.clone(),
            r.short_names.join(","),
            crate::resources::api_version(r),
            r.namespaced.to_string(),
            r.kind.clone(),
        ];
        if wide {
            let mut verbs = r.verbs.clone();
            verbs.sort();
            row.push(verbs.join(","));
            row.push(r.categories.join(","));
        }
        tw.row(&row);
    }
    out(&tw.render());
    Ok(())
}

pub async fn versions(ctx: &Ctx) -> CmdResult {
    let d = ctx.discovery().await?;
    let mut v: Vec<String> = d.resources.iter().map(crate::resources::api_version).collect();
    v.sort();
    v.dedup();
    out(&v.iter().map(|x| format!("{x}\n")).collect::<String>());
    Ok(())
}
