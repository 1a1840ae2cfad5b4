"""An aiosmtpd handler that delivers each recipient's copy to DIR/<local part>/ (a Maildir).

Used by the aiosmtpd peer: ``python -m aiosmtpd -c conformance.peers.aiosmtpd_maildir.PerUserMaildir DIR``.
aiosmtpd's own ``Mailbox`` handler writes every message to one Maildir; this
one keeps the per-user layout the mailbox probe reads. Like aiosmtpd's
handlers it accepts every recipient.
"""

from __future__ import annotations

import mailbox
import re
from argparse import ArgumentParser
from pathlib import Path
from typing import Any


class PerUserMaildir:
    def __init__(self, mail_dir: str) -> None:
        self.mail_dir = Path(mail_dir)

    @classmethod
    def from_cli(cls, parser: ArgumentParser, *args: str) -> PerUserMaildir:
        if len(args) != 1:
            parser.error("PerUserMaildir needs exactly one argument: the directory of the Maildirs")
        return cls(args[0])

    @staticmethod
    def folder(recipient: str) -> str:
        local = recipient.rpartition("@")[0] or recipient
        return re.sub(r"[^a-z0-9._+-]", "_", local.lower()).lstrip(".") or "_"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content if envelope.original_content is not None else envelope.content
        data = content if isinstance(content, bytes) else str(content).encode("utf-8", "surrogateescape")
        for rcpt in envelope.rcpt_tos:
            mailbox.Maildir(self.mail_dir / self.folder(rcpt), create=True).add(data)
        return "250 Message accepted for delivery"
