//! From the endpoints a Service should have to the slice writes that get
//! there (upstream's endpointslice reconciler, simplified): endpoints stay
//! in the slice they are in while they are still wanted, new ones fill
//! slices with room before new slices are made, slices hold at most `max`
//! endpoints, slices of a port set no longer wanted go, and a Service with
//! no endpoints keeps one empty "placeholder" slice.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// What slices of one address type and one port set carry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SliceKey {
    pub address_type: String,
    /// Sorted by (name, port, protocol).
    pub ports: Vec<PortKey>,
}

pub type PortKey = (String, i32, String, Option<String>);

pub fn port_key(p: &EndpointPort) -> PortKey {
    (p.name.clone().unwrap_or_default(), p.port.unwrap_or_default(), p.protocol.clone().unwrap_or_else(|| "TCP".into()), p.app_protocol.clone())
}

pub fn key_of_slice(s: &EndpointSlice) -> SliceKey {
    let mut ports: Vec<_> = s.ports.iter().flatten().map(port_key).collect();
    ports.sort();
    SliceKey { address_type: s.address_type.clone(), ports }
}

fn ports_of(key: &SliceKey) -> Option<Vec<EndpointPort>> {
    let v: Vec<_> = key
        .ports
        .iter()
        .map(|(name, port, protocol, app)| EndpointPort { name: Some(name.clone()), port: Some(*port), protocol: Some(protocol.clone()), app_protocol: app.clone() })
        .collect();
    (!v.is_empty()).then_some(v)
}

/// The metadata every slice of the Service carries.
pub struct SliceTemplate {
    pub namespace: String,
    pub generate_name: String,
    pub labels: BTreeMap<String, String>,
    pub owner: OwnerReference,
}

#[derive(Default, Debug)]
pub struct Plan {
    pub create: Vec<EndpointSlice>,
    pub update: Vec<EndpointSlice>,
    pub delete: Vec<Arc<EndpointSlice>>,
}

fn endpoint_id(e: &Endpoint) -> String {
    e.addresses.first().cloned().unwrap_or_default()
}

/// The writes turning `existing` (this controller's slices of the Service)
/// into `desired` (endpoints by slice key). `placeholder_type`: the address
/// type of the empty slice kept when nothing is desired (None: no placeholder).
pub fn plan(tpl: &SliceTemplate, desired: BTreeMap<SliceKey, Vec<Endpoint>>, existing: &[Arc<EndpointSlice>], max: usize, placeholder_type: Option<&str>) -> Plan {
    let mut plan = Plan::default();
    let mut kept_any = false;
    let mut by_key: BTreeMap<SliceKey, Vec<&Arc<EndpointSlice>>> = BTreeMap::new();
    for s in existing {
        by_key.entry(key_of_slice(s)).or_default().push(s);
    }
    let mut unused_slices: Vec<&Arc<EndpointSlice>> = Vec::new();
    for (key, slices) in &by_key {
        if !desired.contains_key(key) {
            unused_slices.extend(slices.iter().copied());
        }
    }
    for (key, eps) in desired {
        let mut wanted: BTreeMap<String, Endpoint> = eps.into_iter().map(|e| (endpoint_id(&e), e)).collect();
        // Slices of this key, with the wanted endpoints they already hold.
        let mut slices: Vec<(Option<Arc<EndpointSlice>>, Vec<Endpoint>, bool)> = Vec::new();
        for s in by_key.get(&key).into_iter().flatten() {
            let mut kept = Vec::new();
            for e in s.endpoints.iter().flatten() {
                if let Some(want) = wanted.remove(&endpoint_id(e)) {
                    kept.push(want);
                }
            }
            let changed = s.endpoints.as_deref().unwrap_or(&[]) != kept.as_slice() || !meta_matches(tpl, s);
            slices.push((Some((*s).clone()), kept, changed));
        }
        // New endpoints fill slices already being written, then any with room, then new slices.
        let mut rest: Vec<Endpoint> = wanted.into_values().collect();
        for pass in [true, false] {
            for (_, eps, changed) in slices.iter_mut() {
                if rest.is_empty() {
                    break;
                }
                if *changed != pass || eps.is_empty() && !pass {
                    continue;
                }
                let room = max.saturating_sub(eps.len());
                if room > 0 {
                    let n = room.min(rest.len());
                    eps.extend(rest.drain(..n));
                    *changed = true;
                }
            }
        }
        while !rest.is_empty() {
            let n = max.min(rest.len());
            slices.push((None, rest.drain(..n).collect(), true));
        }
        let key_is_empty_placeholder = key.ports.is_empty() && slices.iter().all(|(_, e, _)| e.is_empty());
        for (old, eps, changed) in slices {
            match old {
                Some(old) if eps.is_empty() && !key_is_empty_placeholder => plan.delete.push(old),
                Some(old) => {
                    kept_any = true;
                    if changed {
                        plan.update.push(with(tpl, Some(&old), &key, eps));
                    }
                }
                None => {
                    kept_any = true;
                    plan.create.push(with(tpl, None, &key, eps));
                }
            }
        }
    }
    // Nothing left: one empty placeholder slice stays (reused if one exists).
    if let (false, Some(placeholder_type)) = (kept_any, placeholder_type) {
        let placeholder = SliceKey { address_type: placeholder_type.to_string(), ports: Vec::new() };
        match unused_slices.iter().position(|s| key_of_slice(s) == placeholder && s.endpoints.as_deref().unwrap_or(&[]).is_empty()) {
            Some(i) => {
                let s = unused_slices.remove(i);
                if !meta_matches(tpl, s) {
                    plan.update.push(with(tpl, Some(s), &placeholder, Vec::new()));
                }
            }
            None => plan.create.push(with(tpl, None, &placeholder, Vec::new())),
        }
    }
    plan.delete.extend(unused_slices.into_iter().cloned());
    plan
}

