//! What every Cartorio service shares for I/O: HTTP serving with graceful
//! shutdown, signals, telemetry, configuration loading and the object store.
//! Process-wide state (the metrics recorder, the tracing subscriber) lives
//! here and nowhere else.

pub mod access_log;
pub mod aws;
pub mod background;
pub mod client;
pub mod clock;
pub mod config;
pub mod conn_limits;
pub mod hot_metrics;
pub mod http;
pub mod http3;
pub mod logging;
pub mod proxy_protocol;
pub mod rounds;
pub mod s3;
pub mod sched;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod tls;

pub use shutdown::Shutdown;
pub use store::ObjectStore;
