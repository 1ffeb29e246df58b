//! One module per subcommand area.

pub mod api;
pub mod audit;
pub mod bench;
pub mod chain;
pub mod compute;
pub mod data;
pub mod demo;
pub mod fl;
pub mod infer;
pub mod lineage;
pub mod model;
pub mod nft;
pub mod oracle;
pub mod oracle_net;
pub mod store;
pub mod up;
