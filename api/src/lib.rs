//! ferrokube's API machinery: upstream's apimachinery and component-helpers,
//! one module per concept, shared by every component (design decision 12).
//! Depends on k8s-openapi, its time crate (jiff) and serde only: no gRPC,
//! etcd or runtime.

pub mod affinity;
pub mod cidr;
pub mod condition;
pub mod cron;
pub mod duration;
pub mod image;
pub mod intstr;
pub mod owner;
pub mod qos;
pub mod quantity;
pub mod resource;
pub mod resources;
pub mod selector;
pub mod status;
pub mod storage;
pub mod taints;
pub mod validation;
pub mod version;

pub use quantity::Quantity;
pub use resource::Resource;
pub use selector::{FieldSelector, Selector};
pub use status::Reason;
