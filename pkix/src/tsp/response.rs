//! TimeStampResp status (RFC 3161 §2.4.2) and the rejection answers.

use crate::der::encode::{integer_u64, named_bits, seq, utf8_string};

/// PKIFailureInfo bits a TSA uses (RFC 3161 §2.4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailInfo {
    /// Unrecognised or unsupported algorithm (SHA-1 included by default).
    BadAlg = 0,
    /// Transaction not permitted or supported.
    BadRequest = 2,
    /// The data submitted has the wrong format.
    BadDataFormat = 5,
    /// The TSA's time source is not available (or not synchronised).
    TimeNotAvailable = 14,
    /// The requested TSA policy is not supported.
    UnacceptedPolicy = 15,
    /// The requested extension is not supported.
    UnacceptedExtension = 16,
    /// The request cannot be handled due to system failure.
    SystemFailure = 25,
}

impl FailInfo {
    pub const ALL: [FailInfo; 7] = [
        Self::BadAlg,
        Self::BadRequest,
        Self::BadDataFormat,
        Self::TimeNotAvailable,
        Self::UnacceptedPolicy,
        Self::UnacceptedExtension,
        Self::SystemFailure,
    ];

    pub fn bit(self) -> u8 {
        self as u8
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::BadAlg => "badAlg",
            Self::BadRequest => "badRequest",
            Self::BadDataFormat => "badDataFormat",
            Self::TimeNotAvailable => "timeNotAvailable",
            Self::UnacceptedPolicy => "unacceptedPolicy",
            Self::UnacceptedExtension => "unacceptedExtension",
            Self::SystemFailure => "systemFailure",
        }
    }

    fn explanation(self) -> &'static str {
        match self {
            Self::BadAlg => "the message imprint hash algorithm is not accepted",
            Self::BadRequest => "the request is not supported",
            Self::BadDataFormat => "the request is not a well-formed TimeStampReq",
            Self::TimeNotAvailable => "the TSA clock is not synchronised within its stated accuracy",
            Self::UnacceptedPolicy => "the requested policy is not supported",
            Self::UnacceptedExtension => "request extensions are not supported",
            Self::SystemFailure => "the TSA failed to produce a token",
        }
    }
}

/// PKIStatus values.
pub(crate) const GRANTED: u64 = 0;
const REJECTION: u64 = 2;

/// The complete TimeStampResp refusing a request.
pub fn rejection(fail: FailInfo) -> Vec<u8> {
    let status = seq(&[
        &integer_u64(REJECTION),
        &seq(&[&utf8_string(fail.explanation())]),
        &named_bits(&[fail.bit()]),
    ]);
    seq(&[&status])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_carries_exactly_one_bit() {
        let der = rejection(FailInfo::UnacceptedPolicy);
        // ... BIT STRING, 0 unused bits in the last of 2 octets: bit 15 set.
        assert!(der.ends_with(&[0x03, 0x03, 0x00, 0x00, 0x01]), "{der:02x?}");
        let der = rejection(FailInfo::BadAlg);
        assert!(der.ends_with(&[0x03, 0x02, 0x07, 0x80]), "{der:02x?}");
    }
}
