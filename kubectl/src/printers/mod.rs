//! Output formats: tables (`-o wide`), yaml, json, name, jsonpath,
//! custom-columns.

pub mod custom_columns;
pub mod json;
pub mod jsonpath;
pub mod kinds;
pub mod age;
pub mod name;
pub mod pod;
pub mod table;
pub mod yaml;

use client::proto::v1::ApiResource;
use serde_json::Value;

use crate::error::{CmdError, CmdResult};

#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Table,
    Wide,
    Yaml,
    Json,
    Name,
    JsonPath(String),
    CustomColumns(String),
}

impl Output {
    pub fn parse(o: Option<&str>) -> CmdResult<Output> {
        let Some(o) = o.filter(|o| !o.is_empty()) else { return Ok(Output::Table) };
        let (fmt, arg) = match o.split_once('=') {
            Some((f, a)) => (f, Some(a.to_string())),
            None => (o, None),
        };
        Ok(match (fmt, arg) {
            ("wide", None) => Output::Wide,
            ("yaml", None) => Output::Yaml,
            ("json", None) => Output::Json,
            ("name", None) => Output::Name,
            ("jsonpath" | "jsonpath-as-json", Some(a)) => Output::JsonPath(a),
            ("jsonpath-file", Some(f)) => Output::JsonPath(std::fs::read_to_string(&f)?.trim_end().to_string()),
            ("custom-columns", Some(a)) => Output::CustomColumns(a),
            ("custom-columns-file", Some(f)) => {
                let text = std::fs::read_to_string(&f)?;
                let mut lines = text.lines();
                let headers: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
                let paths: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
                let spec = headers.iter().zip(paths).map(|(h, p)| format!("{h}:{p}")).collect::<Vec<_>>().join(",");
                Output::CustomColumns(spec)
            }
            ("jsonpath" | "custom-columns", None) => {
                return Err(CmdError::msg(format!("{fmt} format specified but no {fmt} template given")))
            }
            _ => {
                return Err(CmdError::msg(format!(
                    "unable to match a printer suitable for the output format \"{o}\", allowed formats are: \
                     custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,jsonpath-as-json,\
                     jsonpath-file,name,template,templatefile,wide,yaml"
                )))
            }
        })
    }

    /// `-o` of commands that write objects (create, apply, patch, ...): no
    /// tables or custom columns, as upstream's PrintFlags.
    pub fn parse_for_write(o: Option<&str>) -> CmdResult<Output> {
        let out = Output::parse(o)?;
        if matches!(out, Output::Wide | Output::CustomColumns(_)) {
            return Err(CmdError::msg(format!(
                "unable to match a printer suitable for the output format \"{}\", allowed formats are: \
                 go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,template,templatefile,yaml",
                o.unwrap_or_default()
            )));
        }
        Ok(out)
    }

    pub fn is_table(&self) -> bool {
        matches!(self, Output::Table | Output::Wide)
    }
}

/// Prints objects in a non-table format. `single`: one object asked for by
/// name, printed bare rather than inside a List.
pub fn print_objects(out: &Output, objs: &[(&ApiResource, Value)], single: bool, no_headers: bool) -> CmdResult<String> {
    let values: Vec<Value> = objs.iter().map(|(_, v)| v.clone()).collect();
    let body = || if single && values.len() == 1 { values[0].clone() } else { json::list(values.clone()) };
    Ok(match out {
        Output::Json => json::to_json(&body()),
        Output::Yaml => yaml::to_yaml(&body()),
        Output::Name => objs.iter().map(|(r, v)| name::line(r, v)).collect(),
        Output::JsonPath(t) => jsonpath::JsonPath::parse(t)?.execute(&body())?,
        Output::CustomColumns(spec) => custom_columns::CustomColumns::parse(spec)?.render(&values, no_headers),
        Output::Table | Output::Wide => String::new(),
    })
}

/// Prints objects produced by a mutating command (`create -o yaml`): each
/// object on its own, YAML documents separated by "---".
pub fn print_each(out: &Output, objs: &[(&ApiResource, Value)]) -> CmdResult<String> {
    let mut s = String::new();
    for (i, (r, v)) in objs.iter().enumerate() {
        match out {
            Output::Yaml => {
                if i > 0 {
                    s.push_str("---\n");
                }
                s.push_str(&yaml::to_yaml(v));
            }
            Output::Json => s.push_str(&json::to_json(v)),
            Output::Name => s.push_str(&name::line(r, v)),
            Output::JsonPath(t) => s.push_str(&jsonpath::JsonPath::parse(t)?.execute(v)?),
            _ => {}
        }
    }
    Ok(s)
}
