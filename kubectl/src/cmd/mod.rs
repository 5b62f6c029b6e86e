//! One module per kubectl command.

pub mod api_resources;
pub mod apply;
pub mod common;
pub mod config;
pub mod create;
pub mod create_gen;
pub mod delete;
pub mod describe;
pub mod edit;
pub mod explain;
pub mod expose;
pub mod get;
pub mod label;
pub mod node;
pub mod patch;
pub mod replace;
pub mod rollout;
pub mod run;
pub mod scale;
pub mod set;
pub mod version;
pub mod watch;
