"""Verdicts and the exceptions scenarios use to reach them."""

from __future__ import annotations

from enum import StrEnum
from typing import NoReturn


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    INFO = "INFO"
    UNSUPPORTED = "UNSUPPORTED"
    ERROR = "ERROR"
    TIMEOUT = "TIMEOUT"


# What fails a run: always these; WARN too under --strict.
FAILING = frozenset({Verdict.FAIL, Verdict.ERROR, Verdict.TIMEOUT})
ORDER = [Verdict.FAIL, Verdict.ERROR, Verdict.TIMEOUT, Verdict.WARN, Verdict.INFO, Verdict.UNSUPPORTED, Verdict.PASS]


class Violation(AssertionError):
    """The target broke a requirement. Its level decides FAIL, WARN or INFO."""

    def __init__(self, message: str, *, req: str | None = None, expected: str = "", observed: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.req = req
        self.expected = expected
        self.observed = observed


class Unsupported(Exception):
    """The target does not offer what the case needs (not advertised)."""


class Observation(Exception):
    """Nothing to judge: the case records what it saw (INFO)."""


def check(condition: object, message: str, *, req: str | None = None, expected: str = "", observed: str = "") -> None:
    """Require ``condition``; otherwise the case's requirement is violated.

    ``message`` says what the target did wrong; ``expected``/``observed`` go in the report.
    """
    if not condition:
        raise Violation(message, req=req, expected=expected, observed=observed)


def unsupported(reason: str) -> NoReturn:
    raise Unsupported(reason)


def info(message: str) -> NoReturn:
    raise Observation(message)
