"""The requirement catalog: every normative statement the suite checks.

Catalogs live in ``conformance/catalog/*.toml``, one ``[[requirement]]`` table
each: ``id`` (a stable slug, never a position), ``rfc``, ``section``,
``level`` (MUST, MUST NOT, REQUIRED, SHALL, SHOULD, SHOULD NOT, MAY) and
``text``, the RFC's sentence quoted exactly.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CATALOG_DIR = Path(__file__).parent / "catalog"
LEVELS = ("MUST", "MUST NOT", "REQUIRED", "SHALL", "SHALL NOT", "SHOULD", "SHOULD NOT", "MAY", "INFO")
_ID = re.compile(r"^(smtp|lmtp|submission|pop3|imap|jmap|interop|security)\.rfc\d+\.[0-9.]*[0-9]\.[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class Requirement:
    id: str
    rfc: int
    section: str
    level: str
    text: str

    @property
    def protocol(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def strength(self) -> str:
        """ "must", "should" or "may": which verdict a violation earns."""
        if self.level.startswith(("MUST", "REQUIRED", "SHALL")):
            return "must"
        if self.level.startswith("SHOULD"):
            return "should"
        return "may"

    @property
    def classname(self) -> str:
        """JUnit classname: ``smtp.rfc5321.4_1_1``."""
        return f"{self.protocol}.rfc{self.rfc}.{self.section.replace('.', '_')}"

    @property
    def citation(self) -> str:
        return f"RFC {self.rfc} section {self.section} ({self.level})"


class CatalogError(Exception):
    pass


@cache
def catalog() -> dict[str, Requirement]:
    out: dict[str, Requirement] = {}
    for path in sorted(CATALOG_DIR.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for entry in data.get("requirement", []):
            try:
                req = Requirement(
                    id=entry["id"],
                    rfc=int(entry["rfc"]),
                    section=str(entry["section"]),
                    level=entry["level"],
                    text=" ".join(entry["text"].split()),
                )
            except (KeyError, ValueError) as e:
                raise CatalogError(f"{path.name}: bad requirement {entry!r}: {e}") from e
            if not _ID.match(req.id):
                raise CatalogError(f"{path.name}: id {req.id!r} is not a slug like smtp.rfc5321.4.2.topic")
            if f".rfc{req.rfc}.{req.section}." not in req.id:
                raise CatalogError(f"{path.name}: id {req.id} does not match RFC {req.rfc} section {req.section}")
            if req.level not in LEVELS:
                raise CatalogError(f"{path.name}: {req.id} has unknown level {req.level}")
            if req.id in out:
                raise CatalogError(f"{path.name}: {req.id} defined twice")
            out[req.id] = req
    return out


def get(req_id: str) -> Requirement:
    try:
        return catalog()[req_id]
    except KeyError:
        raise CatalogError(f"unknown requirement id {req_id}") from None


def rfc_dir() -> Path | None:
    """The RFC texts (../shared/rfc beside the checkout, or $MAILSPEC_RFC_DIR), if present."""
    import os

    env = os.environ.get("MAILSPEC_RFC_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "rfc")
    return next((c for c in candidates if c.is_dir()), None)


_PAGE_LINE = re.compile(r"^(?:.*\[Page \d+\]\s*|RFC \d+\s{2,}.*\s{2,}\w+ \d{4}\s*)$")


@cache
def rfc_text(number: int, directory: Path) -> str:
    """The RFC's text with page headers and footers removed and whitespace collapsed."""
    path = directory / f"rfc{number}.txt"
    xml = directory / f"rfc{number}.xml"
    if not path.exists():
        return _xml_text(xml) if xml.exists() else ""
    raw = path.read_text(encoding="utf-8", errors="replace").replace("\f", "\n")
    lines = [ln for ln in raw.splitlines() if not _PAGE_LINE.match(ln)]
    # A compound split across lines ("EHLO-" / "advertised") is one word again.
    return re.sub(r"(?<=\w)- (?=[a-z])", "-", " ".join(" ".join(lines).split()))


def _xml_text(path: Path) -> str:
    """An RFC in xml2rfc v3 form (RFC 8620, 8621) as plain text: tags dropped, entities decoded."""
    import html

    raw = path.read_text(encoding="utf-8", errors="replace")
    raw = re.sub(r"<!--.*?-->", " ", raw, flags=re.DOTALL)
    raw = re.sub(r"<!\[CDATA\[(.*?)\]\]>", r"\1", raw, flags=re.DOTALL)
    # Inline markup (<bcp14>MUST</bcp14>, <tt>, <xref .../>) sits inside sentences: drop it without a space.
    raw = re.sub(r"</?(?:bcp14|tt|em|strong|sub|sup|contact|eref|xref|iref|cref|spanx)\b[^>]*>", "", raw)
    text = html.unescape(re.sub(r"<[^>]+>", " ", raw))
    return " ".join(text.split())


def quoted_in_rfc(req: Requirement, directory: Path) -> bool | None:
    """True if the quoted text is in the RFC, False if not, None if the RFC text is not available."""
    text = rfc_text(req.rfc, directory)
    if not text:
        return None
    return req.text in text
