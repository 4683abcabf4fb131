//! Building time-stamp tokens: CMS SignedData (RFC 5652) over TSTInfo
//! (RFC 3161 §2.4.2), signed attributes contentType, messageDigest and
//! signingCertificateV2 (RFC 5035).
//!
//! Everything that does not depend on the request is encoded once in
//! [`TokenTemplate::new`]; per token we encode TSTInfo, hash it, sign the
//! attributes and splice the pre-encoded parts around them.

use super::response::GRANTED;
use crate::cert::CertificateView;
use crate::der::DerError;
use crate::der::encode::{explicit, integer_u64, octet_string, retag, seq, set_of, tlv, unsigned_integer};
use crate::der::tag;
use crate::hash::HashAlg;
use crate::oid;
use crate::signer::{SignError, Signer};
use crate::tsp::TimeStampRequest;
use std::sync::Arc;

/// How genTime is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePrecision {
    Seconds,
    Millis,
    Micros,
}

/// The time a token states, in Unix microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenTime {
    pub unix_micros: i64,
}

impl GenTime {
    /// GeneralizedTime, DER form: `Z`, fraction without trailing zeros.
    fn encode(self, precision: TimePrecision) -> Vec<u8> {
        let secs = self.unix_micros.div_euclid(1_000_000);
        let micros = self.unix_micros.rem_euclid(1_000_000);
        let mut text = crate::time::format_generalized(secs);
        text.pop(); // the `Z`, re-added after the fraction
        let fraction = match precision {
            TimePrecision::Seconds => String::new(),
            TimePrecision::Millis => format!("{:03}", micros / 1000),
            TimePrecision::Micros => format!("{micros:06}"),
        };
        let fraction = fraction.trim_end_matches('0');
        if !fraction.is_empty() {
            text.push('.');
            text.push_str(fraction);
        }
        text.push('Z');
        tlv(0x18, &[text.as_bytes()])
    }
}

/// The request-independent parts of every token a TSA key makes.
pub struct TokenTemplate {
    signer: Arc<dyn Signer>,
    precision: TimePrecision,
    /// Complete `Accuracy`, or empty.
    accuracy: Vec<u8>,
    /// `tsa [0] GeneralName` (directoryName of the signer certificate).
    tsa_name: Vec<u8>,
    /// `certificates [0] IMPLICIT CertificateSet` for certReq.
    certificates: Vec<u8>,
    /// SignerInfo fields before signedAttrs: version, sid, digestAlgorithm.
    signer_info_head: Vec<u8>,
    /// `digestAlgorithms` SET.
    digest_algorithms: Vec<u8>,
    digest: HashAlg,
    /// The two constant signed attributes (contentType, signingCertificateV2).
    constant_attributes: [Vec<u8>; 2],
}

