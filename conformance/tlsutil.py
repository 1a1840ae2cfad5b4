"""TLS material made at run time with trustme: a private CA and a loopback certificate."""

from __future__ import annotations

import atexit
import os
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TLSMaterial:
    cafile: str
    certfile: str  # server certificate chain
    keyfile: str

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.certfile, self.keyfile)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile)


def _remove_if_owner(d: Path, owner: int) -> None:
    # Only the process that made the material removes it: a forked child exiting must not.
    if os.getpid() == owner:
        shutil.rmtree(d, ignore_errors=True)


@cache
def loopback_material() -> TLSMaterial:
    ca = trustme.CA(organization_name="mailspec test CA")
    cert = ca.issue_cert("localhost", "127.0.0.1", "::1", "mx.mailspec.test")
    d = Path(tempfile.mkdtemp(prefix="mailspec-tls-"))
    atexit.register(_remove_if_owner, d, os.getpid())
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    cert.private_key_pem.write_to_path(str(d / "key.pem"))
    with open(d / "chain.pem", "wb") as f:
        for blob in cert.cert_chain_pems:
            f.write(blob.bytes())
    (d / "key.pem").chmod(0o600)
    return TLSMaterial(str(d / "ca.pem"), str(d / "chain.pem"), str(d / "key.pem"))
