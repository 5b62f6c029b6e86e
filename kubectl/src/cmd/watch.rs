//! `kubectl get -w` / `--watch-only`: the list, then one row per change.

use client::{ListParams, WatchEvent, WatchParams};
use futures::StreamExt;
use serde_json::Value;

use super::common::{parse_targets, with_type};
use super::get::{row_with_widths, GetArgs};
use crate::context::{out, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::printers::table::{self, TableOptions};
use crate::printers::{print_each, Output};

pub async fn run(ctx: &Ctx, a: &GetArgs, output: &Output) -> CmdResult {
    let d = ctx.discovery().await?;
    let targets = parse_targets(d, &a.args)?;
    if targets.len() != 1 {
        return Err(CmdError::msg(format!(
            "watch is only supported on individual resources and resource collections, but {} resources were found",
            targets.len()
        )));
    }
    let t = &targets[0];
    let ns = ctx.namespace()?;
    let api = ctx.api(&t.resource, if a.all_namespaces { None } else { Some(&ns) }).await?;
    let mut field = a.field_selector.clone();
    if let [name] = t.names.as_slice() {
        let f = format!("metadata.name={name}");
        field = Some(match field {
            Some(x) if !x.is_empty() => format!("{x},{f}"),
            _ => f,
        });
    }
    let lp = ListParams { label_selector: a.selector.clone(), field_selector: field.clone(), ..Default::default() };
    let list = api.list(&lp).await?;
    let opts = TableOptions {
        wide: *output == Output::Wide,
        no_headers: a.no_headers,
        show_labels: a.show_labels,
        label_columns: a.label_columns.clone(),
        with_namespace: a.all_namespaces,
        with_kind: a.show_kind,
    };
    let r = &t.resource;
    let now = chrono::Utc::now();
    let mut widths: Vec<usize> = Vec::new();
    let mut header_printed = false;
    let print_obj = |o: &Value, widths: &mut Vec<usize>, header_printed: &mut bool| -> CmdResult {
        if output.is_table() {
            let mut text = String::new();
            let cells = table::row(r, o, &opts, chrono::Utc::now());
            if !*header_printed && !opts.no_headers {
                let h = table::headers(r, &opts);
                // The header and the first row are aligned together.
                for (i, (hc, cc)) in h.iter().zip(cells.iter()).enumerate() {
                    let w = hc.chars().count().max(cc.chars().count()) + 3;
                    if widths.len() <= i {
                        widths.push(w);
                    } else {
                        widths[i] = widths[i].max(w);
                    }
                }
                text.push_str(&row_with_widths(&h, widths));
            }
            *header_printed = true;
            text.push_str(&row_with_widths(&cells, widths));
            out(&text);
        } else {
            out(&print_each(output, &[(r, o.clone())])?);
        }
        Ok(())
    };
    if !a.watch_only {
        let items: Vec<Value> = list.items.into_iter().map(|o| with_type(r, o)).collect();
        if output.is_table() && !items.is_empty() {
            let text = table::render(r, &items, &opts, now);
            // Remember the column widths of the first table for later rows.
            let mut h = table::headers(r, &opts);
            let rows: Vec<Vec<String>> = items.iter().map(|o| table::row(r, o, &opts, now)).collect();
            if opts.no_headers {
                h = rows[0].clone();
            }
            widths = (0..h.len())
                .map(|i| rows.iter().map(|c| c[i].chars().count()).chain([h[i].chars().count()]).max().unwrap_or(0) + 3)
                .map(|w| w.max(6))
                .collect();
            header_printed = true;
            out(&text);
        } else {
            for o in &items {
                print_obj(o, &mut widths, &mut header_printed)?;
            }
        }
    }
    let wp = WatchParams { label_selector: a.selector.clone(), field_selector: field, ..Default::default() };
    let mut stream = Box::pin(api.watch(&wp, &list.resource_version).await?);
    while let Some(ev) = stream.next().await {
        match ev? {
            WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) => {
                print_obj(&with_type(r, o), &mut widths, &mut header_printed)?
            }
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => return Err(CmdError::Api(e)),
        }
    }
    Ok(())
}
