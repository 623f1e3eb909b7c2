"""Mutual TLS material for one stack: a throwaway CA and a certificate per service, made by the
runner into the stack's own temporary folder and never reused.

Each certificate serves both ends of a hop (server and client authentication), names its service
and 127.0.0.1/localhost (so the gateway checks the stage it dials, locally or on a compose
network), and lives a day. Keys are P-256: cheap to make per stack, and the cheapest handshake a
default OpenSSL offers, so the measured price of secured hops is not inflated by the key type.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from serving import tls

CA_FILE = "ca.pem"
LIFETIME = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Identity:
    """One holder's certificate and key files, and the CA that vouches for every peer."""

    cert_file: Path
    key_file: Path
    ca_file: Path

    def settings(self) -> dict[str, object]:
        """The serving settings (serving.settings.Settings names) that give a process this
        identity with secured hops on."""
        return {
            "secure_hops": True,
            "tls_cert_file": self.cert_file,
            "tls_key_file": self.key_file,
            "tls_ca_file": self.ca_file,
        }

    def client_context(self) -> ssl.SSLContext:
        """A client context that presents this identity and verifies the peer against the CA."""
        return tls.client_context(self.cert_file, self.key_file, self.ca_file)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "archbench stack"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def authority(
    folder: Path, holders: Iterable[str], label: str = "archbench"
) -> dict[str, Identity]:
    """Make a CA in `folder` and one identity per holder (a service name, or the harness)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = _key()
    ca_name = _name(f"{label} CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / CA_FILE
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    identities = {}
    for holder in holders:
        key = _key()
        names: list[x509.GeneralName] = [
            x509.DNSName(holder),
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(holder))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + LIFETIME)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        cert_file, key_file = folder / f"{holder}.pem", folder / f"{holder}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, key_file)
        identities[holder] = Identity(cert_file, key_file, ca_file)
    return identities
