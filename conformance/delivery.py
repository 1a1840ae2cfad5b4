"""Shared steps for SMTP scenarios that judge what a server delivered.

Stores differ in how they keep line ends (a Maildir written by Postfix holds
LF, ours CRLF), so comparisons of delivered text ignore that difference.
"""

from __future__ import annotations

from .clients.smtp import SMTPClient
from .context import CaseContext
from .verdict import Unsupported, unsupported
from .wire.smtp import Reply


def same_text(data: bytes) -> bytes:
    """``data`` with CRLF written as LF, for comparing stored messages."""
    return data.replace(b"\r\n", b"\n")


def delivered_contains(delivered: bytes, expected: bytes) -> bool:
    return same_text(expected) in same_text(delivered)


def start_transaction(client: SMTPClient, ctx: CaseContext, *mail_params: str) -> Reply:
    """MAIL (with ``mail_params``) and one accepted RCPT; returns the MAIL reply.

    A refused RCPT is UNSUPPORTED: the case needs a recipient the target accepts.
    The caller judges the MAIL reply (it may be what the case is about).
    """
    mail = client.mail(ctx.sender, *mail_params)
    if mail.code != 250:
        return mail
    rcpt = client.rcpt(ctx.recipient)
    if rcpt.code != 250:
        unsupported(f"the target refused the test recipient {ctx.recipient}: {rcpt}")
    return mail


def fetch(ctx: CaseContext, token: str, timeout: float = 15.0) -> bytes | None:
    """The delivered message carrying ``token``, None if it did not arrive (UNSUPPORTED without a probe)."""
    found = ctx.mailbox().wait_for(token, timeout)
    return found[0] if found else None


def has_probe(ctx: CaseContext) -> bool:
    """Whether the target's deliveries can be read back."""
    try:
        ctx.mailbox()
    except Unsupported:
        return False
    return True
