"""Certificates for test clusters: a self-signed CA that signs nothing but what a test needs."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

EC_CURVE = ec.SECP256R1()


def usage(*, key_cert_sign: bool) -> x509.KeyUsage:
    """Digital signatures, and for a CA certificate and CRL signing too."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=key_cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def self_signed_ca(
    common_name: str, *, valid_for: datetime.timedelta = datetime.timedelta(days=7)
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A CA's key and certificate, valid from an hour ago (clock skew) for `valid_for`."""
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(EC_CURVE)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + valid_for)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage(key_cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate
