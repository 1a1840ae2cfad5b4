"""The decorator that makes a pytest test a conformance case."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

from . import requirements
from .servers.behaviours import REGISTRY, Behaviour

F = TypeVar("F", bound=Callable[..., object])

DEFAULT_PROTOCOLS = {"smtp": ("smtp", "submission"), "lmtp": ("lmtp",), "submission": ("submission",)}


def case(*requirement_ids: str, defect: Behaviour, protocols: tuple[str, ...] | None = None) -> Callable[[F], F]:
    """Mark a test as a case checking ``requirement_ids``, proven by the seeded ``defect``.

    The first requirement is the one the case is filed under; a violation
    names another with ``check(..., req=...)``.
    """
    if not requirement_ids:
        raise ValueError("a case must cite at least one requirement")
    reqs = [requirements.get(r) for r in requirement_ids]
    if defect.name not in REGISTRY:
        raise ValueError(f"unknown defect {defect}")
    # A client case's defect is a client behaviour ("smtp-client", "pop3-client"...): the case runs a
    # client under test against a reference server (the ``client`` fixture), not the other way round.
    direction = "client" if defect.protocol.endswith("-client") else "server"
    if direction == "client":
        protos = protocols or (reqs[0].protocol,)
    else:
        protos = protocols or DEFAULT_PROTOCOLS.get(reqs[0].protocol, (reqs[0].protocol,))

    def deco(fn: F) -> F:
        marks = [
            pytest.mark.mailspec_case(
                requirements=tuple(requirement_ids), defect=defect.name, protocols=protos, direction=direction
            ),
            getattr(pytest.mark, reqs[0].protocol),
            getattr(pytest.mark, reqs[0].strength),
            *(getattr(pytest.mark, f"rfc{rfc}") for rfc in sorted({r.rfc for r in reqs})),
        ]
        for m in marks:
            fn = m(fn)
        return fn

    return deco
