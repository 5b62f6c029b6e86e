//! `kubectl get`.

use client::proto::v1::ApiResource;
use client::ListParams;
use serde_json::Value;

use super::common::{map_item, parse_targets, with_type, FileArgs};
use crate::context::{err, out, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::printers::table::{self, TableOptions};
use crate::printers::{print_objects, Output};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct GetArgs {
    /// TYPE[.VERSION][.GROUP] [NAME ...] | TYPE[.VERSION][.GROUP]/NAME ...
    pub args: Vec<String>,
    /// Output format. One of: (json, yaml, name, go-template, go-template-file, template, templatefile, jsonpath, jsonpath-as-json, jsonpath-file, custom-columns, custom-columns-file, wide).
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Selector (label query) to filter on, supports '=', '==', '!=', 'in', 'notin'.(e.g. -l key1=value1,key2=value2). Matching objects must satisfy all of the specified label constraints.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Selector (field query) to filter on, supports '=', '==', and '!='.(e.g. --field-selector key1=value1,key2=value2). The server only supports a limited number of field queries per type.
    #[arg(long = "field-selector")]
    pub field_selector: Option<String>,
    /// If present, list the requested object(s) across all namespaces. Namespace in current context is ignored even if specified with --namespace.
    #[arg(short = 'A', long = "all-namespaces")]
    pub all_namespaces: bool,
    /// When printing, show all labels as the last column (default hide labels column)
    #[arg(long = "show-labels")]
    pub show_labels: bool,
    /// Accepts a comma separated list of labels that are going to be presented as columns. Names are case-sensitive.
    #[arg(short = 'L', long = "label-columns", value_delimiter = ',')]
    pub label_columns: Vec<String>,
    /// After listing/getting the requested object, watch for changes.
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Watch for changes to the requested object(s), without listing/getting first.
    #[arg(long = "watch-only")]
    pub watch_only: bool,
    /// If non-empty, sort list types using this field specification. The field specification is expressed as a JSONPath expression (e.g. '{.metadata.name}').
    #[arg(long = "sort-by")]
    pub sort_by: Option<String>,
    /// When using the default or custom-column output format, don't print headers (default print headers).
    #[arg(long = "no-headers")]
    pub no_headers: bool,
    /// If present, list the resource type for the requested object(s).
    #[arg(long = "show-kind")]
    pub show_kind: bool,
    /// If the requested object does not exist the command will return exit code 0.
    #[arg(long = "ignore-not-found")]
    pub ignore_not_found: bool,
    /// If true, keep the managedFields when printing objects in JSON or YAML format.
    #[arg(long = "show-managed-fields")]
    pub show_managed_fields: bool,
    /// Return large lists in chunks rather than all at once (accepted for compatibility).
    #[arg(long = "chunk-size")]
    pub chunk_size: Option<i64>,
    #[command(flatten)]
    pub files: FileArgs,
}

/// The objects of one resource type, in the order fetched.
pub struct Fetched {
    pub resource: ApiResource,
    pub objects: Vec<Value>,
}

pub async fn run(ctx: &Ctx, a: GetArgs) -> CmdResult {
    let output = Output::parse(a.output.as_deref())?;
    if a.args.is_empty() && a.files.filename.is_empty() {
        return Err(CmdError::raw(
            "You must specify the type of resource to get. Use \"kubectl api-resources\" for a complete list of supported resources.\n\n\
             error: Required resource not specified.\nUse \"kubectl explain <resource>\" for a detailed description of that resource (e.g. kubectl explain pods).\nSee 'kubectl get -h' for help and examples",
        ));
    }
    if a.watch || a.watch_only {
        return super::watch::run(ctx, &a, &output).await;
    }
    let mut errors = Vec::new();
    let (groups, single) = fetch(ctx, &a, &mut errors).await?;
    let ns = ctx.namespace()?;
    let mut groups = groups;
    if let Some(sort) = &a.sort_by {
        for g in &mut groups {
            sort_objects(&mut g.objects, sort)?;
        }
    }
    if output.is_table() {
        let text = render_tables(&groups, &a, output == Output::Wide);
        out(&text);
        if text.is_empty() && errors.is_empty() && !a.ignore_not_found {
            let all_namespaced = !a.all_namespaces && groups.iter().all(|g| g.resource.namespaced);
            if all_namespaced {
                err(&format!("No resources found in {ns} namespace.\n"));
            } else {
                err("No resources found\n");
            }
        }
    } else {
        let strip = !a.show_managed_fields;
        let pairs: Vec<(&ApiResource, Value)> = groups
            .iter()
            .flat_map(|g| g.objects.iter().map(move |o| (&g.resource, if strip { without_managed_fields(o.clone()) } else { o.clone() })))
            .collect();
        let single = single && pairs.len() == 1;
        if !(pairs.is_empty() && matches!(output, Output::Name)) {
            out(&print_objects(&output, &pairs, single, a.no_headers)?);
        }
    }
    CmdError::aggregate(errors)
}

/// Fetches what the arguments name; NotFound errors are collected, not fatal.
/// Returns the groups and whether a single object was named.
pub async fn fetch(ctx: &Ctx, a: &GetArgs, errors: &mut Vec<CmdError>) -> CmdResult<(Vec<Fetched>, bool)> {
    let d = ctx.discovery().await?;
    let ns = ctx.namespace()?;
    let mut groups: Vec<Fetched> = Vec::new();
    let push = |r: &ApiResource, o: Value, groups: &mut Vec<Fetched>| match groups.last_mut() {
        Some(g) if g.resource == *r => g.objects.push(with_type(r, o)),
        _ => groups.push(Fetched { resource: r.clone(), objects: vec![with_type(r, o)] }),
    };
    if !a.files.filename.is_empty() {
        let items = crate::manifest::read(&a.files.filename, a.files.recursive)?;
        let single = items.len() == 1;
        for item in items {
            let (r, ns) = map_item(ctx, d, &item)?;
            let api = ctx.api(r, ns.as_deref()).await?;
            match api.get(crate::util::name(&item.obj)).await {
                Ok(o) => push(r, o, &mut groups),
                Err(e) if e.is_not_found() && a.ignore_not_found => {}
                Err(e) => errors.push(e.into()),
            }
        }
        return Ok((groups, single));
    }
    let targets = parse_targets(d, &a.args)?;
    let single = targets.len() == 1 && targets[0].names.len() == 1;
    let list_ns = if a.all_namespaces { None } else { Some(ns.as_str()) };
    for t in &targets {
        let api = ctx.api(&t.resource, list_ns).await?;
        if t.names.is_empty() {
            let mut lp = ListParams::default();
            lp.label_selector = a.selector.clone();
            lp.field_selector = a.field_selector.clone();
            let list = api.list(&lp).await?;
            // Empty lists still count as a requested type (for the kind prefix).
            if list.items.is_empty() {
                groups.push(Fetched { resource: t.resource.clone(), objects: vec![] });
            }
            for o in list.items {
                push(&t.resource, o, &mut groups);
            }
        } else {
            let api = ctx.api(&t.resource, Some(&ns)).await?;
            for n in &t.names {
                match api.get(n).await {
                    Ok(o) => push(&t.resource, o, &mut groups),
                    Err(e) if e.is_not_found() && a.ignore_not_found => {}
                    Err(e) => errors.push(e.into()),
                }
            }
        }
    }
    Ok((groups, single))
}

/// One table per resource type, separated by blank lines.
pub fn render_tables(groups: &[Fetched], a: &GetArgs, wide: bool) -> String {
    let kinds: std::collections::HashSet<(&str, &str)> =
        groups.iter().map(|g| (g.resource.group.as_str(), g.resource.kind.as_str())).collect();
    let opts = TableOptions {
        wide,
        no_headers: a.no_headers,
        show_labels: a.show_labels,
        label_columns: a.label_columns.clone(),
        with_namespace: a.all_namespaces,
        with_kind: kinds.len() > 1 || a.show_kind,
    };
    let now = chrono::Utc::now();
    let mut text = String::new();
    for g in groups.iter().filter(|g| !g.objects.is_empty()) {
        if !text.is_empty() && !a.no_headers {
            text.push('\n');
        }
        text.push_str(&table::render(&g.resource, &g.objects, &opts, now));
    }
    text
}

/// kubectl hides metadata.managedFields unless --show-managed-fields.
pub fn without_managed_fields(mut o: Value) -> Value {
    if let Some(m) = o.pointer_mut("/metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    o
}

/// `--sort-by`: numbers numerically, everything else as text.
pub fn sort_objects(objs: &mut [Value], field: &str) -> CmdResult {
    let expr = if field.starts_with('{') { field.to_string() } else { format!("{{{field}}}") };
    let jp = crate::printers::jsonpath::JsonPath::parse(&expr)?;
    let key = |v: &Value| jp.values(v).into_iter().next();
    objs.sort_by(|x, y| {
        let (a, b) = (key(x), key(y));
        match (a.as_ref().and_then(Value::as_f64), b.as_ref().and_then(Value::as_f64)) {
            (Some(p), Some(q)) => p.partial_cmp(&q).unwrap_or(std::cmp::Ordering::Equal),
            _ => {
                let t = |v: Option<&Value>| v.map(crate::printers::jsonpath::text).unwrap_or_default();
                // Quantities such as "100Mi" compare by value when both parse.
                match (api::Quantity::parse(&t(a.as_ref())), api::Quantity::parse(&t(b.as_ref()))) {
                    (Ok(p), Ok(q)) => p.cmp(&q),
                    _ => t(a.as_ref()).cmp(&t(b.as_ref())),
                }
            }
        }
    });
    Ok(())
}

/// Prints a row with remembered column widths (kubectl's tabwriter with
/// RememberWidths, used by watch): widths only grow.
pub fn row_with_widths(cells: &[String], widths: &mut Vec<usize>) -> String {
    let mut s = String::new();
    for (i, c) in cells.iter().enumerate() {
        if i + 1 == cells.len() {
            s.push_str(c);
            continue;
        }
        if widths.len() <= i {
            widths.push(0);
        }
        widths[i] = widths[i].max(c.chars().count() + 3).max(6);
        s.push_str(c);
        s.extend(std::iter::repeat_n(' ', widths[i] - c.chars().count()));
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_numbers_text_and_quantities() {
        let mut v = vec![json!({"n": "b", "x": 10, "q": "1Gi"}), json!({"n": "a", "x": 9, "q": "500Mi"})];
        sort_objects(&mut v, ".x").unwrap();
        assert_eq!(v[0]["x"], 9);
        sort_objects(&mut v, "{.n}").unwrap();
        assert_eq!(v[0]["n"], "a");
        sort_objects(&mut v, ".q").unwrap();
        assert_eq!(v[0]["q"], "500Mi");
    }
}
