"""The emulator's local certificate, for the administration client's HTTPS (admin_atom.py).

`ServiceBusAdministrationClient` always speaks HTTPS to the connection string's host and port,
so the emulator serves TLS on its AMQP port (listener.py). On first use it makes, in a
git-ignored folder (``.devstack/servicebus-tls`` by default):

- ``ca.pem`` / ``ca-key.pem``: a local certificate authority, made once and kept;
- ``cert.pem`` / ``key.pem``: the server certificate it signs, for ``localhost``,
  ``127.0.0.1``, ``::1`` and the host the emulator listens on (made again when that host is
  not among its names, or when it is near its end);
- ``bundle.pem``: certifi's public roots plus ``ca.pem``, for ``REQUESTS_CA_BUNDLE``
  (requests, the sync client) and ``SSL_CERT_FILE`` (OpenSSL's default, which aiohttp, the
  async client, uses), so a process pointed at it still trusts the public internet too.

Private keys are written 0600. Nothing here is a secret worth more than the emulator itself:
the CA signs only for this machine's loopback names, and only clients told to trust it do.
"""

import contextlib
import datetime
import fcntl
import ipaddress
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_TLS_DIR = Path(__file__).resolve().parents[2] / ".devstack" / "servicebus-tls"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
CA_DAYS = 3650
SERVER_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca-key.pem"

    @property
    def cert(self) -> Path:
        return self.directory / "cert.pem"

    @property
    def key(self) -> Path:
        return self.directory / "key.pem"

    @property
    def bundle(self) -> Path:
        return self.directory / "bundle.pem"

    def client_env(self) -> dict[str, str]:
        """The environment variables that make requests and aiohttp trust the emulator."""
        return {"REQUESTS_CA_BUNDLE": str(self.bundle), "SSL_CERT_FILE": str(self.bundle)}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write(path: Path, data: bytes, *, private: bool) -> None:
    """Atomically (a temporary file renamed over it): a second emulator may read it now."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _make_ca(files: TlsFiles) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jobstream devstack local CA")])
    now = _now()
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(files.ca_key, _key_pem(key), private=True)
    _write(files.ca, cert.public_bytes(serialization.Encoding.PEM), private=False)
    return cert, key


def _load_ca(files: TlsFiles) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate(files.ca.read_bytes())
        key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or cert.not_valid_after_utc < _now():
        return None
    return cert, key


def _san(names: tuple[str, ...]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def _server_covers(files: TlsFiles, ca: x509.Certificate, names: tuple[str, ...]) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        files.key.read_bytes()
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, x509.ExtensionNotFound):
        return False
    if cert.issuer != ca.subject or cert.not_valid_after_utc - RENEW_BEFORE < _now():
        return False
    return all(entry in sans for entry in _san(names))


def _make_server(
    files: TlsFiles,
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    names: tuple[str, ...],
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(_san(names)), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(files.key, _key_pem(key), private=True)
    _write(files.cert, cert.public_bytes(serialization.Encoding.PEM), private=False)


def _public_roots() -> bytes:
    try:
        import certifi  # requests' own roots; absent: the bundle is the local CA alone
    except ImportError:
        return b""
    return Path(certifi.where()).read_bytes()


def ensure_certificate(directory: Path = DEFAULT_TLS_DIR, host: str = "127.0.0.1") -> TlsFiles:
    """The CA, a server certificate covering `host` and the loopback names, and the bundle;
    made when missing (the CA is kept across runs, so a client trusting it keeps working)."""
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory / ".lock"):  # emulators starting side by side share the folder
        return _ensure(TlsFiles(directory), host)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _ensure(files: TlsFiles, host: str) -> TlsFiles:
    wildcard = host in ("", "0.0.0.0", "::")
    names = tuple(dict.fromkeys(LOOPBACK_NAMES if wildcard else (*LOOPBACK_NAMES, host)))
    loaded = _load_ca(files)
    ca, ca_key = loaded if loaded is not None else _make_ca(files)
    if loaded is None or not _server_covers(files, ca, names):
        _make_server(files, ca, ca_key, names)
    ca_pem = files.ca.read_bytes()
    bundle = _public_roots().rstrip(b"\n") + b"\n\n# jobstream devstack local CA\n" + ca_pem
    if not files.bundle.exists() or files.bundle.read_bytes() != bundle:
        _write(files.bundle, bundle, private=False)
    return files


def server_context(files: TlsFiles) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert, files.key)
    context.set_alpn_protocols(["http/1.1"])
    return context
