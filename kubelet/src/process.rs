//! What a container runs: its argv from command/args and the image's
//! entrypoint/cmd (`$(VAR)` expanded as upstream's ExpandContainerCommandAndArgs),
//! and its environment: the image's, HOSTNAME, then the spec's variables as
//! `env::make` resolves them.

use crate::expansion::{expand, mapping_for};
use crate::images::store::ImageConfig;
use k8s_openapi::api::core::v1::Container;
use std::collections::HashMap;

/// The process args: the container's command and args, `$(VAR)`-expanded against
/// its spec variables, combined with the image's entrypoint/cmd as Kubernetes does.
pub fn args(c: &Container, img: &ImageConfig, env: &[(String, String)]) -> Vec<String> {
    let vars: HashMap<String, String> = env.iter().cloned().collect();
    let ctx = [&vars];
    let exp = |list: &Option<Vec<String>>| -> Vec<String> {
        list.iter().flatten().map(|s| expand(s, mapping_for(&ctx))).collect()
    };
    let (command, args) = (exp(&c.command), exp(&c.args));
    if !command.is_empty() {
        command.into_iter().chain(args).collect()
    } else if !args.is_empty() {
        img.entrypoint.iter().cloned().chain(args).collect()
    } else {
        img.entrypoint.iter().chain(img.cmd.iter()).cloned().collect()
    }
}

/// The full environment (`K=V`): the image's, then HOSTNAME, then the spec's
/// variables (later ones win); PATH gets a default if nobody set it.
pub fn environment(img: &ImageConfig, spec: &[(String, String)], hostname: &str) -> Vec<String> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: &str| {
        env.retain(|(ek, _)| ek != k);
        env.push((k.to_string(), v.to_string()));
    };
    for kv in &img.env {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        set(k, v);
    }
    set("HOSTNAME", hostname);
    for (k, v) in spec {
        set(k, v);
    }
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()));
    }
    env.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(v: serde_json::Value) -> Container {
        serde_json::from_value(v).unwrap()
    }

    fn image() -> ImageConfig {
        ImageConfig {
            env: vec!["PATH=/bin".into(), "IMG=1".into()],
            entrypoint: vec!["/entry".into()],
            cmd: vec!["default".into()],
            ..Default::default()
        }
    }

    #[test]
    fn command_and_args_are_expanded_but_not_the_image_defaults() {
        let env = vec![("GREETING".to_string(), "hi".to_string()), ("WHO".to_string(), "you".to_string())];
        let c = container(serde_json::json!({
            "name": "c",
            "command": ["sh", "-c", "echo $(GREETING)"],
            "args": ["$(WHO)", "$$(WHO)", "$(UNKNOWN)", "$HOME"]
        }));
        assert_eq!(args(&c, &image(), &env), ["sh", "-c", "echo hi", "you", "$(WHO)", "$(UNKNOWN)", "$HOME"]);
        let c = container(serde_json::json!({"name": "c", "args": ["$(WHO)"]}));
        assert_eq!(args(&c, &image(), &env), ["/entry", "you"]);
        let c = container(serde_json::json!({"name": "c"}));
        assert_eq!(args(&c, &image(), &env), ["/entry", "default"]);
    }

    #[test]
    fn environment_layers_image_hostname_and_spec() {
        let spec = vec![("IMG".to_string(), "2".to_string()), ("X".to_string(), "$(IMG)".to_string())];
        let env = environment(&image(), &spec, "pod-a");
        assert_eq!(env, ["PATH=/bin", "HOSTNAME=pod-a", "IMG=2", "X=$(IMG)"]);
        let bare = environment(&ImageConfig::default(), &[], "h");
        assert!(bare.iter().any(|e| e.starts_with("PATH=/usr/local/sbin")));
    }
}
