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
    tz_offset: int = 0  # minutes east of UTC of the internal date as given (IMAP APPEND date-time)
    modseq: int = 1  # RFC 7162: raised on every change of the message's metadata


class StoreHooks:
    """What a store does on delivery, on a read of the messages, on a change of flags and on an
    expunge. The default changes nothing; seeded interop defects (``servers/interop.py``)
    install a subclass on an embedded peer's store (``MailStore.hooks``)."""

    def on_deliver(self, data: bytes) -> bytes:
        """The octets kept for a message delivered over SMTP or LMTP (``deliver``)."""
        return data

    def on_read(self, msg: StoredMessage) -> StoredMessage:
        """The message as ``messages()`` gives it (the POP3 server's read path)."""
        return msg

    def on_set_flags(self, old: set[str], new: set[str]) -> set[str]:
        """The flags kept when ``set_flags`` replaces ``old`` with ``new``."""
        return new

    def removes_on_expunge(self) -> bool:
        """False: ``expunge`` keeps the messages, marked \\Deleted, instead of removing them."""
        return True


@dataclass
class Mailbox:
    name: str
    uidvalidity: int
    uidnext: int = 1
    messages: list[StoredMessage] = field(default_factory=list)
    highestmodseq: int = 1
    special_use: str = ""  # RFC 6154 attribute ("\\Sent"...), empty for none
    expunged: dict[int, int] = field(default_factory=dict)  # uid -> modseq of its expunge (QRESYNC VANISHED)


@dataclass
class Account:
    user: str
    password: str
    addresses: tuple[str, ...]
    mailboxes: dict[str, Mailbox] = field(default_factory=dict)
    subscriptions: set[str] = field(default_factory=set)


