"""Deviations and protocol errors shared by every codec.

A *deviation* is a place where the peer's bytes break the grammar or a limit
of an RFC. Codecs record deviations precisely and keep going where the
meaning is still clear; they raise a protocol error only when the bytes
cannot be understood at all. Nothing is silently repaired.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Deviation:
    what: str
    offset: int  # octet offset in the stream where it was seen
    rfc: str  # e.g. "RFC 5321"
    section: str  # e.g. "4.2"

    def __str__(self) -> str:
        return f"{self.what} (at octet {self.offset}; {self.rfc} section {self.section})"


class ProtocolError(Exception):
    """The bytes cannot be understood; carries the deviation that broke them."""

    def __init__(self, deviation: Deviation) -> None:
        super().__init__(str(deviation))
        self.deviation = deviation


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol."""


class LocalProtocolError(ProtocolError):
    """We were asked to send something the protocol does not allow."""
