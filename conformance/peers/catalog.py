"""The peer catalog: every implementation mailspec can start, and on which backends."""

from __future__ import annotations

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


CATALOG: dict[str, PeerInfo] = {
    "embedded": PeerInfo("embedded", ("smtp", "submission", "lmtp"), "mailspec's reference servers, in process"),
    "postfix": PeerInfo(
        "postfix", ("smtp",), "Postfix from Debian's package, a private instance", ("postfix",), ("postfix", "unshare")
    ),
}


def backends(name: str) -> dict[str, str]:
    """Backend -> "yes" or the reason it cannot run here."""
    info = CATALOG[name]
    if name == "embedded":
        return {"embedded": "yes"}
    missing = [b for b in info.binaries if shutil.which(b) is None and not shutil.which(b, path="/usr/sbin:/sbin")]
    local = "yes" if not missing else f"missing {', '.join(missing)} (apt-get install {' '.join(info.debian_packages)})"
    return {"local": local, "docker": "not yet (issue 6)"}


def make_peer(name: str, *, behaviours: tuple[str, ...] = ()) -> Any:
    if name == "embedded":
        from .embedded import EmbeddedPeer

        return EmbeddedPeer(behaviours)
    if name not in CATALOG:
        raise PeerError(f"unknown peer {name!r}; known: {', '.join(CATALOG)}")
    if behaviours:
        raise PeerError(f"seeded defects exist only on the embedded peer, not {name}")
    if name == "postfix":
        from .local import PostfixPeer

        return PostfixPeer()
    raise PeerError(f"no backend for {name}")
