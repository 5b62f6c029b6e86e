//! Discovery and resource-name resolution (upstream's RESTMapper): "po",
//! "pods", "pod", "Pod", "deployments.apps", "deploy.v1.apps", categories
//! such as "all".

use client::proto::v1::ApiResource;
use client::{ApiResourceRef, Client};

use crate::error::{CmdError, CmdResult};

/// What the server serves, in its order (core group first).
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub resources: Vec<ApiResource>,
    pub server_version: String,
}

impl Discovery {
    pub async fn fetch(client: &Client) -> CmdResult<Self> {
        let resp = client.discovery().await?;
        Ok(Discovery { resources: resp.resources, server_version: resp.server_version })
    }

    /// One type name from the command line, or a category ("all") that
    /// expands to several.
    pub fn resolve(&self, input: &str) -> CmdResult<Vec<&ApiResource>> {
        if let Ok(r) = self.resolve_one(input) {
            return Ok(vec![r]);
        }
        let lower = input.to_lowercase();
        let members: Vec<&ApiResource> =
            self.resources.iter().filter(|r| r.categories.iter().any(|c| *c == lower)).collect();
        if members.is_empty() {
            return Err(CmdError::NoResourceType(input.to_string()));
        }
        Ok(members)
    }

    /// One type: resource[.version][.group] by plural, singular, short name or kind.
    pub fn resolve_one(&self, input: &str) -> CmdResult<&ApiResource> {
        let lower = input.to_lowercase();
        // As upstream: try "resource.version.group", then "resource.group", then the whole.
        let mut tries: Vec<(String, Option<String>, Option<String>)> = Vec::new();
        let parts: Vec<&str> = lower.splitn(3, '.').collect();
        if parts.len() == 3 {
            tries.push((parts[0].into(), Some(parts[1].into()), Some(parts[2].into())));
        }
        if let Some((res, group)) = lower.split_once('.') {
            tries.push((res.into(), None, Some(group.into())));
        }
        tries.push((lower.clone(), None, None));
        for (res, version, group) in tries {
            let found = self.resources.iter().find(|r| {
                matches_name(r, &res)
                    && version.as_ref().is_none_or(|v| *v == r.version)
                    && group.as_ref().is_none_or(|g| *g == r.group)
            });
            if let Some(r) = found {
                return Ok(r);
            }
        }
        Err(CmdError::NoResourceType(input.to_string()))
    }

    /// The resource of a manifest's apiVersion and kind.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&ApiResource> {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        self.resources.iter().find(|r| r.group == group && r.version == version && r.kind == kind)
    }
}

fn matches_name(r: &ApiResource, name: &str) -> bool {
    r.name == name || r.singular_name == name || r.kind.to_lowercase() == name || r.short_names.iter().any(|s| s == name)
}

/// "pod", "deployment.apps": the prefix of `-o name` and of "created" messages.
pub fn kind_prefix(r: &ApiResource) -> String {
    let kind = r.kind.to_lowercase();
    if r.group.is_empty() {
        kind
    } else {
        format!("{kind}.{}", r.group)
    }
}

/// "pods", "deployments.apps": how upstream names a resource in messages.
pub fn group_resource(r: &ApiResource) -> String {
    if r.group.is_empty() {
        r.name.clone()
    } else {
        format!("{}.{}", r.name, r.group)
    }
}

pub fn api_version(r: &ApiResource) -> String {
    if r.group.is_empty() {
        r.version.clone()
    } else {
        format!("{}/{}", r.group, r.version)
    }
}

pub fn to_ref(r: &ApiResource) -> ApiResourceRef {
    ApiResourceRef::from(r)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn res(group: &str, name: &str, kind: &str, short: &[&str], ns: bool, cats: &[&str]) -> ApiResource {
        ApiResource {
            group: group.into(),
            version: "v1".into(),
            name: name.into(),
            singular_name: kind.to_lowercase(),
            kind: kind.into(),
            namespaced: ns,
            short_names: short.iter().map(|s| s.to_string()).collect(),
            verbs: vec!["get".into(), "list".into()],
            categories: cats.iter().map(|s| s.to_string()).collect(),
            subresources: vec![],
        }
    }

    pub fn fixture() -> Discovery {
        Discovery {
            resources: vec![
                res("", "pods", "Pod", &["po"], true, &["all"]),
                res("", "services", "Service", &["svc"], true, &["all"]),
                res("", "events", "Event", &["ev"], true, &[]),
                res("", "nodes", "Node", &["no"], false, &[]),
                res("apps", "deployments", "Deployment", &["deploy"], true, &["all"]),
                res("events.k8s.io", "events", "Event", &["ev"], true, &[]),
            ],
            server_version: "v1.33.0".into(),
        }
    }

    #[test]
    fn resolves_like_the_rest_mapper() {
        let d = fixture();
        for n in ["po", "pod", "pods", "Pod", "PODS"] {
            assert_eq!(d.resolve_one(n).unwrap().name, "pods", "{n}");
        }
        assert_eq!(d.resolve_one("deploy").unwrap().group, "apps");
        assert_eq!(d.resolve_one("deployments.apps").unwrap().name, "deployments");
        assert_eq!(d.resolve_one("deployments.v1.apps").unwrap().name, "deployments");
        assert_eq!(d.resolve_one("ev").unwrap().group, "", "core events win");
        assert_eq!(d.resolve_one("events.events.k8s.io").unwrap().group, "events.k8s.io");
        assert!(matches!(d.resolve_one("foo"), Err(CmdError::NoResourceType(f)) if f == "foo"));
        let all: Vec<_> = d.resolve("all").unwrap().iter().map(|r| r.name.clone()).collect();
        assert_eq!(all, ["pods", "services", "deployments"]);
        assert_eq!(kind_prefix(d.resolve_one("deploy").unwrap()), "deployment.apps");
        assert_eq!(group_resource(d.resolve_one("po").unwrap()), "pods");
    }
}

/// The kinds kubectl's generators make (create namespace/deployment/...,
/// run, expose), known without asking the server so that
/// `--dry-run=client` works offline.
pub fn builtin(api_version: &str, kind: &str) -> Option<ApiResource> {
    use client::Resource;
    use k8s_openapi::api::{apps::v1 as apps, core::v1 as core};
    fn of<K: Resource>(short: &[&str]) -> ApiResource {
        ApiResource {
            group: K::GROUP.into(),
            version: K::VERSION.into(),
            name: K::URL_PATH_SEGMENT.into(),
            singular_name: K::KIND.to_lowercase(),
            kind: K::KIND.into(),
            namespaced: K::namespaced(),
            short_names: short.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }
    let r = match (api_version, kind) {
        ("v1", "Namespace") => of::<core::Namespace>(&["ns"]),
        ("v1", "ConfigMap") => of::<core::ConfigMap>(&["cm"]),
        ("v1", "Secret") => of::<core::Secret>(&[]),
        ("v1", "Service") => of::<core::Service>(&["svc"]),
        ("v1", "ServiceAccount") => of::<core::ServiceAccount>(&["sa"]),
        ("v1", "Pod") => of::<core::Pod>(&["po"]),
        ("apps/v1", "Deployment") => of::<apps::Deployment>(&["deploy"]),
        _ => return None,
    };
    Some(r)
}
