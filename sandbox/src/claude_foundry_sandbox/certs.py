"""A throwaway certificate authority and a leaf certificate for 127.0.0.1/localhost.

The CA is kept in the state directory and reused by later starts over the same directory, so a client
that holds the CA bundle path keeps trusting a restarted sandbox. The leaf is made fresh at every start.
Nothing here is meant for anything but the local sandbox.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from claude_foundry import _files as files
from claude_foundry._files import write_private

CA_CERT_FILE = "sandbox-ca.pem"
CA_KEY_FILE = "sandbox-ca-key.pem"
LEAF_CERT_FILE = "sandbox-server.pem"
LEAF_KEY_FILE = "sandbox-server-key.pem"


@dataclass(frozen=True)
class CertFiles:
    ca_bundle: Path  # what clients verify against
    cert_file: Path  # the server's certificate chain
    key_file: Path  # the server's private key


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load_ca(state_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    cert_path, key_path = state_dir / CA_CERT_FILE, state_dir / CA_KEY_FILE
    if not (cert_path.is_file() and key_path.is_file()):
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except ValueError:
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if cert.not_valid_after_utc < _now() + dt.timedelta(days=1):
        return None
    if key_path.stat().st_mode & 0o077:  # a reused CA key readable by others: owner-only from now on
        os.chmod(key_path, 0o600)
    return cert, key


def _make_ca(state_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "claude-foundry sandbox"),
                      x509.NameAttribute(NameOID.COMMON_NAME, "claude-foundry sandbox local CA")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(state_dir / CA_KEY_FILE, _key_pem(key))
    files.write_file(state_dir / CA_CERT_FILE, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def make_certificates(state_dir: str | os.PathLike[str], hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
                      ) -> CertFiles:
    """Create (or reuse) the CA in ``state_dir`` and issue a fresh leaf certificate for ``hosts``."""
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    loaded = _load_ca(state)
    ca_cert, ca_key = loaded if loaded else _make_ca(state)

    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = state / LEAF_CERT_FILE, state / LEAF_KEY_FILE
    write_private(key_path, _key_pem(key))
    files.write_file(cert_path, cert.public_bytes(serialization.Encoding.PEM)
                     + ca_cert.public_bytes(serialization.Encoding.PEM))
    return CertFiles(ca_bundle=state / CA_CERT_FILE, cert_file=cert_path, key_file=key_path)
