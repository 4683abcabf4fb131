//! OCSP (RFC 6960, RFC 5019): request parsing, GET-path decoding, response building.

mod get_path;
mod request;
mod response;

pub use get_path::{GetPathError, decode_get_path};
pub use request::{CertId, MAX_NONCE_LEN, MAX_REQUESTS, OcspRequest, RequestError, parse_request};
pub use response::{
    CertStatus, IssuerHashes, ResponderTemplate, ResponseStatus, SignedResponse, cert_id,
    serial_integer_contents, sign_response, status_response,
};
