"""PAdES signing and validation with pyHanko, driven by tests/pades.rs.

  sign KEY CERT CHAIN TSA_URL OUT
      signs a fresh PDF (PAdES baseline B-T: the signature time-stamped by
      Cartorio's TSA) with the document-signing key and certificate.
  validate PDF ROOT
      validates every signature of PDF against ROOT, fetching OCSP and
      CRLs from the URLs in the certificates, revocation hard-fail, with
      pyHanko's default key-usage requirements for document signatures.
      Prints one line: `valid` or `invalid: <why>`; exits 0 only if valid.
"""

import io
import sys

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pyhanko.keys import load_cert_from_pemder


def minimal_pdf() -> bytes:
    """A one-page PDF, its cross-reference table computed."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << >> >>",
    ]
    content = b"BT /F1 12 Tf 72 770 Td (A document for a notary) Tj ET"
    objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def sign(key, cert, chain, tsa_url, out_path):
    signer = signers.SimpleSigner.load(key, cert, ca_chain_files=(chain,))
    writer = IncrementalPdfFileWriter(io.BytesIO(minimal_pdf()))
    meta = signers.PdfSignatureMetadata(field_name="Notary", subfilter=fields.SigSeedSubFilter.PADES)
    timestamper = timestamps.HTTPTimeStamper(tsa_url)
    with open(out_path, "wb") as out:
        signers.PdfSigner(meta, signer=signer, timestamper=timestamper).sign_pdf(writer, output=out)
    print("signed")


def validate(pdf_path, root_path):
    root = load_cert_from_pemder(root_path)
    context = lambda: ValidationContext(trust_roots=[root], allow_fetching=True, revocation_mode="hard-fail")
    with open(pdf_path, "rb") as f:
        reader = PdfFileReader(f)
        signatures = reader.embedded_signatures
        assert signatures, "no signature"
        for embedded in signatures:
            status = validate_pdf_signature(
                embedded, signer_validation_context=context(), ts_validation_context=context()
            )
            problems = []
            if not status.intact:
                problems.append("not intact")
            if not status.valid:
                problems.append("signature invalid")
            if not status.trusted:
                problems.append(f"not trusted ({status.trust_problem_indic})")
            if status.revoked:
                problems.append("signer revoked")
            ts = status.timestamp_validity
            if ts is None:
                problems.append("no signature time-stamp")
            elif not (ts.intact and ts.valid and ts.trusted):
                problems.append(f"time-stamp not valid ({ts.trust_problem_indic})")
            if problems:
                print("invalid: " + "; ".join(problems))
                print(status.pretty_print_details())
                sys.exit(1)
            print(f"valid: {status.signing_cert.subject.human_friendly}; time-stamped {ts.timestamp}")


if __name__ == "__main__":
    {"sign": sign, "validate": validate}[sys.argv[1]](*sys.argv[2:])
