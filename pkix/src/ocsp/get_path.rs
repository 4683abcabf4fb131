//! Decoding the base64 OCSP request carried in a GET path (RFC 6960 Appendix A.1,
//! RFC 5019 §5).
//!
//! Clients and proxies mangle these paths in known ways; each repair below is
//! one of them. No path normalisation: `/` is a base64 character here.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum GetPathError {
    #[error("bad percent-encoding in the request path")]
    PercentEncoding,
    #[error("the request path is not base64")]
    Base64,
    #[error("the decoded request is larger than allowed")]
    TooLarge,
}

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);

/// Decodes the path segment after the prefix into DER, at most `max_len` bytes.
pub fn decode_get_path(encoded: &str, max_len: usize) -> Result<Vec<u8>, GetPathError> {
    // base64 of max_len bytes, percent-encoded at worst 3x.
    if encoded.len() > max_len.saturating_mul(4).div_ceil(3).saturating_mul(3) + 12 {
        return Err(GetPathError::TooLarge);
    }
    let mut text = percent_decode(encoded)?;
    for c in &mut text {
        *c = match *c {
            // A '+' turned into a space by form-decoding somewhere on the way.
            b' ' => b'+',
            // base64url, which some clients send.
            b'-' => b'+',
            b'_' => b'/',
            other => other,
        };
    }
    // Trailing padding may be missing or, after percent-decoding, partial.
    while text.last() == Some(&b'=') {
        text.pop();
    }
    let der = STANDARD.decode(&text).map_err(|_| GetPathError::Base64)?;
    if der.len() > max_len {
        return Err(GetPathError::TooLarge);
    }
    Ok(der)
}

fn percent_decode(input: &str) -> Result<Vec<u8>, GetPathError> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(GetPathError::PercentEncoding)?;
            let value = std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(GetPathError::PercentEncoding)?;
            out.push(value);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DER: &[u8] = &[0x30, 0x03, 0xfb, 0xff, 0x3e];

    #[test]
    fn plain_and_mangled_forms_decode_alike() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(DER);
        assert_eq!(b64, "MAP7/z4=");
        for form in ["MAP7/z4=", "MAP7/z4", "MAP7%2Fz4%3D", "MAP7%2fz4%3d", "MAP7_z4", "MAP7/z4%3D"] {
            assert_eq!(decode_get_path(form, 100).as_deref(), Ok(DER), "{form}");
        }
        let plus = base64::engine::general_purpose::STANDARD.encode([0xfb, 0xef, 0xbe]);
        assert_eq!(plus, "++++");
        for form in ["++++", "%2B%2B%2B%2B", "    ", "----", "+ %2B-"] {
            assert_eq!(decode_get_path(form, 100).as_deref(), Ok(&[0xfb, 0xef, 0xbe][..]), "{form}");
        }
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(decode_get_path("%zz", 100), Err(GetPathError::PercentEncoding));
        assert_eq!(decode_get_path("%4", 100), Err(GetPathError::PercentEncoding));
        assert_eq!(decode_get_path("!!!!", 100), Err(GetPathError::Base64));
        assert_eq!(decode_get_path("MAP7/z4=", 3), Err(GetPathError::TooLarge));
    }
}
