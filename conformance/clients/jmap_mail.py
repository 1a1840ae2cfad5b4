"""What the JMAP Mail scenarios (RFC 8621) share: scratch mailboxes, test messages imported from blobs, calls.

Every Email and Mailbox made here is tracked by the ``jmap`` fixture and
destroyed at teardown (Emails first). Messages carry a unique token so
parallel cases on the same account never see each other's mail.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from ..verdict import check, unsupported
from .jmap import CORE, MAIL, JMAPSessions, Reply

SUBMISSION = "urn:ietf:params:jmap:submission"
VACATION = "urn:ietf:params:jmap:vacationresponse"
USING = (CORE, MAIL)


def token() -> str:
    """A unique word (letters and digits only, so full-text indexes keep it whole)."""
    return "mstok" + uuid.uuid4().hex[:12]


def message(
    subject: str = "",
    *,
    body: str = "Hello from mailspec.\r\n",
    headers: list[tuple[str, str]] | None = None,
    content_type: str = "text/plain; charset=utf-8",
    raw_body: bytes | None = None,
) -> bytes:
    """A small RFC 5322 message with a unique Message-ID (CRLF line ends)."""
    mid = f"<{uuid.uuid4().hex}@mailspec.test>"
    head = [
        ("From", "Mailspec Sender <sender@mailspec.test>"),
        ("To", "Alice <alice@mailspec.test>"),
        ("Subject", subject or f"mailspec {token()}"),
        ("Date", time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())),
        ("Message-ID", mid),
        *(headers or []),
        ("MIME-Version", "1.0"),
    ]
    if raw_body is None:
        head.append(("Content-Type", content_type))
    text = "".join(f"{k}: {v}\r\n" for k, v in head if v is not None)
    data = text.encode() + (b"" if raw_body is not None else b"\r\n")
    return data + (raw_body if raw_body is not None else body.encode())


class MailCase:
    """The account and helpers one case uses."""

    def __init__(self, jmap: JMAPSessions, using: tuple[str, ...] = USING) -> None:
        self.jmap = jmap
        self.acc = jmap.account(MAIL)
        self.using = using

    def call(self, *calls: tuple[str, dict[str, Any]]) -> Reply:
        """Method calls with ids c0, c1...; accountId filled in."""
        return self.jmap.call(
            [[n, {"accountId": self.acc, **a}, f"c{i}"] for i, (n, a) in enumerate(calls)], self.using
        )

    def need(self, reply: Reply, call_id: str, name: str) -> dict[str, Any]:
        return self.jmap.ok(reply, call_id, name)

    def must(self, reply: Reply, call_id: str, name: str, what: str) -> dict[str, Any]:
        """The response the requirement is about: FAIL (not UNSUPPORTED) when it is missing."""
        args = reply.args(call_id, name)
        check(args is not None, f"{what}: {name} failed", expected=f"a {name} response", observed=reply.summary(500))
        assert args is not None
        return args

    def mailbox(self, name: str = "", parent: str | None = None) -> str:
        return self.jmap.mailboxes(name or self.jmap.unique("mbox"), parent=parent)[0]

    def upload(self, data: bytes, content_type: str = "message/rfc822") -> str:
        reply = self.jmap.main.upload(self.acc, data, content_type)
        blob = reply.json.get("blobId") if isinstance(reply.json, dict) else None
        if reply.status not in (200, 201) or not isinstance(blob, str):
            unsupported(f"the upload failed: {reply.summary(300)}")
        return blob

    def import_(
        self, data: bytes, *mailboxes: str, keywords: dict[str, bool] | None = None, received_at: str | None = None
    ) -> dict[str, Any]:
        """Upload and Email/import a message; the created object (id, blobId, threadId, size), tracked."""
        imp: dict[str, Any] = {"blobId": self.upload(data), "mailboxIds": dict.fromkeys(mailboxes, True)}
        if keywords is not None:
            imp["keywords"] = keywords
        if received_at is not None:
            imp["receivedAt"] = received_at
        reply = self.call(("Email/import", {"emails": {"i": imp}}))
        args = self.need(reply, "c0", "Email/import")
        rec = (args.get("created") or {}).get("i")
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
            unsupported(f"Email/import did not import the test message: {json.dumps(args)[:300]}")
        self.jmap.track("Email", self.acc, rec["id"])
        return rec

    def email(self, mailbox: str = "", data: bytes | None = None, **kw: Any) -> str:
        """The id of a test Email (in a new scratch mailbox unless one is given)."""
        return str(self.import_(data or message(), mailbox or self.mailbox(), **kw)["id"])

    def get(self, email_id: str, properties: list[str] | None, **args: Any) -> dict[str, Any]:
        """One Email as Email/get gives it (the call must succeed: FAIL otherwise)."""
        reply = self.call(("Email/get", {"ids": [email_id], "properties": properties, **args}))
        got = self.must(reply, "c0", "Email/get", "fetching an Email")
        found = [e for e in got.get("list") or [] if isinstance(e, dict)]
        check(len(found) == 1, "Email/get did not return the Email", observed=json.dumps(got)[:400])
        return found[0]

    def query(self, filter_: Any, sort: list[dict[str, Any]] | None = None, **args: Any) -> list[str]:
        reply = self.call(("Email/query", {"filter": filter_, "sort": sort, **args}))
        got = self.must(reply, "c0", "Email/query", "the query")
        ids = got.get("ids")
        check(isinstance(ids, list), "Email/query gave no ids", observed=json.dumps(got)[:300])
        assert isinstance(ids, list)
        return ids

    def mailbox_record(self, mailbox_id: str) -> dict[str, Any]:
        got = self.need(self.call(("Mailbox/get", {"ids": [mailbox_id]})), "c0", "Mailbox/get")
        found = [m for m in got.get("list") or [] if isinstance(m, dict) and m.get("id") == mailbox_id]
        if not found:
            unsupported("Mailbox/get did not return the scratch mailbox")
        return found[0]

    def set_email(self, **args: Any) -> dict[str, Any]:
        reply = self.call(("Email/set", args))
        got = self.must(reply, "c0", "Email/set", "Email/set")
        for rec in (got.get("created") or {}).values():
            if isinstance(rec, dict) and isinstance(rec.get("id"), str):
                self.jmap.track("Email", self.acc, rec["id"])
        return got

    def account_capability(self, uri: str) -> dict[str, Any]:
        accounts = self.jmap.session().raw.get("accounts") or {}
        caps = (accounts.get(self.acc) or {}).get("accountCapabilities") or {}
        value = caps.get(uri)
        if not isinstance(value, dict):
            unsupported(f"the account does not offer {uri}")
        return value
