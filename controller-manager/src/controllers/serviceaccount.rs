//! The ServiceAccount controller (upstream's pkg/controller/serviceaccount
//! ServiceAccountsController): every active namespace has a `default`
//! ServiceAccount; one deleted is created again.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use client::controller::{Action, Controller};
use client::informer::InformerEvent;
use client::store::Store;
use client::{Api, Client, PostParams};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};

use super::{ControllerContext, Descriptor};
use crate::Error;

pub const SERVICE_ACCOUNT: Descriptor = Descriptor {
    name: "serviceaccount-controller",
    aliases: &["serviceaccount"],
    disabled_by_default: false,
    concurrency: None,
    start,
};

/// upstream's DefaultServiceAccountsControllerOptions: ServiceAccountsToEnsure.
pub const ENSURED: &[&str] = &["default"];

struct Ctx {
    client: Client,
    namespaces: Store<Namespace>,
    accounts: Store<ServiceAccount>,
}

fn start(ctx: ControllerContext) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let namespaces = ctx.informers.get::<Namespace>();
        let accounts = ctx.informers.get::<ServiceAccount>();
        // A namespace is queued on add/update; an ensured account's deletion queues its namespace.
        let controller = Controller::new("serviceaccount", &namespaces).workers(ctx.workers).watches(&accounts, |ev: &InformerEvent<ServiceAccount>| match ev {
            InformerEvent::Deleted(sa) if ENSURED.contains(&sa.metadata.name.as_deref().unwrap_or_default()) => {
                sa.metadata.namespace.clone().into_iter().collect()
            }
            _ => vec![],
        });
        let controller = ctx.metrics.instrument("serviceaccount", controller);
        let c = Arc::new(Ctx { client: ctx.client.clone(), namespaces: namespaces.store(), accounts: accounts.store() });
        controller.run(c, sync, ctx.shutdown.clone()).await;
    })
}

async fn sync(ctx: Arc<Ctx>, ns: String) -> Result<Action, Error> {
    let Some(namespace) = ctx.namespaces.get("", &ns) else { return Ok(Action::Done) };
    let active = namespace.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Active") == "Active";
    if !active || namespace.metadata.deletion_timestamp.is_some() {
        return Ok(Action::Done);
    }
    for name in ENSURED {
        if ctx.accounts.get(&ns, name).is_some() {
            continue;
        }
        let sa = ServiceAccount {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta { name: Some(name.to_string()), ..Default::default() },
            ..Default::default()
        };
        match Api::<ServiceAccount>::namespaced(ctx.client.clone(), &ns).create(&PostParams::default(), &sa).await {
            Ok(_) => {}
            Err(e) if e.is_already_exists() => {}
            // The namespace started terminating meanwhile: nothing to ensure.
            Err(e) if e.reason() == Some(api::Reason::Forbidden) && e.to_string().contains("being terminated") => return Ok(Action::Done),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Action::Done)
}
