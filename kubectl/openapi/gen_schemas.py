#!/usr/bin/env python3
"""Builds kubectl/openapi/schemas.json, the schema data `kubectl explain`
compiles in, from the k8s-openapi crate's v1_33 sources (doc comments are
the OpenAPI descriptions; serde field names are the JSON names), plus enum
lists from upstream's OpenAPI v3 test documents where a field has one.

Usage: gen_schemas.py <k8s-openapi>/src/v1_33 [old schemas.json with enums] > schemas.json
"""
import json, os, re, sys

root = sys.argv[1]
old = json.load(open(sys.argv[2])) if len(sys.argv) > 2 else {}

TYPE_MAP = {
    "std::string::String": ("string", None), "i32": ("integer", None), "i64": ("integer", None),
    "f64": ("number", None), "bool": ("boolean", None), "crate::ByteString": ("string", None),
    "crate::serde_json::Value": ("object", None),
}

def unescape(s):
    return re.sub(r"\\([\\`*_{}\[\]()#+\-.!<>|])", r"\1", s)

def doc_of(lines):
    return unescape("\n".join(l[4:] if l.startswith("/// ") else l[3:] for l in lines)).strip("\n") or None

def field_type(t):
    t = t.strip()
    m = re.fullmatch(r"Option<(.*)>", t)
    if m:
        return field_type(m.group(1))
    m = re.fullmatch(r"std::vec::Vec<(.*)>", t)
    if m:
        return {"t": "array", "i": field_type(m.group(1))}
    m = re.fullmatch(r"std::collections::BTreeMap<std::string::String, (.*)>", t)
    if m:
        return {"t": "object", "m": field_type(m.group(1))}
    if t in TYPE_MAP:
        return {"t": TYPE_MAP[t][0]}
    m = re.fullmatch(r"crate::((?:\w+::)+)(\w+)", t)
    if m:
        path = m.group(1).rstrip(":").replace("::", ".")
        return {"r": "io.k8s." + path + "." + m.group(2)}
    return {"t": "object"}

out = {}
for dirpath, _, files in os.walk(root):
    for fn in files:
        if not fn.endswith(".rs") or fn == "mod.rs":
            continue
        text = open(os.path.join(dirpath, fn)).read()
        m = re.search(r"// Generated from definition (\S+)", text)
        if not m:
            continue
        name = m.group(1)
        lines = text.split("\n")
        entry = {}
        # The type's doc: the /// lines before `pub struct` / `pub enum`.
        for i, l in enumerate(lines):
            if re.match(r"pub (struct|enum) ", l):
                j = i - 1
                while j >= 0 and not lines[j].startswith("///"):
                    j -= 1
                k = j
                while k >= 0 and lines[k].startswith("///"):
                    k -= 1
                d = doc_of(lines[k + 1:j + 1])
                if d:
                    entry["d"] = d
                if l.startswith("pub struct") and "(" in l:
                    entry["t"] = "string"  # newtypes: Time, MicroTime, Quantity
                break
        json_names = dict((rust, js) for js, rust in re.findall(r'"([^"]+)" => Field::Key_(\w+)', text))
        props, required = {}, []
        doc = []
        in_struct = False
        for l in lines:
            if re.match(r"pub struct \w+ \{", l):
                in_struct = True
                continue
            if in_struct and l.startswith("}"):
                break
            if not in_struct:
                continue
            s = l.strip()
            if s.startswith("///"):
                doc.append(s)
                continue
            m = re.match(r"pub (r#)?(\w+): (.*),$", s)
            if m:
                rust = m.group(2)
                js = json_names.get(rust, rust)
                f = field_type(m.group(3))
                d = doc_of(doc)
                if d:
                    f["d"] = d
                e = old.get(name, {}).get("p", {}).get(js, {}).get("e")
                if e:
                    f["e"] = e
                props[js] = f
                # k8s-openapi makes metadata non-optional; the API does not require it.
                if not m.group(3).startswith("Option<") and js != "metadata":
                    required.append(js)
            doc = []
        if "impl crate::Resource for" in text:
            g = dict(re.findall(r"const (GROUP|KIND|VERSION): &'static str = \"([^\"]*)\"", text))
            entry["g"] = [[g.get("GROUP", ""), g.get("VERSION", ""), g.get("KIND", "")]]
            base = old.get("io.k8s.api.core.v1.Pod", {}).get("p", {})
            for k in ("apiVersion", "kind"):
                if k in base:
                    props[k] = base[k]
        if props:
            entry["p"] = props
            if "t" not in entry:
                entry["t"] = "object"
        if required:
            entry["q"] = sorted(required)
        # Keep upstream's type for schemas it had (e.g. Quantity and IntOrString have none).
        if name in old:
            if "t" in old[name]:
                entry["t"] = old[name]["t"]
            else:
                entry.pop("t", None)
        out[name] = entry

json.dump(out, sys.stdout, separators=(",", ":"), sort_keys=True)
