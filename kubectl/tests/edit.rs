//! `kubectl edit` driven by a scripted EDITOR: a valid edit is patched in;
//! an invalid one reopens the file with the server's errors on top, as
//! upstream does; unchanged edits cancel.

mod common;
use common::Kube;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_applies_changes() {
    let k = Kube::start().await;
    k.run(&["create", "configmap", "cfg", "--from-literal=mode=slow"]).await.ok();
    let editor = k.file("editor.sh", "#!/bin/sh\nsed -i 's/mode: slow/mode: fast/' \"$1\"\n");
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = k.run_with(&["edit", "cm", "cfg"], None, &[("EDITOR", &editor)]).await;
    assert_eq!(out.ok(), "configmap/cfg edited\n");
    let v: serde_json::Value = serde_json::from_str(k.run(&["get", "cm", "cfg", "-o", "json"]).await.ok()).unwrap();
    assert_eq!(v["data"]["mode"], "fast");

    // An editor that changes nothing cancels the edit.
    let out = k.run_with(&["edit", "cm/cfg"], None, &[("KUBE_EDITOR", "true")]).await;
    assert_eq!((out.ok(), out.stderr.as_str()), ("", "Edit cancelled, no changes made.\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_edit_reopens_with_errors_on_top() {
    let k = Kube::start().await;
    k.run(&["create", "deployment", "web", "--image=nginx", "--replicas=2"]).await.ok();
    let seen = k.dir.path().join("seen.yaml");
    // First round: an invalid replica count. Second round (the reopened
    // file, which carries the error): keep a copy, then fix it.
    let script = format!(
        "#!/bin/sh\nif grep -q 'was not valid' \"$1\"; then cp \"$1\" {seen}; sed -i 's/replicas: -1/replicas: 3/' \"$1\"; else sed -i 's/replicas: 2/replicas: -1/' \"$1\"; fi\n",
        seen = seen.display()
    );
    let editor = k.file("editor.sh", &script);
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = k.run_with(&["edit", "deployment", "web"], None, &[("EDITOR", &editor)]).await;
    assert_eq!(out.ok(), "deployment.apps/web edited\n");
    assert_eq!(out.stderr, "error: deployments.apps \"web\" is invalid\n");
    let reopened = std::fs::read_to_string(&seen).unwrap();
    assert!(
        reopened.starts_with(
            "# Please edit the object below. Lines beginning with a '#' will be ignored,\n\
             # and an empty file will abort the edit. If an error occurs while saving this file will be\n\
             # reopened with the relevant failures.\n\
             #\n\
             # deployments.apps \"web\" was not valid:\n\
             # * spec.replicas: Invalid value: -1: must be greater than or equal to 0\n\
             #\n\
             apiVersion: apps/v1\n"
        ),
        "{reopened}"
    );
    assert!(reopened.contains("  replicas: -1\n"), "the reopened file keeps the user's edit");
    let v: serde_json::Value = serde_json::from_str(k.run(&["get", "deploy", "web", "-o", "json"]).await.ok()).unwrap();
    assert_eq!(v["spec"]["replicas"], 3);

    // Reopened and saved unchanged: cancelled, the edit is kept in a file, exit 1.
    let stubborn = k.file("stubborn.sh", "#!/bin/sh\nsed -i 's/replicas: 3/replicas: -7/' \"$1\"\n");
    std::fs::set_permissions(&stubborn, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = k.run_with(&["edit", "deployment", "web"], None, &[("EDITOR", &stubborn)]).await;
    let err = out.fails();
    assert!(err.starts_with("error: deployments.apps \"web\" is invalid\nA copy of your changes has been stored to \""), "{err}");
    assert!(err.ends_with("\"\nerror: Edit cancelled, no valid changes were saved.\n"), "{err}");
}
