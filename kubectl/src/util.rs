//! Small helpers shared by commands and printers: reading fields of JSON
//! objects, upstream-style YAML/JSON encoding, Go's tabwriter.

use serde_json::{Map, Value};

pub use crate::printers::yaml::to_yaml;

/// Recursively sorts object keys (Go's encoding of maps is sorted).
pub fn sort_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut pairs: Vec<(String, Value)> = m.into_iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(pairs.into_iter().map(|(k, v)| (k, sort_keys(v))).collect::<Map<_, _>>())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sort_keys).collect()),
        o => o,
    }
}

/// Go's `json.MarshalIndent(obj, "", "    ")` with sorted keys and HTML escaping.
pub fn to_json(v: &Value) -> String {
    let v = sort_keys(v.clone());
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(&v, &mut ser).expect("JSON values always serialize");
    go_escape(&String::from_utf8(buf).expect("serde_json writes UTF-8"))
}

/// Compact JSON as Go's `json.Marshal` writes it.
pub fn to_json_compact(v: &Value) -> String {
    go_escape(&serde_json::to_string(&sort_keys(v.clone())).expect("JSON values always serialize"))
}

/// `<`, `>`, `&`, U+2028 and U+2029 only occur inside JSON strings, so a plain
/// replacement gives Go's escaping.
fn go_escape(s: &str) -> String {
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// A string at a JSON pointer, or "".
pub fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// An integer at a JSON pointer, or 0.
pub fn i(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

/// The array at a JSON pointer, or empty.
pub fn arr<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.pointer(ptr).and_then(Value::as_array).map(|a| a.as_slice()).unwrap_or(&[])
}

pub fn name(v: &Value) -> &str {
    s(v, "/metadata/name")
}
pub fn namespace(v: &Value) -> &str {
    s(v, "/metadata/namespace")
}

/// "k=v,k2=v2" sorted by key, as upstream's labels.FormatLabels; "<none>" if empty.
pub fn format_labels(m: Option<&Value>) -> String {
    let mut pairs: Vec<(String, String)> = m
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default();
    if pairs.is_empty() {
        return "<none>".into();
    }
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// Go's text/tabwriter as kubectl configures it (minwidth 6, padding 3,
/// pad char ' '): every tab-terminated cell is padded to its column's width;
/// the text after a line's last tab is printed as is.
pub struct TabWriter {
    lines: Vec<Vec<String>>,
    minwidth: usize,
    padding: usize,
}

impl Default for TabWriter {
    fn default() -> Self {
        TabWriter { lines: Vec::new(), minwidth: 6, padding: 3 }
    }
}

impl TabWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Other settings, e.g. describe's (minwidth 0, padding 2).
    pub fn with(minwidth: usize, padding: usize) -> Self {
        TabWriter { lines: Vec::new(), minwidth, padding }
    }

    /// Adds one line of cells; the last cell is the unaligned trailing text.
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) {
        self.lines.push(cells.iter().map(|c| c.as_ref().to_string()).collect());
    }

    /// Adds text in Go's form: cells separated by '\t', lines by '\n'.
    pub fn write_str(&mut self, text: &str) {
        for line in text.lines() {
            self.lines.push(line.split('\t').map(str::to_string).collect());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        // Column blocks: consecutive lines that have a cell in that column.
        let widths = self.column_widths(self.minwidth, self.padding);
        for (li, line) in self.lines.iter().enumerate() {
            for (ci, cell) in line.iter().enumerate() {
                if ci + 1 == line.len() {
                    out.push_str(cell);
                } else {
                    let w = widths[li][ci];
                    out.push_str(cell);
                    let n = w.saturating_sub(cell.chars().count());
                    out.extend(std::iter::repeat_n(' ', n));
                }
            }
            out.push('\n');
        }
        out
    }

    fn column_widths(&self, minwidth: usize, padding: usize) -> Vec<Vec<usize>> {
        let mut widths: Vec<Vec<usize>> = self.lines.iter().map(|l| vec![0; l.len()]).collect();
        let max_cols = self.lines.iter().map(|l| l.len()).max().unwrap_or(0);
        for col in 0..max_cols {
            let mut start = 0;
            while start < self.lines.len() {
                // A block is a run of lines with a terminated cell in `col`.
                if self.lines[start].len() <= col + 1 {
                    start += 1;
                    continue;
                }
                let mut end = start;
                let mut w = minwidth;
                while end < self.lines.len() && self.lines[end].len() > col + 1 {
                    w = w.max(self.lines[end][col].chars().count() + padding);
                    end += 1;
                }
                for l in &mut widths[start..end] {
                    l[col] = w;
                }
                start = end;
            }
        }
        widths
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tabwriter_like_go() {
        let mut tw = TabWriter::new();
        tw.write_str("CURRENT\tNAME\tCLUSTER\tAUTHINFO\tNAMESPACE\n*\tlocal\tlocal\tadmin\t\n\tother\tother\tbob\tkube-system\n");
        assert_eq!(tw.render(), include_str!("../tests/golden/config_get_contexts.txt"));
        let mut tw = TabWriter::new();
        tw.row(&["NAME", "AGE"]);
        tw.row(&["a", "5s"]);
        assert_eq!(tw.render(), "NAME   AGE\na      5s\n");
    }

    #[test]
    fn json_like_go() {
        let v = serde_json::json!({"b": 1, "a": {"x": "<&>"}, "c": [], "d": {}});
        assert_eq!(
            to_json(&v),
            "{\n    \"a\": {\n        \"x\": \"\\u003c\\u0026\\u003e\"\n    },\n    \"b\": 1,\n    \"c\": [],\n    \"d\": {}\n}"
        );
    }

    #[test]
    fn labels() {
        let v = serde_json::json!({"b": "2", "a": "1"});
        assert_eq!(format_labels(Some(&v)), "a=1,b=2");
        assert_eq!(format_labels(None), "<none>");
    }
}
