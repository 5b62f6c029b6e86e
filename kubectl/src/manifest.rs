//! Reading objects from `-f`: files, directories (`-R` to recurse), `-` for
//! stdin, multi-document YAML, JSON, and `List` kinds. The YAML-to-JSON
//! conversion itself is `client::yaml`, shared with the kubelet.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use crate::error::{CmdError, CmdResult};

/// One object and where it came from (the file name, as in upstream's messages).
#[derive(Debug, Clone)]
pub struct Item {
    pub source: String,
    pub obj: Value,
}

/// Reads every object named by `-f` values.
pub fn read(filenames: &[String], recursive: bool) -> CmdResult<Vec<Item>> {
    let mut items = Vec::new();
    for f in filenames {
        if f == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            items.extend(parse("STDIN", &text)?);
            continue;
        }
        if f.starts_with("http://") || f.starts_with("https://") {
            return Err(CmdError::msg(format!("unable to read URL \"{f}\": remote manifests are not supported")));
        }
        let p = Path::new(f);
        if !p.exists() {
            return Err(CmdError::msg(format!("the path \"{f}\" does not exist")));
        }
        if p.is_dir() {
            read_dir(p, recursive, &mut items)?;
        } else {
            items.extend(parse(f, &std::fs::read_to_string(p)?)?);
        }
    }
    Ok(items)
}

fn read_dir(dir: &Path, recursive: bool, items: &mut Vec<Item>) -> CmdResult<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if recursive {
                read_dir(&p, recursive, items)?;
            }
            continue;
        }
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if matches!(ext, "yaml" | "yml" | "json") {
            let name = p.to_string_lossy().to_string();
            items.extend(parse(&name, &std::fs::read_to_string(&p)?)?);
        }
    }
    Ok(())
}

/// Parses one file's text: a JSON stream, or YAML with any number of
/// documents, as upstream's kubectl reads it (client::yaml: YAML 1.1 scalars,
/// so `defaultMode: 0660` is 432).
pub fn parse(source: &str, text: &str) -> CmdResult<Vec<Item>> {
    let docs = client::yaml::documents(text).map_err(|e| CmdError::msg(format!("error parsing {source}: {e}")))?;
    let mut items = Vec::new();
    for doc in docs {
        flatten(source, doc, &mut items)?;
    }
    Ok(items)
}

fn flatten(source: &str, doc: Value, items: &mut Vec<Item>) -> CmdResult<()> {
    match doc {
        Value::Null => Ok(()),
        Value::Object(ref m) if m.is_empty() => Ok(()),
        Value::Object(ref m) => {
            let kind = m.get("kind").and_then(Value::as_str).unwrap_or("");
            if kind.is_empty() {
                return Err(CmdError::msg(format!(
                    "unable to decode \"{source}\": Object 'Kind' is missing in '{}'",
                    serde_json::to_string(&doc).unwrap_or_default()
                )));
            }
            if m.get("apiVersion").and_then(Value::as_str).unwrap_or("").is_empty() {
                return Err(CmdError::msg(format!(
                    "unable to decode \"{source}\": Object 'apiVersion' is missing in '{}'",
                    serde_json::to_string(&doc).unwrap_or_default()
                )));
            }
            if kind.ends_with("List") && m.get("items").is_some_and(Value::is_array) {
                if let Some(Value::Array(list)) = doc.get("items").cloned() {
                    for it in list {
                        flatten(source, it, items)?;
                    }
                }
                return Ok(());
            }
            items.push(Item { source: source.to_string(), obj: doc });
            Ok(())
        }
        _ => Err(CmdError::msg(format!("error parsing {source}: the document is not an object"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_doc_yaml_and_lists() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n- apiVersion: v1\n  kind: Service\n  metadata: {name: c}\n";
        let items = parse("f.yaml", text).unwrap();
        let names: Vec<_> = items.iter().map(|i| i.obj["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(items.iter().all(|i| i.source == "f.yaml"));
    }

    #[test]
    fn json_and_errors() {
        let items = parse("f.json", r#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}}"#).unwrap();
        assert_eq!(items[0].obj["kind"], "Namespace");
        let e = parse("f.yaml", "metadata: {name: a}\n").unwrap_err();
        assert!(e.render().0.starts_with("error: unable to decode \"f.yaml\": Object 'Kind' is missing"));
        assert!(parse("f.yaml", "a: [").is_err());
    }

    #[test]
    fn yaml_1_1_scalars_and_duplicate_keys_as_upstream() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: fortune\nspec:\n  volumes:\n  - name: config\n    configMap:\n      name: fortune-config\n      defaultMode: 0660\n      optional: yes\n";
        let items = parse("f.yaml", text).unwrap();
        assert_eq!(items[0].obj["spec"]["volumes"][0]["configMap"]["defaultMode"], 432);
        assert_eq!(items[0].obj["spec"]["volumes"][0]["configMap"]["optional"], true);
        // kubectl 1.27-1.33 keep the last of duplicate keys for -f (only -k refuses them).
        let items = parse("f.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  a: x\n  a: z\n").unwrap();
        assert_eq!(items[0].obj["data"]["a"], "z");
        let e = parse("f.yaml", "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: .inf\n").unwrap_err();
        assert_eq!(e.render().0, "error: error parsing f.yaml: error converting YAML to JSON: json: unsupported value: +Inf\n");
    }

    #[test]
    fn directories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/b.json"), r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"}}"#).unwrap();
        let d = dir.path().to_string_lossy().to_string();
        assert_eq!(read(std::slice::from_ref(&d), false).unwrap().len(), 1);
        assert_eq!(read(&[d], true).unwrap().len(), 2);
        let e = read(&["/nonexistent.yaml".into()], false).unwrap_err();
        assert_eq!(e.render().0, "error: the path \"/nonexistent.yaml\" does not exist\n");
    }
}
