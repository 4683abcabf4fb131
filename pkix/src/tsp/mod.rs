//! RFC 3161 time-stamping: request parsing and validation, token building.
//!
//! Every refusal is a `TimeStampResp` with status `rejection` and one
//! `failInfo` bit ([`FailInfo`]); `request` maps each parse or policy
//! failure to its bit in one place.

mod request;
mod response;
mod token;

pub use request::{RequestPolicy, TimeStampRequest, check_request, parse_request};
pub use response::{FailInfo, rejection};
pub use token::{GenTime, TimePrecision, TokenTemplate};
