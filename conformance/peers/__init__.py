"""Everything that yields a running peer: embedded, local (Debian packages), docker, external."""

from __future__ import annotations

from typing import Protocol

from ..target import Target


class Peer(Protocol):
    name: str

    def start(self) -> list[Target]: ...

    def stop(self) -> None: ...

    def logs(self) -> str: ...


class PeerError(Exception):
    """A peer could not be started; the message says what is missing."""
