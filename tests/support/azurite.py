"""Session fixtures: real Azurite processes (in memory, free ports, temp dir), stopped by pid.

- `azurite`: plain HTTP, account-key auth: what the local stack and most tests use.
- `azurite_https`: HTTPS with a self-signed certificate made at test time and
  `--oauth basic`, so a token credential can fetch a user delegation key (the Azure path).

A missing Azurite is a failure with a clear message, never a skip: `make setup` installs it.
"""

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devstack.azurite import AzuriteProcess, start_azurite


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzuriteProcess]:
    workdir: Path = tmp_path_factory.mktemp("azurite")
    process = start_azurite(workdir, log_path=workdir / "azurite.log")
    try:
        yield process
    finally:
        process.stop()


@dataclass(frozen=True)
class SelfSignedCert:
    cert_path: Path
    key_path: Path


def make_self_signed_cert(directory: Path, host: str = "127.0.0.1") -> SelfSignedCert:
    """A one-day EC certificate for `host` (also its own CA: pass cert_path as the trust root)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "azurite-cert.pem", directory / "azurite-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return SelfSignedCert(cert_path, key_path)


@dataclass(frozen=True)
class HttpsAzurite:
    process: AzuriteProcess
    cert: SelfSignedCert


@pytest.fixture(scope="session")
def azurite_https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsAzurite]:
    workdir: Path = tmp_path_factory.mktemp("azurite-https")
    cert = make_self_signed_cert(workdir)
    process = start_azurite(
        workdir,
        https=True,
        cert=(cert.cert_path, cert.key_path),
        oauth=True,
        log_path=workdir / "azurite.log",
    )
    try:
        yield HttpsAzurite(process, cert)
    finally:
        process.stop()
