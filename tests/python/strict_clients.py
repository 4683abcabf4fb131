"""Strict clients for what Cartorio emits, driven by tests/strict_clients.rs.

rfc3161-client (sigstore's RFC 3161 client) parses with rust-asn1, which
refuses non-DER (an unsorted SET OF is "InvalidSetOrdering"); pyca/
cryptography parses certificates, CRLs and OCSP responses with the same
library. Each subcommand exits non-zero, with the reason, on the first
refusal.

  tsa URL ROOT_PEM CHAIN_PEM HASH CERT_REQ NONCE
      builds a request with rfc3161-client, posts it, decodes the reply
      strictly and verifies it (chain to ROOT_PEM; CHAIN_PEM gives the TSA
      certificate and its CA when the token carries none).
  cert PEM...            every certificate in each file.
  crl DER ISSUER_PEM     the CRL, and its signature by the issuer.
  ocsp DER ISSUER_PEM    the OCSP response, and its signature by the
                         responder certificate it carries.
"""

import sys
import urllib.request

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp


def certificates(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificates(f.read())


def verify_signature(public_key, signature, data, hash_algorithm):
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, data, ec.ECDSA(hash_algorithm))
    elif isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
    else:
        raise SystemExit(f"unexpected key type {type(public_key)}")


def tsa(url, root_pem, chain_pem, hash_name, cert_req, nonce):
    import rfc3161_client as rfc

    message = b"a document for a strict RFC 3161 client\n"
    request = (
        rfc.TimestampRequestBuilder()
        .data(message)
        .hash_algorithm(rfc.HashAlgorithm[hash_name])
        .cert_request(cert_request=cert_req == "true")
        .nonce(nonce=nonce == "true")
        .build()
    )
    http = urllib.request.Request(
        url, data=request.as_bytes(), headers={"Content-Type": "application/timestamp-query"}
    )
    with urllib.request.urlopen(http, timeout=10) as reply:
        body = reply.read()
    response = rfc.decode_timestamp_response(body)  # strict DER, or it raises
    builder = rfc.VerifierBuilder.from_request(request)
    (root,) = certificates(root_pem)
    tsa_cert, *cas = certificates(chain_pem)
    builder = builder.add_root_certificate(root)
    for ca in cas:
        builder = builder.add_intermediate_certificate(ca)
    if cert_req != "true":
        assert len(response.signed_data.certificates) == 0, "certificates without certReq"
        builder = builder.tsa_certificate(tsa_cert)
    else:
        assert len(response.signed_data.certificates) > 0, "no certificates despite certReq"
    builder.build().verify_message(response, message)
    info = response.tst_info
    print(f"verified: serial {info.serial_number}, genTime {info.gen_time}, nonce {info.nonce}")


def cert(*paths):
    for path in paths:
        for c in certificates(path):
            c.public_key()
            c.extensions  # parses every extension strictly
            print(f"{path}: {c.subject.rfc4514_string()}")


def crl(der_path, issuer_pem):
    with open(der_path, "rb") as f:
        parsed = x509.load_der_x509_crl(f.read())
    (issuer,) = certificates(issuer_pem)[:1]
    assert parsed.is_signature_valid(issuer.public_key()), "CRL signature"
    parsed.extensions
    for entry in parsed:
        entry.extensions
    print(f"CRL verified: {len(parsed)} entries")


def ocsp_response(der_path, issuer_pem):
    with open(der_path, "rb") as f:
        response = ocsp.load_der_ocsp_response(f.read())
    if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        print(f"status {response.response_status.name}")
        return
    (responder,) = response.certificates
    (issuer,) = certificates(issuer_pem)[:1]
    verify_signature(
        issuer.public_key(),
        responder.signature,
        responder.tbs_certificate_bytes,
        responder.signature_hash_algorithm,
    )
    verify_signature(
        responder.public_key(),
        response.signature,
        response.tbs_response_bytes,
        response.signature_hash_algorithm,
    )
    for single in response.responses:
        print(f"OCSP verified: {single.certificate_status.name}, hash {single.hash_algorithm.name}")


if __name__ == "__main__":
    commands = {"tsa": tsa, "cert": cert, "crl": crl, "ocsp": ocsp_response}
    commands[sys.argv[1]](*sys.argv[2:])
