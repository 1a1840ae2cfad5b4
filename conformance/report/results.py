"""One JSON object per case, streamed to results.jsonl as each case ends."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO


@dataclass
class CaseResult:
    case: str  # scenario name, e.g. "smtp/test_rfc5321_greeting.py::test_greeting_220"
    requirements: list[str]
    protocol: str
    direction: str  # "server" or "client"
    level: str  # MUST / SHOULD / MAY of the (violated or first) requirement
    verdict: str
    target: str
    implementation: str
    duration_s: float
    message: str = ""
    expected: str = ""
    observed: str = ""
    known_failure: bool = False
    defect: str = ""  # the seeded defect this case is proven against
    variant: str = ""  # selftest: "clean" or "defect"
    nodeid: str = ""
    transcript: str = ""
    agent: str = ""  # client cases: the client under test, "name version"
    time: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CaseResult:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


class ResultStream:
    """Appends results to DIR/results.jsonl, flushing each line."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._fh: TextIO | None = None
        self.results: list[CaseResult] = []

    def write(self, result: CaseResult) -> None:
        if self._fh is None and self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.directory / "results.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        if self._fh is not None:
            self._fh.write(result.to_json() + "\n")
            self._fh.flush()
        self.results.append(result)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_results(path: Path) -> list[CaseResult]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            out.append(CaseResult.from_dict(json.loads(line)))
    return out


def new_run_dir(base: Path) -> Path:
    """reports/<UTC timestamp>/, and reports/latest pointing at it."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    d = base / stamp
    n = 1
    while d.exists():
        n += 1
        d = base / f"{stamp}-{n}"
    d.mkdir(parents=True)
    link = base / "latest"
    try:
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(d.name, link)
    except OSError:
        pass
    return d


_KNOWN = re.compile(r"^\s*([A-Za-z0-9.\-]+)\s*(.*)$")


def read_known_failures(path: Path, _depth: int = 0) -> dict[str, str]:
    """``<requirement-id> <reason>`` per line; ``#`` starts a comment; ``include FILE`` (relative to
    this file) takes another file's entries, so a stack of peers lists its components' files once."""
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("include "):
            if _depth >= 8:
                raise ValueError(f"{path}:{n}: includes nested too deep (a loop?)")
            out.update(read_known_failures(path.parent / line[len("include ") :].strip(), _depth + 1))
            continue
        m = _KNOWN.match(line)
        if m is None:
            raise ValueError(f"{path}:{n}: expected '<requirement-id> <reason>'")
        out[m.group(1)] = m.group(2).strip() or "no reason given"
    return out