fn meta_matches(tpl: &SliceTemplate, s: &EndpointSlice) -> bool {
    s.metadata.labels.as_ref() == Some(&tpl.labels) && s.metadata.owner_references.iter().flatten().any(|o| o.uid == tpl.owner.uid)
}

fn with(tpl: &SliceTemplate, old: Option<&Arc<EndpointSlice>>, key: &SliceKey, endpoints: Vec<Endpoint>) -> EndpointSlice {
    let mut s = match old {
        Some(o) => (**o).clone(),
        None => EndpointSlice {
            metadata: ObjectMeta { generate_name: Some(tpl.generate_name.clone()), namespace: Some(tpl.namespace.clone()), ..Default::default() },
            address_type: key.address_type.clone(),
            ..Default::default()
        },
    };
    s.metadata.labels = Some(tpl.labels.clone());
    s.metadata.owner_references = Some(vec![tpl.owner.clone()]);
    s.ports = ports_of(key);
    s.endpoints = (!endpoints.is_empty()).then_some(endpoints);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tpl() -> SliceTemplate {
        SliceTemplate {
            namespace: "default".into(),
            generate_name: "web-".into(),
            labels: BTreeMap::from([("kubernetes.io/service-name".into(), "web".into())]),
            owner: OwnerReference { api_version: "v1".into(), kind: "Service".into(), name: "web".into(), uid: "u".into(), controller: Some(true), block_owner_deletion: Some(true) },
        }
    }

    fn key() -> SliceKey {
        SliceKey { address_type: "IPv4".into(), ports: vec![("http".into(), 8080, "TCP".into(), None)] }
    }

    fn ep(ip: &str) -> Endpoint {
        Endpoint { addresses: vec![ip.into()], ..Default::default() }
    }

    fn eps(n: usize) -> Vec<Endpoint> {
        (0..n).map(|i| ep(&format!("10.0.{}.{}", i / 250, i % 250))).collect()
    }

    fn applied(p: &Plan, n: &mut usize) -> Vec<Arc<EndpointSlice>> {
        p.create
            .iter()
            .chain(&p.update)
            .map(|s| {
                let mut s = s.clone();
                if s.metadata.name.is_none() {
                    *n += 1;
                    s.metadata.name = Some(format!("web-{n}"));
                }
                Arc::new(s)
            })
            .collect()
    }

    #[test]
    fn at_most_max_per_slice_and_stable_when_nothing_changes() {
        let p = plan(&tpl(), BTreeMap::from([(key(), eps(250))]), &[], 100, Some("IPv4"));
        assert_eq!(p.create.iter().map(|s| s.endpoints.as_ref().unwrap().len()).collect::<Vec<_>>(), [100, 100, 50]);
        let mut n = 0;
        let existing = applied(&p, &mut n);
        let again = plan(&tpl(), BTreeMap::from([(key(), eps(250))]), &existing, 100, Some("IPv4"));
        assert!(again.create.is_empty() && again.update.is_empty() && again.delete.is_empty(), "{again:?}");
        // One more endpoint goes into the slice with room: one update, no create.
        let more = plan(&tpl(), BTreeMap::from([(key(), eps(251))]), &existing, 100, Some("IPv4"));
        assert!(more.create.is_empty() && more.delete.is_empty());
        assert_eq!(more.update.len(), 1);
        assert_eq!(more.update[0].endpoints.as_ref().unwrap().len(), 51);
    }

    #[test]
    fn no_endpoints_leaves_one_placeholder() {
        let p = plan(&tpl(), BTreeMap::new(), &[], 100, Some("IPv4"));
        assert_eq!(p.create.len(), 1);
        assert!(p.create[0].endpoints.is_none() && p.create[0].ports.is_none());
        let mut n = 0;
        let placeholder = applied(&p, &mut n);
        assert!(plan(&tpl(), BTreeMap::new(), &placeholder, 100, Some("IPv4")).create.is_empty());
        // Endpoints arrive: a real slice is made and the placeholder goes.
        let p = plan(&tpl(), BTreeMap::from([(key(), eps(2))]), &placeholder, 100, Some("IPv4"));
        assert_eq!((p.create.len(), p.delete.len()), (1, 1));
        // And they all go: the real slice becomes... deleted, and a placeholder is made.
        let real = applied(&p, &mut n);
        let p = plan(&tpl(), BTreeMap::new(), &real, 100, Some("IPv4"));
        assert_eq!((p.create.len(), p.delete.len()), (1, 1));
    }
}
