"""HTTPS for phones: browsers give the camera only to a secure context, and a phone on the LAN reaches the
laptop by IP, so `make run` serves HTTPS with a self-signed certificate made on first run (or the
certificate given by TLS_CERT_FILE / TLS_KEY_FILE)."""

from __future__ import annotations

import datetime
import ipaddress
import socket
from pathlib import Path

import psutil
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from frontdesk.settings import Settings


def lan_addresses() -> list[str]:
    """IPv4 addresses of this machine's up interfaces, loopback excluded, read locally (no traffic sent)."""
    found = []
    stats = psutil.net_if_stats()
    for name, addrs in psutil.net_if_addrs().items():
        if name in stats and not stats[name].isup:
            continue
        for addr in addrs:
            if addr.family == socket.AF_INET and not addr.address.startswith("127."):
                found.append(addr.address)
    return sorted(set(found))


def _names() -> tuple[list[str], list[str]]:
    hostname = socket.gethostname()
    dns = sorted({"localhost", hostname, f"{hostname}.local"})
    return dns, ["127.0.0.1", "::1", *lan_addresses()]


def make_self_signed(cert_path: Path, key_path: Path) -> None:
    dns, ips = _names()
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"frontdesk on {socket.gethostname()}")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=825))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(n) for n in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _covers_current_addresses(cert_path: Path) -> bool:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    have = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return set(lan_addresses()) <= have


def certificate_files(settings: Settings) -> tuple[Path, Path] | None:
    """(cert, key) to serve HTTPS with, or None for plain HTTP."""
    if settings.tls_cert_file and settings.tls_key_file:
        return settings.tls_cert_file, settings.tls_key_file
    if settings.tls == "off":
        return None
    cert, key = settings.data_dir / "tls" / "cert.pem", settings.data_dir / "tls" / "key.pem"
    # A laptop that moved to another network gets a certificate for its new address.
    if not (cert.is_file() and key.is_file()) or not _covers_current_addresses(cert):
        make_self_signed(cert, key)
    return cert, key


def banner(settings: Settings, scheme: str, show_token: bool = True) -> list[str]:
    """What to open. `show_token`: only for a token this install generated; tokens an operator set in
    API_TOKENS must not end up in a deployment's logs, which is where stdout goes."""
    port = settings.port
    hosts = ["localhost"] if settings.host in ("127.0.0.1", "localhost") else ["localhost", *lan_addresses()]
    token = settings.api_tokens[0] if settings.api_tokens and show_token else "<a token from API_TOKENS>"
    lines = ["", "frontdesk is running. Open:"]
    for host in hosts:
        base = f"{scheme}://{host}:{port}"
        lines.append(f"  viewer  {base}/#token={token}")
    lines += [
        f"  camera  {scheme}://{hosts[-1]}:{port}/camera  (open the viewer and scan its QR code instead)",
        f"  API     {scheme}://localhost:{port}/docs",
        f"  token   {token}",
        "",
    ]
    return lines