class MailStore:
    hooks: StoreHooks = StoreHooks()  # an instance may install its own (seeded interop defects)

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

    def users(self) -> list[str]:
        """The account names, in the order they were added."""
        with self._lock:
            return list(self._accounts)

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
        data = self.hooks.on_deliver(data)
        with self._lock:
            msg = self.append(acct.user, mailbox, data, envelope_from=envelope_from)
            if self.maildir_root is not None:
                self._mirror(acct.user, data)
            return msg

    def messages(self, user: str, mailbox: str = "INBOX") -> list[StoredMessage]:
        with self._lock:
            acct = self._accounts[user]
            return [self.hooks.on_read(m) for m in acct.mailboxes[mailbox].messages]

    def expunge(self, user: str, uids: set[int], mailbox: str = "INBOX") -> int:
        """Remove the messages with these uids (POP3 UPDATE state, IMAP EXPUNGE); returns how many went."""
        with self._lock:
            box = self._accounts[user].mailboxes[mailbox]
            if not self.hooks.removes_on_expunge():
                for m in box.messages:
                    if m.uid in uids:
                        self.set_flags(user, mailbox, m.uid, m.flags | {"\\Deleted"})
                return 0
            before = len(box.messages)
            gone = [m.uid for m in box.messages if m.uid in uids]
            box.messages = [m for m in box.messages if m.uid not in uids]
            if gone:
                box.highestmodseq += 1
                box.expunged.update(dict.fromkeys(gone, box.highestmodseq))
            return before - len(box.messages)

    # --- IMAP: mailboxes and message metadata ----------------------------------
    # Mailbox names are the full hierarchical names with "/" as the delimiter; INBOX is
    # always spelled "INBOX". Callers hold no reference across awaits: look up again.

    DELIMITER = "/"

    @property
    def lock(self) -> threading.RLock:
        """Held by a server across a read-modify-write of several messages."""
        return self._lock

    def mailbox(self, user: str, name: str) -> Mailbox | None:
        with self._lock:
            acct = self._accounts.get(user)
            return acct.mailboxes.get(name) if acct else None

    def mailbox_names(self, user: str) -> list[str]:
        with self._lock:
            return sorted(self._accounts[user].mailboxes)

    def create_mailbox(self, user: str, name: str, special_use: str = "") -> Mailbox:
        with self._lock:
            acct = self._accounts[user]
            if name in acct.mailboxes:
                raise KeyError(name)
            box = Mailbox(name, next(self._uidvalidity), special_use=special_use)
            acct.mailboxes[name] = box
            return box

    def delete_mailbox(self, user: str, name: str) -> None:
        with self._lock:
            del self._accounts[user].mailboxes[name]

    def rename_mailbox(self, user: str, old: str, new: str) -> None:
        """RENAME: the mailbox and its inferiors get the new name; a renamed mailbox keeps its UIDVALIDITY."""
        with self._lock:
            boxes = self._accounts[user].mailboxes
            prefix = old + self.DELIMITER
            for name in [n for n in boxes if n == old or n.startswith(prefix)]:
                box = boxes.pop(name)
                box.name = new + name[len(old) :]
                boxes[box.name] = box

    def append(
        self,
        user: str,
        name: str,
        data: bytes,
        flags: set[str] | None = None,
        internaldate: float | None = None,
        tz_offset: int = 0,
        envelope_from: str = "",
    ) -> StoredMessage:
        with self._lock:
            box = self._accounts[user].mailboxes[name]
            box.highestmodseq += 1
            msg = StoredMessage(
                box.uidnext,
                data,
                envelope_from,
                set(flags or ()),
                time.time() if internaldate is None else internaldate,
                tz_offset,
                box.highestmodseq,
            )
            box.uidnext += 1
            box.messages.append(msg)
            return msg

    def set_flags(self, user: str, name: str, uid: int, flags: set[str]) -> StoredMessage | None:
        """Replace a message's flags (a new modseq when they change); None when the message is gone."""
        with self._lock:
            box = self._accounts[user].mailboxes[name]
            for m in box.messages:
                if m.uid == uid:
                    flags = self.hooks.on_set_flags(set(m.flags), set(flags))
                    if m.flags != flags:
                        box.highestmodseq += 1
                        m.flags = set(flags)
                        m.modseq = box.highestmodseq
                    return m
            return None

    # --- IMAP mailbox management (mailboxes.py): subscriptions, levels without a mailbox ----

    def _levels(self, user: str) -> set[str]:
        """Names kept as levels of hierarchy only (\\Noselect): a deleted parent of inferiors."""
        levels: dict[str, set[str]] = self.__dict__.setdefault("_noselect_levels", {})
        return levels.setdefault(user, set())

    def noselect_levels(self, user: str) -> set[str]:
        with self._lock:
            return set(self._levels(user))

    def set_noselect_level(self, user: str, name: str, on: bool = True) -> None:
        with self._lock:
            if on:
                self._levels(user).add(name)
            else:
                self._levels(user).discard(name)

    def subscribed(self, user: str) -> set[str]:
        with self._lock:
            return set(self._accounts[user].subscriptions)

    def subscribe(self, user: str, name: str, on: bool = True) -> None:
        with self._lock:
            subs = self._accounts[user].subscriptions
            if on:
                subs.add(name)
            else:
                subs.discard(name)

    def rename_one(self, user: str, old: str, new: str) -> None:
        """Rename one mailbox and not its inferiors (a deviation the IMAP server can be told to make)."""
        with self._lock:
            boxes = self._accounts[user].mailboxes
            box = boxes.pop(old)
            box.name = new
            boxes[new] = box

    def move_all(self, user: str, src: str, dst: str) -> None:
        """Move every message of ``src`` into the empty ``dst``, UIDs kept (RENAME INBOX)."""
        with self._lock:
            boxes = self._accounts[user].mailboxes
            a, b = boxes[src], boxes[dst]
            b.messages, b.uidnext = list(a.messages), max(b.uidnext, a.uidnext)
            b.highestmodseq = max(b.highestmodseq, a.highestmodseq)
            gone = [m.uid for m in a.messages]
            a.messages = []
            if gone:
                a.highestmodseq += 1
                a.expunged.update(dict.fromkeys(gone, a.highestmodseq))

    def _mirror(self, user: str, data: bytes) -> None:
        assert self.maildir_root is not None
        base = self.maildir_root / user
        for sub in ("tmp", "new", "cur"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        name = f"{time.time():.6f}.{os.getpid()}_{next(self._seq)}.mailspec"
        tmp = base / "tmp" / name
        tmp.write_bytes(data)
        tmp.rename(base / "new" / name)
