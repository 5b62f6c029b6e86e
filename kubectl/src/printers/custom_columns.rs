//! `-o custom-columns=HEADER:.path,...`: each cell is the JSONPath's values
//! joined by ",", or "<none>".

use serde_json::Value;

use super::jsonpath::JsonPath;
use crate::error::{CmdError, CmdResult};
use crate::util::TabWriter;

pub struct CustomColumns {
    cols: Vec<(String, JsonPath)>,
}

impl CustomColumns {
    pub fn parse(spec: &str) -> CmdResult<Self> {
        let mut cols = Vec::new();
        for part in spec.split(',').filter(|p| !p.is_empty()) {
            let Some((header, path)) = part.split_once(':') else {
                return Err(CmdError::msg(format!(
                    "unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>"
                )));
            };
            let expr = if path.starts_with('{') { path.to_string() } else { format!("{{{path}}}") };
            cols.push((header.to_string(), JsonPath::parse(&expr)?));
        }
        if cols.is_empty() {
            return Err(CmdError::msg("custom-columns format specified but no custom columns given"));
        }
        Ok(CustomColumns { cols })
    }

    pub fn render(&self, objs: &[Value], no_headers: bool) -> String {
        let mut tw = TabWriter::new();
        if !no_headers {
            tw.row(&self.cols.iter().map(|c| c.0.clone()).collect::<Vec<_>>());
        }
        for o in objs {
            let cells: Vec<String> = self
                .cols
                .iter()
                .map(|(_, p)| {
                    let vals = p.values(o);
                    if vals.is_empty() {
                        "<none>".to_string()
                    } else {
                        vals.iter().map(go_v).collect::<Vec<_>>().join(",")
                    }
                })
                .collect();
            tw.row(&cells);
        }
        tw.render()
    }
}

/// Go's `fmt.Sprintf("%v", v)` of a decoded JSON value, as upstream's
/// custom-columns printer shows it: `map[a:1 b:2]`, `[x y]`, `<nil>`.
pub fn go_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_v).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<_> = m.keys().collect();
            keys.sort();
            format!("map[{}]", keys.iter().map(|k| format!("{k}:{}", go_v(&m[*k]))).collect::<Vec<_>>().join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns() {
        let cc = CustomColumns::parse("NAME:.metadata.name,IMAGES:.spec.containers[*].image,NODE:.spec.nodeName").unwrap();
        let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"image": "a"}, {"image": "b"}]}});
        assert_eq!(cc.render(&[pod], false), "NAME   IMAGES   NODE\np      a,b      <none>\n");
        assert!(CustomColumns::parse("bad").is_err());
        let cc = CustomColumns::parse("LABELS:.metadata.labels,PORTS:.spec.ports[*].port").unwrap();
        let svc = json!({"metadata": {"labels": {"b": "2", "a": "1"}}, "spec": {"ports": [{"port": 80}, {"port": 443}]}});
        assert_eq!(cc.render(&[svc], true), "map[a:1 b:2]   80,443\n");
    }
}
