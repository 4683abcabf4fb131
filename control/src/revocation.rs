//! Revocation reasons (RFC 5280 §5.3.1 CRLReason).

/// (code, name) as RFC 5280 spells them; 7 is unused.
const REASONS: &[(u8, &str)] = &[
    (0, "unspecified"),
    (1, "keyCompromise"),
    (2, "cACompromise"),
    (3, "affiliationChanged"),
    (4, "superseded"),
    (5, "cessationOfOperation"),
    (6, "certificateHold"),
    (8, "removeFromCRL"),
    (9, "privilegeWithdrawn"),
    (10, "aACompromise"),
];

/// Parses a reason by RFC 5280 name (any case, `-`/`_` ignored) or code.
pub fn parse_reason(text: &str) -> Option<u8> {
    let folded: String =
        text.chars().filter(|c| *c != '-' && *c != '_').collect::<String>().to_ascii_lowercase();
    REASONS
        .iter()
        .find(|(code, name)| name.to_ascii_lowercase() == folded || code.to_string() == folded)
        .map(|(code, _)| *code)
        // removeFromCRL only undoes certificateHold in a delta CRL; it is not
        // a reason to revoke with.
        .filter(|code| *code != 8)
}

pub fn reason_name(code: u8) -> &'static str {
    REASONS.iter().find(|(c, _)| *c == code).map(|(_, n)| *n).unwrap_or("unknown")
}

/// What goes in the OCSP `revocationReason`: omitted for `unspecified`, as
/// RFC 5280 §5.3.1 asks of the CRL entry extension.
pub fn ocsp_reason(code: u8) -> Option<u8> {
    (code != 0).then_some(code)
}

pub fn names() -> String {
    REASONS.iter().filter(|(c, _)| *c != 8).map(|(_, n)| *n).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_codes() {
        assert_eq!(parse_reason("keyCompromise"), Some(1));
        assert_eq!(parse_reason("key-compromise"), Some(1));
        assert_eq!(parse_reason("KEY_COMPROMISE"), Some(1));
        assert_eq!(parse_reason("5"), Some(5));
        assert_eq!(parse_reason("superseded"), Some(4));
        assert_eq!(parse_reason("removeFromCRL"), None);
        assert_eq!(parse_reason("7"), None);
        assert_eq!(parse_reason("nonsense"), None);
        assert_eq!(reason_name(1), "keyCompromise");
        assert_eq!(ocsp_reason(0), None);
    }
}
