//! describePod and the container sections shared with pod templates.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{annotations, controller, events, labels, rfc1123z, Evs, W};
use crate::util::{arr, i, s};

fn ports(c: &Value, host: bool) -> String {
    arr(c, "/ports")
        .iter()
        .map(|p| {
            let proto = match s(p, "/protocol") {
                "" => "TCP",
                x => x,
            };
            let n = if host { i(p, "/hostPort") } else { i(p, "/containerPort") };
            let mut t = format!("{n}/{proto}");
            if !s(p, "/name").is_empty() {
                t = format!("{t} ({})", s(p, "/name"));
            }
            t
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn or_none(x: String) -> String {
    if x.is_empty() {
        "<none>".into()
    } else {
        x
    }
}

fn state(w: &mut W, title: &str, st: &Value) {
    if let Some(r) = st.get("running") {
        w.w(2, &format!("{title}:\tRunning\n"));
        w.w(3, &format!("Started:\t{}\n", rfc1123z(s(r, "/startedAt"))));
    } else if let Some(t) = st.get("terminated") {
        w.w(2, &format!("{title}:\tTerminated\n"));
        if !s(t, "/reason").is_empty() {
            w.w(3, &format!("Reason:\t{}\n", s(t, "/reason")));
        }
        if !s(t, "/message").is_empty() {
            w.w(3, &format!("Message:\t{}\n", s(t, "/message")));
        }
        w.w(3, &format!("Exit Code:\t{}\n", i(t, "/exitCode")));
        if i(t, "/signal") > 0 {
            w.w(3, &format!("Signal:\t{}\n", i(t, "/signal")));
        }
        w.w(3, &format!("Started:\t{}\n", rfc1123z(s(t, "/startedAt"))));
        w.w(3, &format!("Finished:\t{}\n", rfc1123z(s(t, "/finishedAt"))));
    } else {
        w.w(2, &format!("{title}:\tWaiting\n"));
        if let Some(r) = st.get("waiting").map(|x| s(x, "/reason")).filter(|r| !r.is_empty()) {
            w.w(3, &format!("Reason:\t{r}\n"));
        }
    }
}

fn resources(w: &mut W, c: &Value) {
    for (title, ptr) in [("Limits", "/resources/limits"), ("Requests", "/resources/requests")] {
        if let Some(m) = c.pointer(ptr).and_then(Value::as_object).filter(|m| !m.is_empty()) {
            w.w(2, &format!("{title}:\n"));
            let mut keys: Vec<_> = m.keys().collect();
            keys.sort();
            for k in keys {
                w.w(3, &format!("{k}:\t{}\n", crate::printers::jsonpath::text(&m[k])));
            }
        }
    }
}

/// describeContainers: `space` is "" for pods and "  " inside templates.
pub fn containers(w: &mut W, label: &str, cs: &[Value], statuses: &[Value], space: &str) {
    let none = if cs.is_empty() { " <none>" } else { "" };
    w.w(0, &format!("{space}{label}:{none}\n"));
    for c in cs {
        let name = s(c, "/name");
        let st = statuses.iter().find(|x| s(x, "/name") == name);
        let name_indent = if space.is_empty() { "" } else { " " };
        w.w(1, &format!("{name_indent}{name}:\n"));
        if let Some(st) = st {
            w.w(2, &format!("Container ID:\t{}\n", s(st, "/containerID")));
        }
        w.w(2, &format!("Image:\t{}\n", s(c, "/image")));
        if let Some(st) = st {
            w.w(2, &format!("Image ID:\t{}\n", s(st, "/imageID")));
        }
        let p = ports(c, false);
        if p.contains(',') {
            w.w(2, &format!("Ports:\t{p}\n"));
        } else {
            w.w(2, &format!("Port:\t{}\n", or_none(p)));
        }
        let hp = ports(c, true);
        if hp.contains(',') {
            w.w(2, &format!("Host Ports:\t{hp}\n"));
        } else {
            w.w(2, &format!("Host Port:\t{}\n", or_none(hp)));
        }
        for (title, ptr) in [("Command", "/command"), ("Args", "/args")] {
            let items = arr(c, ptr);
            if !items.is_empty() {
                w.w(2, &format!("{title}:\n"));
                for a in items {
                    for line in a.as_str().unwrap_or_default().split('\n') {
                        w.w(3, &format!("{line}\n"));
                    }
                }
            }
        }
        if let Some(st) = st {
            state(w, "State", st.get("state").unwrap_or(&Value::Null));
            if let Some(last) = st.pointer("/lastState").filter(|l| l.get("terminated").is_some()) {
                state(w, "Last State", last);
            }
            let ready = if st.get("ready").and_then(Value::as_bool) == Some(true) { "True" } else { "False" };
            w.w(2, &format!("Ready:\t{ready}\n"));
            w.w(2, &format!("Restart Count:\t{}\n", i(st, "/restartCount")));
        }
        resources(w, c);
        let env = arr(c, "/env");
        w.w(2, &format!("Environment:{}\n", if env.is_empty() { "\t<none>" } else { "" }));
        for e in env {
            if e.get("valueFrom").is_some() {
                let from = e.get("valueFrom").unwrap();
                let text = if let Some(r) = from.get("secretKeyRef") {
                    format!("<set to the key '{}' in secret '{}'>", s(r, "/key"), s(r, "/name"))
                } else if let Some(r) = from.get("configMapKeyRef") {
                    format!("<set to the key '{}' of config map '{}'>", s(r, "/key"), s(r, "/name"))
                } else if let Some(r) = from.get("fieldRef") {
                    format!(" ({}:{})", s(r, "/apiVersion"), s(r, "/fieldPath"))
                } else {
                    String::new()
                };
                w.w(3, &format!("{}:\t{text}\n", s(e, "/name")));
                continue;
            }
            for (n, line) in s(e, "/value").split('\n').enumerate() {
                if n == 0 {
                    w.w(3, &format!("{}:\t{line}\n", s(e, "/name")));
                } else {
                    w.w(3, &format!("\t{line}\n"));
                }
            }
        }
        let mounts = arr(c, "/volumeMounts");
        w.w(2, &format!("Mounts:{}\n", if mounts.is_empty() { "\t<none>" } else { "" }));
        let mut mounts: Vec<&Value> = mounts.iter().collect();
        mounts.sort_by_key(|m| s(m, "/mountPath").to_string());
        for m in mounts {
            let mut flags = vec![if m.get("readOnly").and_then(Value::as_bool) == Some(true) { "ro".to_string() } else { "rw".to_string() }];
            if !s(m, "/subPath").is_empty() {
                flags.push(format!("path=\"{}\"", s(m, "/subPath")));
            }
            w.w(3, &format!("{} from {} ({})\n", s(m, "/mountPath"), s(m, "/name"), flags.join(",")));
        }
    }
}

pub fn volumes(w: &mut W, vols: &[Value], space: &str) {
    if vols.is_empty() {
        w.w(0, &format!("{space}Volumes:\t<none>\n"));
        return;
    }
    w.w(0, &format!("{space}Volumes:\n"));
    let name_indent = if space.is_empty() { "" } else { " " };
    for v in vols {
        w.w(1, &format!("{name_indent}{}:\n", s(v, "/name")));
        if let Some(e) = v.get("emptyDir") {
            w.w(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n");
            w.w(2, &format!("Medium:\t{}\n", s(e, "/medium")));
            w.w(2, &format!("SizeLimit:\t{}\n", match s(e, "/sizeLimit") { "" => "<unset>", x => x }));
        } else if let Some(h) = v.get("hostPath") {
            w.w(2, "Type:\tHostPath (bare host directory volume)\n");
            w.w(2, &format!("Path:\t{}\n", s(h, "/path")));
            w.w(2, &format!("HostPathType:\t{}\n", s(h, "/type")));
        } else if let Some(c) = v.get("configMap") {
            w.w(2, "Type:\tConfigMap (a volume populated by a ConfigMap)\n");
            w.w(2, &format!("Name:\t{}\n", s(c, "/name")));
            w.w(2, &format!("Optional:\t{}\n", c.get("optional").and_then(Value::as_bool).unwrap_or(false)));
        } else if let Some(c) = v.get("secret") {
            w.w(2, "Type:\tSecret (a volume populated by a Secret)\n");
            w.w(2, &format!("SecretName:\t{}\n", s(c, "/secretName")));
            w.w(2, &format!("Optional:\t{}\n", c.get("optional").and_then(Value::as_bool).unwrap_or(false)));
        } else if let Some(c) = v.get("persistentVolumeClaim") {
            w.w(2, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n");
            w.w(2, &format!("ClaimName:\t{}\n", s(c, "/claimName")));
            w.w(2, &format!("ReadOnly:\t{}\n", c.get("readOnly").and_then(Value::as_bool).unwrap_or(false)));
        }
    }
}

pub fn tolerations(w: &mut W, title: &str, tols: &[Value]) {
    w.w(0, &format!("{title}:\t"));
    if tols.is_empty() {
        w.w(0, "<none>\n");
        return;
    }
    for (n, t) in tols.iter().enumerate() {
        if n != 0 {
            w.w(0, "\t");
        }
        let mut line = s(t, "/key").to_string();
        if !s(t, "/value").is_empty() {
            line.push_str(&format!("={}", s(t, "/value")));
        }
        if !s(t, "/effect").is_empty() {
            line.push_str(&format!(":{}", s(t, "/effect")));
        }
        if s(t, "/operator") == "Exists" && s(t, "/value").is_empty() {
            if !s(t, "/key").is_empty() || !s(t, "/effect").is_empty() {
                line.push_str(" op=Exists");
            } else {
                line.push_str("op=Exists");
            }
        }
        if let Some(sec) = t.get("tolerationSeconds").and_then(Value::as_i64) {
            line.push_str(&format!(" for {sec}s"));
        }
        w.w(0, &format!("{line}\n"));
    }
}

/// The QoS class as upstream's describe shows it: status.qosClass, computed
/// (api::qos) only when the server has not set it.
fn qos(p: &Value) -> String {
    match s(p, "/status/qosClass") {
        "" => serde_json::from_value::<k8s_openapi::api::core::v1::Pod>(p.clone())
            .map(|pod| api::qos::pod_qos(&pod).as_str().to_string())
            .unwrap_or_default(),
        class => class.to_string(),
    }
}

pub fn describe(p: &Value, evs: Evs<'_>, now: DateTime<Utc>) -> String {
    let mut w = W::default();
    w.w(0, &format!("Name:\t{}\n", crate::util::name(p)));
    w.w(0, &format!("Namespace:\t{}\n", crate::util::namespace(p)));
    if let Some(pr) = p.pointer("/spec/priority").and_then(Value::as_i64) {
        w.w(0, &format!("Priority:\t{pr}\n"));
    }
    if !s(p, "/spec/priorityClassName").is_empty() {
        w.w(0, &format!("Priority Class Name:\t{}\n", s(p, "/spec/priorityClassName")));
    }
    if !s(p, "/spec/serviceAccountName").is_empty() {
        w.w(0, &format!("Service Account:\t{}\n", s(p, "/spec/serviceAccountName")));
    }
    match s(p, "/spec/nodeName") {
        "" => w.w(0, "Node:\t<none>\n"),
        n => w.w(0, &format!("Node:\t{n}/{}\n", s(p, "/status/hostIP"))),
    }
    if !s(p, "/status/startTime").is_empty() {
        w.w(0, &format!("Start Time:\t{}\n", rfc1123z(s(p, "/status/startTime"))));
    }
    labels(&mut w, "Labels", p.pointer("/metadata/labels"));
    annotations(&mut w, "Annotations", p.pointer("/metadata/annotations"));
    let phase = s(p, "/status/phase");
    if !s(p, "/metadata/deletionTimestamp").is_empty() && phase != "Failed" && phase != "Succeeded" {
        w.w(0, &format!("Status:\tTerminating (lasts {})\n", crate::printers::age::age_at(Some(s(p, "/metadata/deletionTimestamp")), now)));
        w.w(0, &format!("Termination Grace Period:\t{}s\n", i(p, "/metadata/deletionGracePeriodSeconds")));
    } else {
        w.w(0, &format!("Status:\t{phase}\n"));
    }
    if !s(p, "/status/reason").is_empty() {
        w.w(0, &format!("Reason:\t{}\n", s(p, "/status/reason")));
    }
    if !s(p, "/status/message").is_empty() {
        w.w(0, &format!("Message:\t{}\n", s(p, "/status/message")));
    }
    w.w(0, &format!("IP:\t{}\n", s(p, "/status/podIP")));
    let ips = arr(p, "/status/podIPs");
    if ips.is_empty() {
        w.w(0, "IPs:\t<none>\n");
    } else {
        w.w(0, "IPs:\n");
        for ip in ips {
            w.w(1, &format!("IP:\t{}\n", s(ip, "/ip")));
        }
    }
    if let Some(c) = controller(p) {
        w.w(0, &format!("Controlled By:\t{c}\n"));
    }
    if !s(p, "/status/nominatedNodeName").is_empty() {
        w.w(0, &format!("NominatedNodeName:\t{}\n", s(p, "/status/nominatedNodeName")));
    }
    let inits = arr(p, "/spec/initContainers");
    if !inits.is_empty() {
        containers(&mut w, "Init Containers", inits, arr(p, "/status/initContainerStatuses"), "");
    }
    containers(&mut w, "Containers", arr(p, "/spec/containers"), arr(p, "/status/containerStatuses"), "");
    let conds = arr(p, "/status/conditions");
    if !conds.is_empty() {
        w.w(0, "Conditions:\n  Type\tStatus\n");
        for c in conds {
            w.w(1, &format!("{} \t{} \n", s(c, "/type"), s(c, "/status")));
        }
    }
    volumes(&mut w, arr(p, "/spec/volumes"), "");
    w.w(0, &format!("QoS Class:\t{}\n", qos(p)));
    labels(&mut w, "Node-Selectors", p.pointer("/spec/nodeSelector"));
    tolerations(&mut w, "Tolerations", arr(p, "/spec/tolerations"));
    events(&mut w, evs, now);
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_like_upstream() {
        let pod: Value = serde_json::from_str(include_str!("../../tests/golden/describe_pod.json")).unwrap();
        let mut evs: Vec<Value> = vec![serde_json::json!({
            "type": "Normal", "reason": "Scheduled", "message": "Successfully assigned default/web to node-1",
            "source": {"component": "default-scheduler"}, "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:00:00Z", "count": 1,
            "involvedObject": {"kind": "Pod", "name": "web"}})];
        let now = crate::printers::age::parse_time("2024-01-01T00:10:00Z").unwrap();
        assert_eq!(describe(&pod, Some(&mut evs), now), include_str!("../../tests/golden/describe_pod.txt"));
    }

    #[test]
    fn qos_class_comes_from_status() {
        let limits = serde_json::json!({"cpu": "500m", "memory": "1Gi"});
        let mut pod = serde_json::json!({"spec": {"containers": [{"name": "c", "resources": {"limits": limits, "requests": {"cpu": "0.5", "memory": "1073741824"}}}]}});
        assert_eq!(qos(&pod), "Guaranteed", "computed when the server has not set it");
        pod["status"] = serde_json::json!({"qosClass": "Burstable"});
        assert_eq!(qos(&pod), "Burstable", "status.qosClass as the server set it");
    }
}
