"""What a case runs against: a protocol endpoint plus what we know about it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

# URL scheme -> (protocol, implicit TLS, default port)
SCHEMES: dict[str, tuple[str, bool, int]] = {
    "smtp": ("smtp", False, 25),
    "smtps": ("smtp", True, 465),
    "submission": ("submission", False, 587),
    "submissions": ("submission", True, 465),
    "lmtp": ("lmtp", False, 24),
    "pop3": ("pop3", False, 110),
    "pop3s": ("pop3", True, 995),
    "imap": ("imap", False, 143),
    "imaps": ("imap", True, 993),
    "jmap": ("jmap", False, 80),
    "jmaps": ("jmap", True, 443),
    "http": ("jmap", False, 80),
    "https": ("jmap", True, 443),
}
# The protocol family a scenario directory tests.
FAMILY = {"smtp": "smtp", "submission": "smtp", "lmtp": "lmtp", "pop3": "pop3", "imap": "imap", "jmap": "jmap"}


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str
    address: str = ""


@dataclass(frozen=True)
class Target:
    protocol: str  # smtp, submission, lmtp, pop3, imap, jmap
    host: str
    port: int
    implicit_tls: bool = False
    accounts: tuple[Credentials, ...] = ()
    domain: str = ""
    recipient: str = ""  # an address the server accepts for delivery
    unknown_recipient: str = ""  # an address in its domain it must refuse
    implementation: str = ""  # from the banner or the peer catalog
    peer: str = "external"
    maildir: str = ""  # where deliveries can be read back (mailbox probe)
    cafile: str = ""  # CA that signed the server's certificate, if known
    defect: str = ""  # seeded defect of an embedded peer (selftest)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        return FAMILY[self.protocol]

    @property
    def scheme(self) -> str:
        for name, (proto, tls, _) in SCHEMES.items():
            if proto == self.protocol and tls == self.implicit_tls:
                return name
        return self.protocol

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def label(self) -> str:
        return f"{self.peer}:{self.url}" if self.peer != "external" else self.url

    def with_(self, **kw: Any) -> Target:
        return replace(self, **kw)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Target:
        d = json.loads(text)
        d["accounts"] = tuple(Credentials(**a) for a in d["accounts"])
        return cls(**d)
