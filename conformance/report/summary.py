"""The terminal summary and summary.md: counts by verdict and by requirement level."""

from __future__ import annotations

from collections import Counter

from ..verdict import ORDER
from .results import CaseResult

LEVEL_GROUPS = ("MUST", "SHOULD", "MAY")


def level_group(level: str) -> str:
    if level.startswith(("MUST", "REQUIRED", "SHALL")):
        return "MUST"
    if level.startswith("SHOULD"):
        return "SHOULD"
    return "MAY"


def summary_table(results: list[CaseResult]) -> list[str]:
    by: Counter[tuple[str, str]] = Counter((r.verdict, level_group(r.level)) for r in results)
    totals: Counter[str] = Counter(r.verdict for r in results)
    head = f"{'verdict':<12}" + "".join(f"{g:>8}" for g in LEVEL_GROUPS) + f"{'total':>8}"
    lines = [head]
    for v in ORDER:
        if totals[v]:
            lines.append(f"{v.value:<12}" + "".join(f"{by[(v.value, g)]:>8}" for g in LEVEL_GROUPS) + f"{totals[v]:>8}")
    lines.append(
        f"{'all':<12}"
        + "".join(f"{sum(by[(v.value, g)] for v in ORDER):>8}" for g in LEVEL_GROUPS)
        + f"{len(results):>8}"
    )
    return lines


def problem_lines(results: list[CaseResult], strict: bool) -> list[str]:
    bad = {"FAIL", "ERROR", "TIMEOUT"} | ({"WARN"} if strict else set())
    out = []
    for r in results:
        if r.verdict in bad and not r.known_failure:
            req = r.requirements[0] if r.requirements else ""
            out.append(f"{r.verdict:<8} {req}  {r.message[:160]}  [{r.target}]")
    return out


def summary_markdown(results: list[CaseResult], title: str) -> str:
    lines = [f"# {title}", "", "```", *summary_table(results), "```", ""]
    problems = problem_lines(results, strict=True)
    if problems:
        lines += ["## Not passing", ""] + [f"- {p}" for p in problems] + [""]
    return "\n".join(lines)
