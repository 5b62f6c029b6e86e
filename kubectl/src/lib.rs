//! kubectl: the command-line client. It talks gRPC to the apiserver through
//! the `client` crate and mirrors upstream kubectl's commands, flags,
//! columns, messages and exit codes.

pub mod apply;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod context;
pub mod describe;
pub mod error;
pub mod manifest;
pub mod printers;
pub mod resources;
pub mod util;

pub use error::{CmdError, CmdResult};
