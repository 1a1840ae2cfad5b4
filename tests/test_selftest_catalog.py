"""Every scenario cites real RFC text and is proven able to fail by its seeded defect."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance import requirements
from conformance.servers.behaviours import REGISTRY
from tests.conftest import ROOT, mailspec


def scenario_cases() -> list[tuple[str, list[str], str]]:
    """(module::function, requirement ids, defect behaviour name) for every case in scenarios/."""
    import importlib.util

    out = []
    for path in sorted((ROOT / "scenarios").rglob("test_*.py")):
        spec = importlib.util.spec_from_file_location(f"_scan_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for name, fn in sorted(vars(module).items()):
            marks = [m for m in getattr(fn, "pytestmark", []) if m.name == "mailspec_case"]
            if name.startswith("test_") and marks:
                out.append((f"{path.name}::{name}", list(marks[0].kwargs["requirements"]), marks[0].kwargs["defect"]))
            elif name.startswith("test_") and callable(fn):
                raise AssertionError(f"{path.name}::{name} is not a @case")
    return out


def test_every_case_cites_catalogued_requirements_and_names_a_defect() -> None:
    cases = scenario_cases()
    assert cases
    for name, reqs, defect in cases:
        assert reqs, f"{name} cites no requirement"
        for r in reqs:
            requirements.get(r)
        assert defect in REGISTRY, f"{name} has no registered seeded defect"


def test_quoted_text_is_in_the_rfc() -> None:
    d = requirements.rfc_dir()
    if d is None:
        pytest.skip("the RFC texts (../shared/rfc or $MAILSPEC_RFC_DIR) are not on this machine")
    missing = [r.id for r in requirements.catalog().values() if requirements.quoted_in_rfc(r, d) is False]
    assert not missing, f"quoted text not found in the RFC: {missing}"


def test_levels_match_the_quoted_keyword() -> None:
    for r in requirements.catalog().values():
        keywords = re.findall(
            r"\b(MUST NOT|MUST|REQUIRED|SHALL NOT|SHALL|SHOULD NOT|SHOULD|RECOMMENDED|MAY|OPTIONAL)\b", r.text
        )
        if keywords:
            assert r.level in keywords or r.level.split()[0] in " ".join(keywords), (
                f"{r.id}: level {r.level} but the text says {keywords}"
            )


def test_behaviours_are_all_described() -> None:
    assert all(b.description for b in REGISTRY.values())


def test_selftest_catches_every_seeded_defect(tmp_path: Path) -> None:
    # The embedded peer answers at once: a short read timeout keeps the cases that
    # wait for a reply that a defect never sends from costing 10 s each.
    proc = mailspec("selftest", "-n", "2", "--timeout", "3", "--report-dir", str(tmp_path), timeout=900)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("selftest:")]
    assert line, proc.stdout[-3000:] + proc.stderr[-3000:]
    m = re.match(r"selftest: (\d+) scenarios, (\d+) caught, (\d+) missed", line[-1])
    assert m, line
    total, caught, missed = map(int, m.groups())
    assert missed == 0, proc.stdout[-5000:]
    assert total == caught == len(scenario_cases_for_smtp())
    assert proc.returncode == 0


def scenario_cases_for_smtp() -> list[tuple[str, list[str], str]]:
    # One selftest scenario per test function and parametrized instance: count collected ids.
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "scenarios"), "--collect-only", "-q", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    ).stdout
    # Client cases (scenarios/clients) run only with a client: the "mailspec" agent stands for the selftest's.
    out += subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "scenarios" / "clients"), "--client", "mailspec",
         "--collect-only", "-q", "-p", "no:cacheprovider"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    ).stdout  # fmt: skip
    return [("", [], line) for line in out.splitlines() if "::" in line]


# The issues' bars: at least N case functions over at least M distinct requirement ids.
BARS = {"smtp": (120, 80), "pop3": (70, 45), "imap": (250, 150)}


@pytest.mark.parametrize("protocol", sorted(BARS))
def test_scenario_counts_meet_the_bar(protocol: str) -> None:
    cases = [c for c in scenario_cases() if c[1][0].startswith(protocol + ".")]
    reqs = {r for _, rs, _ in cases for r in rs if r.startswith(protocol + ".")}
    functions, ids = BARS[protocol]
    assert len(cases) >= functions, len(cases)
    assert len(reqs) >= ids, len(reqs)


def test_ids_are_slugs_not_positions() -> None:
    for r in requirements.catalog():
        assert re.search(r"\.[a-z][a-z0-9-]+$", r), r
    assert Path(requirements.CATALOG_DIR).is_dir()
