"""The peer catalog: every implementation mailspec can start, and on which backends."""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from typing import Any

from . import PeerError


@dataclass(frozen=True)
class PeerInfo:
    name: str
    protocols: tuple[str, ...]
    description: str
    debian_packages: tuple[str, ...] = ()
    binaries: tuple[str, ...] = ()  # what the local backend needs on PATH
    files: tuple[str, ...] = ()  # ... and needs to find (absolute, or relative to the peer cache dir)
    python_modules: tuple[str, ...] = ()  # ... and needs to import
    install_hint: str = ""  # how to get what is missing, when not "apt-get install <debian_packages>"


CATALOG: dict[str, PeerInfo] = {
    "embedded": PeerInfo(
        "embedded", ("smtp", "submission", "lmtp", "pop3", "imap", "jmap"), "mailspec's reference servers, in process"
    ),
    "postfix": PeerInfo(
        "postfix", ("smtp",), "Postfix from Debian's package, a private instance", ("postfix",), ("postfix", "unshare")
    ),
    "exim": PeerInfo(
        "exim",
        ("smtp",),
        "Exim 4 from Debian's packages, unpacked beside Postfix (they conflict), a private instance",
        ("exim4-daemon-light", "exim4-base", "exim4-config", "libidn12"),
        files=("exim/root/usr/sbin/exim4",),
        install_hint="ci/install-peers exim (apt-get download + dpkg -x: installing exim4 would remove postfix)",
    ),
    "aiosmtpd": PeerInfo(
        "aiosmtpd",
        ("smtp",),
        "aiosmtpd from PyPI, its own command line, one Maildir per recipient",
        python_modules=("aiosmtpd",),
        install_hint="pip install aiosmtpd==1.4.6 (in mailspec's dev extra)",
    ),
    "dovecot": PeerInfo(
        "dovecot",
        ("lmtp", "pop3", "imap"),
        "Dovecot from Debian's packages, a private instance",
        ("dovecot-core", "dovecot-lmtpd", "dovecot-pop3d", "dovecot-imapd"),
        ("dovecot",),
        files=("/usr/lib/dovecot/lmtp", "/usr/lib/dovecot/pop3", "/usr/lib/dovecot/imap"),
    ),
    "cyrus": PeerInfo(
        "cyrus",
        ("lmtp", "pop3", "imap", "jmap"),
        "Cyrus IMAP 3.6 from Debian's packages, unpacked beside Dovecot (they conflict), a private instance",
        ("cyrus-common", "cyrus-imapd", "cyrus-pop3d", "cyrus-caldav", "sasl2-bin"),
        ("saslpasswd2", "unshare"),
        files=("cyrus/root/usr/lib/cyrus/bin/master", "cyrus/root/usr/lib/cyrus/bin/httpd"),
        install_hint="ci/install-peers cyrus (apt-get download + dpkg -x: installing cyrus-imapd would remove dovecot)",
    ),
    "postfix-dovecot": PeerInfo(
        "postfix-dovecot",
        ("smtp", "lmtp", "pop3", "imap"),
        "a stack: Postfix delivering over LMTP to Dovecot, which serves IMAP and POP3",
        ("postfix", "dovecot-core", "dovecot-lmtpd", "dovecot-pop3d", "dovecot-imapd"),
        ("postfix", "unshare", "dovecot"),
        files=("/usr/lib/dovecot/lmtp", "/usr/lib/dovecot/pop3", "/usr/lib/dovecot/imap"),
        install_hint="ci/install-peers postfix dovecot",
    ),
}
BACKENDS = ("local", "docker")


def backends(name: str) -> dict[str, str]:
    """Backend -> "yes" or the reason it cannot run here (the embedded peer's local backend is in process)."""
    from .docker import available

    info = CATALOG[name]
    if name == "embedded":
        return {"local": "yes (in process)", "docker": available(name)}
    from .local import CACHE_DIR

    missing = [b for b in info.binaries if shutil.which(b) is None and not shutil.which(b, path="/usr/sbin:/sbin")]
    missing += [str(CACHE_DIR / f) for f in info.files if not (CACHE_DIR / f).exists()]
    missing += [m for m in info.python_modules if importlib.util.find_spec(m) is None]
    hint = info.install_hint or f"apt-get install {' '.join(info.debian_packages)}"
    local = "yes" if not missing else f"missing {', '.join(missing)} ({hint})"
    return {"local": local, "docker": available(name)}


def default_backend(name: str) -> str:
    """local where it can run, else docker where that can, else local (whose error says what is missing)."""
    b = backends(name)
    if b["local"].startswith("yes") or not b["docker"].startswith("yes"):
        return "local"
    return "docker"


def make_peer(name: str, *, behaviours: tuple[str, ...] = (), backend: str | None = None) -> Any:
    if name not in CATALOG:
        raise PeerError(f"unknown peer {name!r}; known: {', '.join(CATALOG)}")
    if backend is not None and backend not in BACKENDS:
        raise PeerError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    if behaviours and name != "embedded":
        raise PeerError(f"seeded defects exist only on the embedded peer, not {name}")
    if name == "embedded" and backend is None:
        backend = "local"  # in process: no reason to pay for a container by default
    if (backend or default_backend(name)) == "docker":
        from .docker import DockerPeer

        return DockerPeer(name, behaviours)
    if name == "embedded":
        from .embedded import EmbeddedPeer

        return EmbeddedPeer(behaviours)
    if name == "postfix":
        from .local import PostfixPeer

        return PostfixPeer()
    if name == "exim":
        from .exim import EximPeer

        return EximPeer()
    if name == "aiosmtpd":
        from .aiosmtpd_peer import AiosmtpdPeer

        return AiosmtpdPeer()
    if name == "dovecot":
        from .dovecot import DovecotPeer

        return DovecotPeer()
    if name == "cyrus":
        from .cyrus import CyrusPeer

        return CyrusPeer()
    if name == "postfix-dovecot":
        from .composite import PostfixDovecotPeer

        return PostfixDovecotPeer()
    raise PeerError(f"no backend for {name}")
