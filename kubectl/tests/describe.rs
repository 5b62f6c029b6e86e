//! `kubectl describe` against a real apiserver, compared with upstream's
//! layout (tabwriter alignment, sections, hidden secret values, Events).

mod common;
use common::{mask_ages, Kube};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_configmap_secret_namespace_service() {
    let k = Kube::start().await;
    k.run(&["create", "cm", "dcm", "--from-literal=a=hello", "--from-literal=b=world"]).await.ok();
    assert_eq!(
        k.run(&["describe", "cm", "dcm"]).await.ok(),
        "Name:         dcm\nNamespace:    default\nLabels:       <none>\nAnnotations:  <none>\n\nData\n====\na:\n----\nhello\n\nb:\n----\nworld\n\n\nBinaryData\n====\n\nEvents:  <none>\n"
    );
    k.run(&["create", "secret", "generic", "dsec", "--from-literal=password=hunter2"]).await.ok();
    let out = k.run(&["describe", "secret", "dsec"]).await;
    assert_eq!(
        out.ok(),
        "Name:         dsec\nNamespace:    default\nLabels:       <none>\nAnnotations:  <none>\n\nType:  Opaque\n\nData\n====\npassword:  7 bytes\n"
    );
    assert!(!out.stdout.contains("hunter2"));
    assert_eq!(
        k.run(&["describe", "ns", "default"]).await.ok(),
        "Name:         default\nLabels:       kubernetes.io/metadata.name=default\nAnnotations:  <none>\nStatus:       Active\n\nNo resource quota.\n\nNo LimitRange resource.\n"
    );
    k.run(&["create", "service", "clusterip", "dsvc", "--tcp=80:8080", "--clusterip=10.96.100.100"]).await.ok();
    assert_eq!(
        k.run(&["describe", "svc", "dsvc"]).await.ok(),
        "Name:                     dsvc\nNamespace:                default\nLabels:                   app=dsvc\nAnnotations:              <none>\nSelector:                 app=dsvc\nType:                     ClusterIP\nIP Family Policy:         SingleStack\nIP Families:              IPv4\nIP:                       10.96.100.100\nIPs:                      10.96.100.100\nPort:                     80-8080  80/TCP\nTargetPort:               8080/TCP\nEndpoints:                <none>\nSession Affinity:         None\nInternal Traffic Policy:  Cluster\nEvents:                   <none>\n"
    );
    let out = k.run(&["describe", "svc", "nope"]).await;
    assert_eq!(out.fails(), "Error from server (NotFound): services \"nope\" not found\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_pod_with_events_and_deployment() {
    let k = Kube::start().await;
    k.run(&["run", "web", "--image=nginx", "--labels=app=web"]).await.ok();
    let ev = k.file(
        "ev.yaml",
        "apiVersion: v1\nkind: Event\nmetadata: {name: web.1}\ninvolvedObject: {kind: Pod, name: web, namespace: default}\nreason: Scheduled\nmessage: Successfully assigned default/web to node-1\ntype: Normal\nsource: {component: default-scheduler}\nfirstTimestamp: \"2024-01-01T00:00:00Z\"\nlastTimestamp: \"2024-01-01T00:00:00Z\"\ncount: 1\n",
    );
    k.run(&["create", "-f", &ev]).await.ok();
    let out = k.run(&["describe", "pod", "web"]).await;
    let text = out.ok();
    assert!(
        text.starts_with("Name:             web\nNamespace:        default\nPriority:         0\nService Account:  default\nNode:             <none>\nLabels:           app=web\nAnnotations:      <none>\nStatus:           Pending\n"),
        "{text}"
    );
    assert!(text.contains("Containers:\n  web:\n    Image:        nginx\n    Port:         <none>\n    Host Port:    <none>\n    Environment:  <none>\n    Mounts:       <none>\n"), "{text}");
    let events_at = text.find("Events:\n").expect("an Events section");
    let events: Vec<&str> = text[events_at..].lines().collect();
    // Column widths depend on the event's age; the cells do not.
    assert_eq!(events[1].split_whitespace().collect::<Vec<_>>(), ["Type", "Reason", "Age", "From", "Message"]);
    assert_eq!(events[2].split_whitespace().collect::<Vec<_>>(), ["----", "------", "----", "----", "-------"]);
    assert!(events[1].starts_with("  Type    Reason     Age "), "{}", events[1]);
    let row: Vec<&str> = events[3].split_whitespace().collect();
    assert_eq!((row[0], row[1], row[3]), ("Normal", "Scheduled", "default-scheduler"));
    assert!(events[3].ends_with("  Successfully assigned default/web to node-1"));
    // A name that matches nothing exactly is used as a prefix, as upstream does.
    assert!(k.run(&["describe", "pod", "we"]).await.ok().starts_with("Name:             web\n"));

    k.run(&["create", "deployment", "app", "--image=nginx:1.25", "--replicas=2"]).await.ok();
    let text = k.run(&["describe", "deploy", "app"]).await.ok().to_string();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("CreationTimestamp:")).collect();
    assert_eq!(
        lines.join("\n"),
        "Name:                   app\nNamespace:              default\nLabels:                 app=app\nAnnotations:            <none>\nSelector:               app=app\nReplicas:               2 desired | 0 updated | 0 total | 0 available | 0 unavailable\nStrategyType:           RollingUpdate\nMinReadySeconds:        0\nRollingUpdateStrategy:  25% max unavailable, 25% max surge\nPod Template:\n  Labels:  app=app\n  Containers:\n   nginx:\n    Image:         nginx:1.25\n    Port:          <none>\n    Host Port:     <none>\n    Environment:   <none>\n    Mounts:        <none>\n  Volumes:         <none>\n  Node-Selectors:  <none>\n  Tolerations:     <none>\nEvents:            <none>"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_node_with_pods_and_allocations() {
    let k = Kube::start().await;
    let f = k.file(
        "n.yaml",
        "apiVersion: v1\nkind: Node\nmetadata: {name: node-2}\nstatus:\n  capacity: {cpu: \"2\", memory: 4Gi, pods: \"110\"}\n  allocatable: {cpu: \"2\", memory: 4Gi, pods: \"110\"}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: heavy}\nspec:\n  nodeName: node-2\n  containers:\n  - name: a\n    image: x\n    resources: {requests: {cpu: 250m, memory: 64Mi}, limits: {cpu: 500m, memory: 128Mi}}\n  - name: b\n    image: \"y\"\n    resources: {requests: {cpu: 100m, memory: 128Mi}}\n",
    );
    k.run(&["create", "-f", &f]).await.ok();
    let text = k.run(&["describe", "node", "node-2"]).await.ok().to_string();
    let expected = [
        "Name:               node-2",
        "Roles:              <none>",
        "Labels:             <none>",
        "Annotations:        <none>",
        "Taints:             <none>",
        "Unschedulable:      false",
        "Lease:              Failed to get lease: leases.coordination.k8s.io \"node-2\" not found",
        "Addresses:",
        "Capacity:",
        "  cpu:     2",
        "  memory:  4Gi",
        "  pods:    110",
        "Allocatable:",
        "  cpu:     2",
        "  memory:  4Gi",
        "  pods:    110",
        "System Info:",
        "  Machine ID:                 ",
        "  System UUID:                ",
        "  Boot ID:                    ",
        "  Kernel Version:             ",
        "  OS Image:                   ",
        "  Operating System:           ",
        "  Architecture:               ",
        "  Container Runtime Version:  ",
        "  Kubelet Version:            ",
        "Non-terminated Pods:          (1 in total)",
        "  Namespace                   Name     CPU Requests  CPU Limits  Memory Requests  Memory Limits  Age",
        "  ---------                   ----     ------------  ----------  ---------------  -------------  ---",
        "  default                     heavy    350m (17%)    500m (25%)  192Mi (4%)       128Mi (3%)     ",
        "Allocated resources:",
        "  (Total limits may be over 100 percent, i.e., overcommitted.)",
        "  Resource           Requests    Limits",
        "  --------           --------    ------",
        "  cpu                350m (17%)  500m (25%)",
        "  memory             192Mi (4%)  128Mi (3%)",
        "  ephemeral-storage  0 (0%)      0 (0%)",
        "Events:              <none>",
    ];
    let got: Vec<&str> = text.lines().filter(|l| !l.starts_with("CreationTimestamp:")).collect();
    assert_eq!(got.len(), expected.len(), "{text}");
    for (g, e) in got.iter().zip(expected) {
        // The pod row ends with its age.
        if e.starts_with("  default ") {
            assert!(g.starts_with(e), "{g:?} vs {e:?}");
        } else {
            assert_eq!(*g, e);
        }
    }
}

const QUOTA_AND_SLICE: &str = r#"
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ResourceQuota
  metadata: {name: compute}
  spec: {hard: {pods: "10", limits.cpu: "4"}, scopes: [NotBestEffort]}
- apiVersion: v1
  kind: LimitRange
  metadata: {name: defaults}
  # The apiserver defaults defaultRequest to default, as upstream.
  spec: {limits: [{type: Container, max: {memory: 1Gi}, default: {memory: 512Mi}}]}
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: web-x1, labels: {kubernetes.io/service-name: web}}
  addressType: IPv4
  ports: [{name: http, port: 8080, protocol: TCP}]
  endpoints:
  - {addresses: [10.1.0.5], conditions: {ready: true}, nodeName: node-1}
"#;

/// ResourceQuota, LimitRange and EndpointSlice describers, and the quota and
/// limit tables of `describe namespace`, on objects the apiserver stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_quota_limits_and_endpointslice() {
    let k = Kube::start().await;
    let f = k.file("q.yaml", QUOTA_AND_SLICE);
    k.run(&["create", "-f", &f]).await.ok();
    // No quota controller runs here, so status (and so every row) is empty, as upstream before the controller's first sync.
    assert_eq!(
        k.run(&["describe", "quota", "compute"]).await.ok(),
        "Name:       compute\nNamespace:  default\nScopes:     NotBestEffort\n * Matches all pods that have at least one resource requirement set. These pods have a burstable or guaranteed quality of service.\nResource  Used  Hard\n--------  ----  ----\n"
    );
    assert_eq!(
        k.run(&["describe", "ns", "default"]).await.ok(),
        "Name:         default\nLabels:       kubernetes.io/metadata.name=default\nAnnotations:  <none>\nStatus:       Active\n\nResource Quotas\n  Name:    compute\n  Scopes:  NotBestEffort\n  \
         * Matches all pods that have at least one resource requirement set. These pods have a burstable or guaranteed quality of service.\n  Resource  Used  Hard\n  --------  ---   ---\n\n\
         Resource Limits\n Type       Resource  Min  Max  Default Request  Default Limit  Max Limit/Request Ratio\n \
         ----       --------  ---  ---  ---------------  -------------  -----------------------\n \
         Container  memory    -    1Gi  512Mi            512Mi          -\n"
    );
    // By name: the namespace also holds the apiserver's own `kubernetes` slice (its port differs per test cluster).
    let out = k.run(&["get", "endpointslices", "web-x1"]).await;
    assert_eq!(mask_ages(out.ok()), "NAME     ADDRESSTYPE   PORTS   ENDPOINTS   AGE\nweb-x1   IPv4          8080    10.1.0.5    AG\n");
    assert_eq!(
        k.run(&["describe", "endpointslice", "web-x1"]).await.ok(),
        "Name:         web-x1\nNamespace:    default\nLabels:       kubernetes.io/service-name=web\nAnnotations:  <none>\nAddressType:  IPv4\nPorts:\n  Name  Port  Protocol\n  ----  ----  --------\n  http  8080  TCP\n\
         Endpoints:\n  - Addresses:  10.1.0.5\n    Conditions:\n      Ready:   true\n    Hostname:  <unset>\n    NodeName:  node-1\n    Zone:      <unset>\nEvents:        <none>\n"
    );
}
