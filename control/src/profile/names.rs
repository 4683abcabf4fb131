//! The names profiles use, resolved: key usage bits, extended key usage
//! and attribute OIDs, key types and SAN kinds.

use anyhow::{Context, bail};
use cartorio_pkix::oid;

/// The KeyUsage bit (RFC 5280 §4.2.1.3) of a name.
pub fn key_usage_bit(name: &str) -> anyhow::Result<u8> {
    Ok(match name {
        "digitalSignature" => 0,
        "nonRepudiation" | "contentCommitment" => 1,
        "keyEncipherment" => 2,
        "dataEncipherment" => 3,
        "keyAgreement" => 4,
        other => bail!("unknown key usage {other:?} (end-entity usages only)"),
    })
}

/// An extended key usage by name, or a dotted OID; complete DER.
pub fn purpose_oid(name: &str) -> anyhow::Result<Vec<u8>> {
    let dotted = match name {
        "serverAuth" => "1.3.6.1.5.5.7.3.1",
        "clientAuth" => "1.3.6.1.5.5.7.3.2",
        "codeSigning" => "1.3.6.1.5.5.7.3.3",
        "emailProtection" => "1.3.6.1.5.5.7.3.4",
        "timeStamping" => "1.3.6.1.5.5.7.3.8",
        "OCSPSigning" => "1.3.6.1.5.5.7.3.9",
        // RFC 9336.
        "documentSigning" => "1.3.6.1.5.5.7.3.36",
        dotted if dotted.contains('.') => dotted,
        other => bail!("unknown extended key usage {other:?}"),
    };
    oid::from_dotted(dotted).with_context(|| format!("{dotted:?} is not a dotted OID"))
}

/// A subject attribute by short name; complete DER OID.
pub fn attribute_oid(short: &str) -> anyhow::Result<Vec<u8>> {
    let dotted = match short {
        "CN" => "2.5.4.3",
        "surname" | "SN" => "2.5.4.4",
        "serialNumber" => "2.5.4.5",
        "C" => "2.5.4.6",
        "L" => "2.5.4.7",
        "ST" => "2.5.4.8",
        "street" => "2.5.4.9",
        "O" => "2.5.4.10",
        "OU" => "2.5.4.11",
        "title" => "2.5.4.12",
        "givenName" | "GN" => "2.5.4.42",
        "pseudonym" => "2.5.4.65",
        "organizationIdentifier" => "2.5.4.97",
        "emailAddress" => "1.2.840.113549.1.9.1",
        "DC" => "0.9.2342.19200300.100.1.25",
        "UID" => "0.9.2342.19200300.100.1.1",
        other => bail!("unknown subject attribute {other:?}"),
    };
    oid::from_dotted(dotted).with_context(|| format!("{dotted:?}"))
}

/// A key type a profile takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    EcdsaP256,
    EcdsaP384,
    EcdsaP521,
    Rsa(u32),
    Ed25519,
}

impl KeyType {
    pub fn parse(name: &str) -> anyhow::Result<Self> {
        Ok(match name {
            "ecdsa-p256" => Self::EcdsaP256,
            "ecdsa-p384" => Self::EcdsaP384,
            "ecdsa-p521" => Self::EcdsaP521,
            "ed25519" => Self::Ed25519,
            "rsa-2048" => Self::Rsa(2048),
            "rsa-3072" => Self::Rsa(3072),
            "rsa-4096" => Self::Rsa(4096),
            other => bail!(
                "unknown key type {other:?} (ecdsa-p256, ecdsa-p384, ecdsa-p521, rsa-2048, rsa-3072, rsa-4096, ed25519)"
            ),
        })
    }

    pub fn name(self) -> String {
        match self {
            Self::EcdsaP256 => "ecdsa-p256".into(),
            Self::EcdsaP384 => "ecdsa-p384".into(),
            Self::EcdsaP521 => "ecdsa-p521".into(),
            Self::Rsa(bits) => format!("rsa-{bits}"),
            Self::Ed25519 => "ed25519".into(),
        }
    }

    /// The key type of a SubjectPublicKeyInfo, if it is one of these.
    pub fn of(spki: &[u8]) -> Option<Self> {
        let key = cartorio_pkix::verify::parse_spki(spki).ok()?;
        let p521 = oid::from_dotted("1.3.132.0.35")?;
        match (key.algorithm, key.parameters) {
            (a, Some(c)) if a == oid::EC_PUBLIC_KEY && c == oid::P256 => Some(Self::EcdsaP256),
            (a, Some(c)) if a == oid::EC_PUBLIC_KEY && c == oid::P384 => Some(Self::EcdsaP384),
            (a, Some(c)) if a == oid::EC_PUBLIC_KEY && c == p521.as_slice() => Some(Self::EcdsaP521),
            (a, _) if a == oid::ED25519 => Some(Self::Ed25519),
            (a, _) if a == oid::RSA_ENCRYPTION => rsa_modulus_bits(key.key).map(Self::Rsa),
            _ => None,
        }
    }
}

/// The size in bits of an RSAPublicKey's modulus.
fn rsa_modulus_bits(key: &[u8]) -> Option<u32> {
    use cartorio_pkix::der::{Reader, single, tag};
    let outer = single(key, tag::SEQUENCE).ok()?;
    let modulus = Reader::new(outer.value).expect(tag::INTEGER).ok()?.value;
    let magnitude = modulus.strip_prefix(&[0]).unwrap_or(modulus);
    let first = *magnitude.first()?;
    let bits = u32::try_from(magnitude.len()).ok()? * 8 - first.leading_zeros();
    Some(bits)
}

/// A kind of subjectAltName a profile allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SanType {
    Dns,
    Ip,
    Email,
    Uri,
}

impl SanType {
    pub fn parse(name: &str) -> anyhow::Result<Self> {
        Ok(match name {
            "dns" => Self::Dns,
            "ip" => Self::Ip,
            "email" => Self::Email,
            "uri" => Self::Uri,
            other => bail!("unknown SAN type {other:?} (dns, ip, email, uri)"),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Ip => "ip",
            Self::Email => "email",
            Self::Uri => "uri",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_types_are_read_from_public_keys() {
        let p256 = cartorio_testkit::pki::ec_key(cartorio_pkix::EcCurve::P256);
        assert_eq!(KeyType::of(cartorio_pkix::Signer::spki(&p256)), Some(KeyType::EcdsaP256));
        let p384 = cartorio_testkit::pki::ec_key(cartorio_pkix::EcCurve::P384);
        assert_eq!(KeyType::of(cartorio_pkix::Signer::spki(&p384)), Some(KeyType::EcdsaP384));
        // A 2048-bit modulus: 0x00 then 256 octets, the first with its top bit set.
        let mut modulus = vec![0x00, 0xc1];
        modulus.extend([0x55; 255]);
        use cartorio_pkix::der::encode::{bit_string, null, seq, tlv};
        let rsa = seq(&[&tlv(0x02, &[&modulus]), &tlv(0x02, &[&[1, 0, 1]])]);
        let spki = seq(&[&seq(&[oid::RSA_ENCRYPTION, &null()]), &bit_string(&rsa)]);
        assert_eq!(KeyType::of(&spki), Some(KeyType::Rsa(2048)));
        assert!(KeyType::parse("rsa-1024").is_err());
    }
}
