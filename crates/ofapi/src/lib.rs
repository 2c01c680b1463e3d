//! OnlyFansAPI for agencybot: the client, the endpoint catalog and a local
//! sandbox that speaks the same protocol.
//!
//! - [`Client`] sends a [`Request`] with the bearer key, parses the response
//!   envelope (`data`, `_pagination`, `_meta`) and returns the data together
//!   with its [`Cost`] in credits, so every call can be billed to the request
//!   it belongs to. Reads are retried after 429 (honouring `Retry-After`),
//!   5xx and timeouts with jittered backoff; writes never are.
//! - [`Catalog`] lists every OnlyFans endpoint with its JSON Schema and its
//!   [`Access`] class (read, write, destructive), which is what the turn
//!   engine turns into tools and what decides whether a call needs the
//!   user's confirmation.
//! - [`sandbox`] serves synthetic agency data over the same protocol on
//!   127.0.0.1, for tests and for rehearsing without touching real accounts.

mod catalog;
mod client;
mod error;
pub mod sandbox;
pub mod webhooks;

pub use catalog::{Access, Catalog, Endpoint, Location, query_pairs};
pub use client::{
    Client, ClientConfig, Collected, Cost, DEFAULT_BASE_URL, MAX_BODY_BYTES, RateLimit, Request,
    Response, RetryPolicy, reporting_waits, retry_after,
};
pub use error::{Error, ErrorKind};
