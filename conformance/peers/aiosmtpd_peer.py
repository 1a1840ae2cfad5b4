"""aiosmtpd 1.4.6 (PyPI, the dev extra) run with its own command line on loopback.

``python -m aiosmtpd -n -l 127.0.0.1:PORT`` with the handler of
``aiosmtpd_maildir`` (one Maildir per recipient under ``DIR/mail``), STARTTLS
with the run's trustme certificate (not required: ``--no-requiretls``), and
everything else at aiosmtpd's defaults. It accepts any recipient, so the
target has no ``unknown_recipient``; and no accounts, since the command line
configures no authenticator (AUTH, offered after STARTTLS, refuses everyone).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from pathlib import Path

from ..target import Target
from ..tlsutil import loopback_material
from . import PeerError
from .local import ACCOUNTS, DOMAIN, LocalPeer, free_port

HANDLER = "conformance.peers.aiosmtpd_maildir.PerUserMaildir"


class AiosmtpdPeer(LocalPeer):
    name = "aiosmtpd"
    greeting_mark = b"Python SMTP"

    def __init__(self, *, start_timeout: float = 20.0, python: str = sys.executable) -> None:
        super().__init__(start_timeout=start_timeout)
        self.python = python
        self._cafile = ""
        self._tls: tuple[str, str] = ("", "")

    def check_requirements(self) -> None:
        if importlib.util.find_spec("aiosmtpd") is None:
            raise PeerError("aiosmtpd is not installed: pip install aiosmtpd==1.4.6 (it is in the dev extra)")

    def detect_version(self) -> str:
        return importlib.metadata.version("aiosmtpd")

    def prepare(self, base: Path) -> None:
        (base / "mail").mkdir()
        tls = loopback_material()
        self._cafile = tls.cafile
        self._tls = (tls.certfile, tls.keyfile)
        self.listeners = {"smtp": free_port()}

    def command(self, base: Path) -> list[str]:
        cert, key = self._tls
        return [
            self.python,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{self.port}",
            "--tlscert",
            cert,
            "--tlskey",
            key,
            "--no-requiretls",
            "-c",
            HANDLER,
            str(base / "mail"),
        ]

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "PYTHONUNBUFFERED": "1"}

    def targets(self, base: Path) -> list[Target]:
        return [
            Target(
                protocol="smtp",
                host="127.0.0.1",
                port=self.port,
                # No accounts: aiosmtpd's command line has no authenticator, so after
                # STARTTLS it offers AUTH but can accept no credentials at all.
                accounts=(),
                domain=DOMAIN,
                recipient=ACCOUNTS[1].address,
                unknown_recipient="",  # aiosmtpd accepts every recipient
                implementation=f"aiosmtpd {self.version}",
                peer=self.name,
                maildir=str(base / "mail"),
                cafile=self._cafile,
                extra={"role": "primary"},
            )
        ]
