//! What the pre-signer publishes and responders load: immutable,
//! content-addressed segments of signed responses, and a manifest naming them.
//!
//! Object-store layout:
//! - `ocsp/manifest.json`: the current [`Manifest`], replaced atomically.
//! - `ocsp/segments/{sha256}.seg`: a [`segment`], never modified once written.
//!
//! A segment listed later in the manifest overrides earlier ones for the same
//! (issuer, serial), so a revocation is published as a small delta segment.

mod manifest;
pub mod segment;

pub use manifest::{MANIFEST_KEY, Manifest, ManifestIssuer, ManifestVersion, SegmentRef, segment_key};
pub use segment::{EntryMeta, IssuerId, SegmentBuilder, SegmentEntry, SegmentError, parse_segment};
