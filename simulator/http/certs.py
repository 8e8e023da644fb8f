"""The simulator's TLS identity: a cluster CA and a server certificate, kept in the state dir.

A Proxmox cluster has its own CA (``/etc/pve/pve-root-ca.pem``) and each node
serves a certificate it signed (``/etc/pve/local/pve-ssl.pem`` and ``.key``).
Clients that verify TLS trust the CA file. The simulator does the same so that
its users keep TLS verification on: the CA and the server certificate are made
at first start (with ``trustme``) and reused on later starts, so a CA file a
client was given stays valid. When a later start needs a name the server
certificate lacks (a node was added), a new server certificate is issued by the
same CA.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509

CA_FILE = "pve-root-ca.pem"
CA_KEY_FILE = "pve-root-ca.key"
CERT_FILE = "pve-ssl.pem"
KEY_FILE = "pve-ssl.key"

# Names every simulator certificate covers: it listens on loopback by default.
LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class ServerCert:
    """Paths of the CA a client trusts and of the certificate and key the server presents."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        """An SSL context for the listening socket, presenting the server certificate."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        """An SSL context for a client that verifies the server against the CA."""
        return ssl.create_default_context(cafile=str(self.ca_file))


def _write_private(path: Path, data: bytes) -> None:
    """Write a key file readable by its owner only (0600), as PVE keeps its keys."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _covered_names(cert_file: Path) -> set[str]:
    """The DNS names and IP addresses in the certificate's subjectAltName."""
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    names = set(san.get_values_for_type(x509.DNSName))
    names.update(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    return names


def _canonical(name: str) -> str:
    """IP addresses in the form the certificate reports them; DNS names unchanged."""
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def _load_or_create_ca(state_dir: Path) -> tuple[trustme.CA, bool]:
    """The cluster CA from the state dir, or a new one written there; and whether it is new."""
    ca_file, ca_key = state_dir / CA_FILE, state_dir / CA_KEY_FILE
    if ca_file.exists() and ca_key.exists():
        return trustme.CA.from_pem(ca_file.read_bytes(), ca_key.read_bytes()), False
    ca = trustme.CA(organization_name="PVE Cluster Manager CA (pvenet simulator)")
    ca_file.write_bytes(ca.cert_pem.bytes())
    _write_private(ca_key, ca.private_key_pem.bytes())
    return ca, True


def ensure_certs(state_dir: Path, names: Iterable[str] = ()) -> ServerCert:
    """Return the state dir's certificates, creating or re-issuing them as needed.

    The server certificate covers the loopback names plus ``names`` (node
    names, or the host the server binds). Existing files are reused unchanged
    when they cover every name; the CA is never replaced once made, so clients
    holding ``pve-root-ca.pem`` keep verifying.
    """
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    wanted = list(dict.fromkeys([*LOOPBACK_NAMES, *names]))
    certs = ServerCert(state_dir / CA_FILE, state_dir / CERT_FILE, state_dir / KEY_FILE)
    ca, ca_is_new = _load_or_create_ca(state_dir)
    if (
        not ca_is_new
        and certs.cert_file.exists()
        and certs.key_file.exists()
        and {_canonical(n) for n in wanted} <= _covered_names(certs.cert_file)
    ):
        return certs
    leaf = ca.issue_cert(*wanted, organization_name="PVE Cluster Node (pvenet simulator)")
    certs.cert_file.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    _write_private(certs.key_file, leaf.private_key_pem.bytes())
    return certs
