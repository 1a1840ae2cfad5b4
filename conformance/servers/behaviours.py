"""Behaviours: named, scriptable deviations of the reference servers.

Each behaviour breaks one thing on purpose. Seeded defects for scenarios are
behaviours; so are legal-but-unusual server habits used to test clients.
Every behaviour is registered here with what it does, so `mailspec selftest`
and the tests can check that each scenario's defect exists.
"""

from __future__ import annotations

from dataclasses import dataclass

REGISTRY: dict[str, Behaviour] = {}


@dataclass(frozen=True)
class Behaviour:
    name: str
    protocol: str
    description: str

    def __str__(self) -> str:
        return self.name


def behaviour(protocol: str, name: str, description: str) -> Behaviour:
    full = f"{protocol}.{name}"
    if full in REGISTRY:
        raise ValueError(f"behaviour {full} registered twice")
    b = Behaviour(full, protocol, description)
    REGISTRY[full] = b
    return b


class Behaviours:
    """The set of behaviours a server instance has switched on."""

    def __init__(self, names: frozenset[str] | set[str] | tuple[str, ...] = ()) -> None:
        unknown = set(names) - REGISTRY.keys()
        if unknown:
            raise ValueError(f"unknown behaviour(s): {', '.join(sorted(unknown))}")
        self.names = frozenset(names)

    def __contains__(self, b: Behaviour) -> bool:
        return b.name in self.names

    def __bool__(self) -> bool:
        return bool(self.names)