fn accuracy(micros: u64) -> Vec<u8> {
    if micros == 0 {
        return Vec::new();
    }
    let (secs, millis, us) = (micros / 1_000_000, (micros / 1000) % 1000, micros % 1000);
    let mut parts = Vec::new();
    if secs > 0 {
        parts.push(integer_u64(secs));
    }
    if millis > 0 {
        parts.push(retag(integer_u64(millis), 0x80));
    }
    if us > 0 {
        parts.push(retag(integer_u64(us), 0x81));
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    seq(&refs)
}

impl TokenTemplate {
    /// `chain` is the TSA certificate first, then the CAs to include on certReq.
    pub fn new(
        signer: Arc<dyn Signer>,
        chain: &[Vec<u8>],
        precision: TimePrecision,
        accuracy_micros: u64,
    ) -> Result<Self, DerError> {
        let tsa_cert = chain.first().ok_or(DerError::Truncated)?;
        let view = CertificateView::parse(tsa_cert)?;
        let digest = signer.digest();
        let digest_alg = seq(&[digest.oid()]);
        // IssuerAndSerialNumber of the TSA certificate.
        let serial = tlv(tag::INTEGER, &[view.serial]);
        let sid = seq(&[view.issuer, &serial]);
        let signer_info_head = [integer_u64(1), sid, digest_alg.clone()].concat();
        // ESSCertIDv2 { certHash (SHA-256, the default), issuerSerial }.
        let general_names = seq(&[&explicit(4, view.issuer)]);
        let ess_cert_id =
            seq(&[&octet_string(&HashAlg::Sha256.digest(tsa_cert)), &seq(&[&general_names, &serial])]);
        let signing_certificate = seq(&[&seq(&[&ess_cert_id])]);
        let constant_attributes = [
            seq(&[oid::ATTR_CONTENT_TYPE, &set_of(vec![oid::CT_TST_INFO.to_vec()])]),
            seq(&[oid::ATTR_SIGNING_CERTIFICATE_V2, &set_of(vec![signing_certificate])]),
        ];
        // CertificateSet is a SET OF: DER sorts it by encoding (X.690
        // 11.6), whatever the chain's order; strict decoders refuse it
        // otherwise.
        let certificates = retag(set_of(chain.to_vec()), tag::context_constructed(0));
        Ok(Self {
            signer,
            precision,
            accuracy: accuracy(accuracy_micros),
            tsa_name: explicit(0, &explicit(4, view.subject)),
            certificates,
            signer_info_head,
            digest_algorithms: set_of(vec![digest_alg]),
            digest,
            constant_attributes,
        })
    }

    /// The complete TimeStampResp (status granted) for an accepted request.
    /// `serial` is the magnitude of the token serial; `policy` a complete OID.
    pub fn issue(
        &self,
        req: &TimeStampRequest<'_>,
        policy: &[u8],
        serial: &[u8],
        gen_time: GenTime,
    ) -> Result<Vec<u8>, SignError> {
        let tst_info = seq(&[
            &[0x02, 0x01, 0x01], // version v1
            policy,
            req.message_imprint,
            &unsigned_integer(serial),
            &gen_time.encode(self.precision),
            &self.accuracy,
            req.nonce.unwrap_or_default(),
            &self.tsa_name,
        ]);
        let message_digest = seq(&[
            oid::ATTR_MESSAGE_DIGEST,
            &tlv(tag::SET, &[&octet_string(&self.digest.digest(&tst_info))]),
        ]);
        let attributes = set_of(vec![
            self.constant_attributes[0].clone(),
            message_digest,
            self.constant_attributes[1].clone(),
        ]);
        let signature = self.signer.sign(&attributes)?;
        // signedAttrs [0] IMPLICIT: the same content under tag A0.
        let signed_attrs = retag(attributes, tag::context_constructed(0));
        let signer_info =
            seq(&[&self.signer_info_head, &signed_attrs, self.signer.algorithm(), &octet_string(&signature)]);
        let encapsulated = seq(&[oid::CT_TST_INFO, &explicit(0, &octet_string(&tst_info))]);
        let certificates = if req.cert_req { self.certificates.as_slice() } else { &[] };
        let signed_data = seq(&[
            &[0x02, 0x01, 0x03], // CMSVersion 3: eContentType is not id-data
            &self.digest_algorithms,
            &encapsulated,
            certificates,
            &tlv(tag::SET, &[&signer_info]),
        ]);
        let token = seq(&[oid::SIGNED_DATA, &explicit(0, &signed_data)]);
        Ok(seq(&[&seq(&[&integer_u64(GRANTED)]), &token]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gen_time_fractions_drop_trailing_zeros() {
        let t = GenTime { unix_micros: 1_700_000_000_120_000 };
        assert_eq!(&t.encode(TimePrecision::Millis)[2..], b"20231114221320.12Z");
        assert_eq!(&t.encode(TimePrecision::Seconds)[2..], b"20231114221320Z");
        let whole = GenTime { unix_micros: 1_700_000_000_000_000 };
        assert_eq!(&whole.encode(TimePrecision::Micros)[2..], b"20231114221320Z");
    }

    #[test]
    fn accuracy_encoding() {
        assert_eq!(accuracy(1_000_000), vec![0x30, 0x03, 0x02, 0x01, 0x01]);
        assert_eq!(accuracy(500), vec![0x30, 0x04, 0x81, 0x02, 0x01, 0xf4]);
        assert!(accuracy(0).is_empty());
    }
}

#[cfg(test)]
mod decode_tests {
    use super::*;
    use crate::signer::EcCurve;
    use crate::tsp::{RequestPolicy, check_request, parse_request};

    #[test]
    fn p256_token_decodes_and_its_signature_verifies() {
        check_token(EcCurve::P256);
    }

    #[test]
    fn p384_token_decodes_and_its_signature_verifies() {
        check_token(EcCurve::P384);
    }

    /// Builds a token and takes it apart with rasn-cms, an independent decoder.
    fn check_token(curve: EcCurve) {
        let signer = crate::test_keys::ec_key(curve);
        let digest_alg = signer.digest();
        let cert = crate::test_keys::self_signed(
            &signer,
            "TSA",
            vec![crate::cert::extensions::extended_key_usage(&[oid::KP_TIME_STAMPING], true)],
        );
        let spki = signer.spki().to_vec();
        let algorithm = signer.algorithm().to_vec();
        // A CA certificate after the TSA's that sorts before it: the
        // token's CertificateSet must not keep the chain's order.
        let ca = std::iter::repeat_with(|| {
            crate::test_keys::self_signed(&crate::test_keys::ec_key(curve), "CA", vec![])
        })
        .find(|ca| *ca < cert)
        .expect("a CA certificate that sorts first");
        let chain = vec![cert.clone(), ca];
        let template =
            TokenTemplate::new(Arc::new(signer), &chain, TimePrecision::Millis, 1_000_000).expect("template");

        use crate::der::encode::{boolean, integer_u64};
        let imprint = seq(&[&seq(&[oid::SHA256]), &octet_string(&[5; 32])]);
        let nonce = integer_u64(0xdead_beef);
        let req_der = seq(&[&integer_u64(1), &imprint, &nonce, &boolean(true)]);
        let req = parse_request(&req_der).expect("request");
        let policy = RequestPolicy::default();
        let chosen = check_request(&req, &policy).expect("accepted");
        let gen_time = GenTime { unix_micros: 1_700_000_000_250_000 };
        let resp = template.issue(&req, chosen, &[0x42; 16], gen_time).expect("token");
        cartorio_testkit::der::assert_der("the token", &resp);

        let decoded: rasn_cms::tsp::TimeStampResp = rasn::der::decode(&resp).expect("TimeStampResp");
        let token = decoded.time_stamp_token.expect("token present");
        let signed: rasn_cms::SignedData = rasn::der::decode(token.content.as_bytes()).expect("SignedData");
        assert_eq!(signed.certificates.as_ref().map(|c| c.len()), Some(2), "certReq honoured");
        let econtent = signed.encap_content_info.content.expect("eContent");
        let tst: rasn_cms::tsp::TstInfo = rasn::der::decode(&econtent).expect("TSTInfo");
        assert_eq!(rasn::der::encode(&tst).expect("re-encode"), econtent.to_vec(), "TSTInfo is DER");
        assert_eq!(tst.nonce, Some(rasn::types::Integer::from(0xdead_beef_u64)));
        assert_eq!(tst.message_imprint.hashed_message.as_ref(), &[5; 32]);

        let info = signed.signer_infos.to_vec()[0].clone();
        let attrs = info.signed_attrs.expect("signed attributes");
        let attrs_der = rasn::der::encode(&attrs).expect("attrs");
        crate::verify::verify(&spki, &algorithm, &attrs_der, info.signature.as_ref())
            .expect("signature verifies");
        let digest = digest_alg.digest(&econtent);
        assert!(
            attrs_der.windows(digest.len()).any(|w| w == digest.as_slice()),
            "messageDigest matches TSTInfo"
        );
    }
}
