"""The mail store shared by the embedded reference servers.

A message delivered over SMTP or LMTP lands here and is what POP3, IMAP and
JMAP read. Thread-safe: servers run on their own event-loop thread while
scenarios inspect the store from the test thread. Optionally mirrors every
delivery into a Maildir so other processes (pytest-xdist workers) can see it.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class StoredMessage:
    uid: int
    data: bytes
    envelope_from: str
    flags: set[str] = field(default_factory=set)
    internaldate: float = field(default_factory=time.time)


@dataclass
class Mailbox:
    name: str
    uidvalidity: int
    uidnext: int = 1
    messages: list[StoredMessage] = field(default_factory=list)


@dataclass
class Account:
    user: str
    password: str
    addresses: tuple[str, ...]
    mailboxes: dict[str, Mailbox] = field(default_factory=dict)


class MailStore:
    def __init__(self, domain: str = "mailspec.test", maildir_root: Path | None = None) -> None:
        self.domain = domain
        self.maildir_root = maildir_root
        self._lock = threading.RLock()
        self._accounts: dict[str, Account] = {}
        self._uidvalidity = itertools.count(int(time.time()))
        self._seq = itertools.count(1)

    def add_account(self, user: str, password: str, *aliases: str) -> Account:
        with self._lock:
            addresses = (f"{user}@{self.domain}", *aliases)
            acct = Account(user, password, addresses)
            acct.mailboxes["INBOX"] = Mailbox("INBOX", next(self._uidvalidity))
            self._accounts[user] = acct
            return acct

    def account(self, user: str) -> Account | None:
        with self._lock:
            return self._accounts.get(user)

    def check_password(self, user: str, password: str) -> bool:
        acct = self.account(user)
        return acct is not None and acct.password == password

    def resolve(self, address: str) -> Account | None:
        """The account an address delivers to; the local part is case-sensitive
        but the domain is not (RFC 5321 2.4)."""
        local, _, domain = address.rpartition("@")
        wanted = f"{local}@{domain.lower()}"
        with self._lock:
            for acct in self._accounts.values():
                if any(a.rpartition("@")[0] + "@" + a.rpartition("@")[2].lower() == wanted for a in acct.addresses):
                    return acct
                if local.lower() == "postmaster" and domain.lower() == self.domain and "postmaster" in acct.addresses:
                    return acct
        return None

    def deliver(self, acct: Account, data: bytes, envelope_from: str, mailbox: str = "INBOX") -> StoredMessage:
        with self._lock:
            box = acct.mailboxes[mailbox]
            msg = StoredMessage(box.uidnext, data, envelope_from)
            box.uidnext += 1
            box.messages.append(msg)
            if self.maildir_root is not None:
                self._mirror(acct.user, data)
            return msg

    def messages(self, user: str, mailbox: str = "INBOX") -> list[StoredMessage]:
        with self._lock:
            acct = self._accounts[user]
            return list(acct.mailboxes[mailbox].messages)

    def expunge(self, user: str, uids: set[int], mailbox: str = "INBOX") -> int:
        """Remove the messages with these uids (POP3 UPDATE state); returns how many went."""
        with self._lock:
            box = self._accounts[user].mailboxes[mailbox]
            before = len(box.messages)
            box.messages = [m for m in box.messages if m.uid not in uids]
            return before - len(box.messages)

    def _mirror(self, user: str, data: bytes) -> None:
        assert self.maildir_root is not None
        base = self.maildir_root / user
        for sub in ("tmp", "new", "cur"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        name = f"{time.time():.6f}.{os.getpid()}_{next(self._seq)}.mailspec"
        tmp = base / "tmp" / name
        tmp.write_bytes(data)
        tmp.rename(base / "new" / name)
