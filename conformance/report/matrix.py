"""The interoperability matrix: runs joined into matrix.json, matrix.html and matrix.md.

A row per requirement (grouped by protocol and RFC), a column per
implementation@version, each cell the worst verdict of the cases that checked
that requirement against that implementation, linked to the requirement's
anchor in that run's report.html (where the transcripts are). Beside the
table: the date, the command that reproduces the matrix and each column's own
command, and the peers that could not run here with the reason.

``run_matrix`` runs ``mailspec run --peer P`` for each peer, as many at a time
as the machine has cores (each run one worker), then ``build_matrix`` joins
the run directories; ``mailspec matrix --from DIR...`` only joins.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from .html import (
    DEFAULT_TRANSCRIPT_CAP,
    FILTERS_JS,
    VERDICTS,
    badge,
    cap,
    column_label,
    esc,
    page,
    primary_requirement,
    read_run,
    req_info,
    visible,
    worst,
    write_html,
)
from .results import CaseResult
from .summary import LEVEL_GROUPS, level_group


@dataclass
class PeerRun:
    """One peer's run within a matrix: where it went and how it ended."""

    peer: str
    run_dir: Path
    command: str
    exit_code: int | None = None
    duration_s: float = 0.0
    reason: str = ""  # why it could not run, when it could not


@dataclass
class Cell:
    verdict: str
    cases: int
    counts: dict[str, int]
    known_failure: bool = False
    note: str = ""
    href: str = ""


@dataclass
class Column:
    label: str
    peer: str
    run_dir: str
    report: str  # report.html, relative to the matrix directory
    command: str
    start: str = ""
    end: str = ""
    duration_s: float | None = None
    cases: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    cells: dict[str, Cell] = field(default_factory=dict)


@dataclass
class Matrix:
    generated: str
    command: str
    mailspec: str
    machine: str
    columns: list[Column]
    unavailable: list[dict[str, str]]
    wall_s: float | None = None

    def rows(self) -> list[dict[str, Any]]:
        ids = {rid for c in self.columns for rid in c.cells}
        infos = sorted((req_info(rid) for rid in ids), key=lambda i: i.sort_key)
        out = []
        for info in infos:
            out.append(
                {
                    "requirement": info.id,
                    "protocol": info.protocol,
                    "rfc": info.rfc,
                    "section": info.section,
                    "level": info.level,
                    "text": info.text,
                    "cells": {c.label: asdict(c.cells[info.id]) for c in self.columns if info.id in c.cells},
                }
            )
        return out

    def to_json(self) -> dict[str, Any]:
        cols = [{k: v for k, v in asdict(c).items() if k != "cells"} for c in self.columns]
        return {
            "generated": self.generated,
            "command": self.command,
            "mailspec": self.mailspec,
            "machine": self.machine,
            "wall_s": self.wall_s,
            "columns": cols,
            "unavailable": self.unavailable,
            "rows": self.rows(),
        }


def machine_line() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return f"{platform.system()} {platform.release()} {platform.machine()}, {cores} cores, Python {platform.python_version()}"


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# --- running ------------------------------------------------------------------------


def peer_unavailable(name: str, backend: str | None = None) -> str:
    """ "" when the peer can run here (on ``backend``, or on any), else the reasons it cannot."""
    from ..peers.catalog import CATALOG, backends

    if name not in CATALOG:
        return f"unknown peer (known: {', '.join(CATALOG)})"
    try:
        found = backends(name)
    except Exception as e:  # the check itself failing is a reason, not a crash
        return f"cannot check its backends: {type(e).__name__}: {e}"
    wanted = {backend: found.get(backend, "unknown backend")} if backend else found
    if any(v.startswith("yes") for v in wanted.values()):
        return ""
    return "; ".join(f"{k}: {v}" for k, v in wanted.items())


def run_matrix(
    peers: list[str],
    runs_dir: Path,
    *,
    jobs: int | None = None,
    workers: str = "1",
    extra: list[str] | None = None,
    backend: str | None = None,
    timeout: float = 3600.0,
    progress: Any = None,
) -> tuple[list[PeerRun], float]:
    """``mailspec run --peer P --report-dir RUNS/P -n WORKERS`` for each peer, ``jobs`` at a time.

    Returns every peer's run (``reason`` set for those that could not run) and the wall time.
    """
    extra = list(extra or [])
    runs: list[PeerRun] = []
    todo: list[PeerRun] = []
    for name in peers:
        d = runs_dir / name
        cmd = ["mailspec", "run", "--peer", name, "--report-dir", str(d), "-n", workers, *extra]
        if backend:
            cmd[4:4] = ["--backend", backend]
        pr = PeerRun(name, d, shlex.join(cmd))
        runs.append(pr)
        why = peer_unavailable(name, backend)
        if why:
            pr.reason = why
        else:
            todo.append(pr)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]
        ).rstrip(os.pathsep),
    }

    def one(pr: PeerRun) -> None:
        if pr.run_dir.exists():
            shutil.rmtree(pr.run_dir)
        argv = [sys.executable, "-m", "conformance.cli", *shlex.split(pr.command)[1:]]
        t0 = time.monotonic()
        if progress:
            progress(f"matrix: {pr.peer}: started")
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            pr.duration_s = time.monotonic() - t0
            pr.reason = f"did not finish within {timeout:.0f}s"
            return
        pr.duration_s = round(time.monotonic() - t0, 2)
        pr.exit_code = proc.returncode
        if proc.returncode not in (0, 1) or not (pr.run_dir / "results.jsonl").exists():
            errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("mailspec: error:")]
            last = (errors or proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
            pr.reason = last.removeprefix("mailspec: error: ").strip()[:500] or f"exit {proc.returncode}"
        if progress:
            progress(f"matrix: {pr.peer}: {'cannot run: ' + pr.reason if pr.reason else 'done'} ({pr.duration_s:.1f}s)")

    n = max(1, min(jobs or cores(), len(todo) or 1))
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=n) as pool:
        list(pool.map(one, todo))
    return runs, round(time.monotonic() - t0, 2)


# --- joining ------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.@+-]+", "_", text).strip("_") or "run"


def build_matrix(
    run_dirs: list[Path],
    out_dir: Path,
    *,
    command: str,
    unavailable: list[dict[str, str]] | None = None,
    commands: dict[Path, str] | None = None,
    durations: dict[Path, float] | None = None,
    bundle: bool = False,
    transcript_cap: int = DEFAULT_TRANSCRIPT_CAP,
    wall_s: float | None = None,
) -> Matrix:
    """Join finished run directories into a Matrix (a column per implementation found in each run).

    With ``bundle``, each run's report.html (transcripts capped), run.json and summary.md are
    copied into ``out_dir/<peer>/`` and the cells link there, so ``out_dir`` stands alone.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    columns: list[Column] = []
    used: set[str] = set()
    for d in run_dirs:
        results, run = read_run(d)
        targets = run.get("targets") or []
        peer = next((t.get("peer") for t in targets if t.get("peer")), "") or "external"
        if bundle:
            slug = _slug(peer if peer != "external" else d.name)
            base, n = slug, 1
            while slug in used:
                n += 1
                slug = f"{base}-{n}"
            used.add(slug)
            dest = out_dir / slug
            dest.mkdir(parents=True, exist_ok=True)
            write_html(results, dest / "report.html", run, transcript_cap=transcript_cap)
            for name in ("run.json", "summary.md"):
                if (d / name).exists():
                    shutil.copyfile(d / name, dest / name)
            report = dest / "report.html"
        else:
            report = d / "report.html"
            if not report.exists():  # an older run: derive it from results.jsonl
                write_html(results, report, run, transcript_cap=transcript_cap)
        href = Path(os.path.relpath(report.resolve(), out_dir.resolve())).as_posix()
        by_impl: dict[str, list[CaseResult]] = {}
        for r in results:
            by_impl.setdefault(r.implementation, []).append(r)
        for impl, rs in sorted(by_impl.items()):
            label = column_label(impl, run.get("version", __version__))
            if any(c.label == label for c in columns):
                label = f"{label} ({d.name})"
            col = Column(
                label=label,
                peer=peer,
                run_dir=str(d),
                report=href,
                command=(commands or {}).get(d) or run.get("command", ""),
                start=run.get("start", ""),
                end=run.get("end", ""),
                duration_s=(durations or {}).get(d),
                cases=len(rs),
                counts=dict(Counter(r.verdict for r in rs)),
            )
            per_req: dict[str, list[CaseResult]] = {}
            for r in rs:
                per_req.setdefault(primary_requirement(r), []).append(r)
            for rid, cases in per_req.items():
                v = worst(r.verdict for r in cases)
                bad = next((r for r in cases if r.verdict == v), cases[0])
                note = ""
                if v != "PASS":
                    note, _ = cap(bad.message.removeprefix(f"{rid}: ") or bad.verdict, 300)
                    note = " ".join(visible(note).split())
                col.cells[rid] = Cell(
                    verdict=v,
                    cases=len(cases),
                    counts=dict(Counter(r.verdict for r in cases)),
                    known_failure=any(r.known_failure for r in cases if r.verdict == v),
                    note=note,
                    href=f"{href}#req-{rid}",
                )
            columns.append(col)
    return Matrix(
        generated=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        command=command,
        mailspec=__version__,
        machine=machine_line(),
        columns=columns,
        unavailable=list(unavailable or []),
        wall_s=wall_s,
    )


# --- writing ------------------------------------------------------------------------

MATRIX_JS = (
    FILTERS_JS
    + """
(function () {
  "use strict";
  function filter(sel) {
    var shown = 0;
    var rows = document.querySelectorAll("table.matrix tbody tr");
    rows.forEach(function (tr) {
      if (tr.classList.contains("grp")) { return; }
      var vs = tr.dataset.verdicts.split(" ");
      var ok = (sel.verdict.size === 0 || vs.some(function (v) { return sel.verdict.has(v); })) &&
               (sel.level.size === 0 || sel.level.has(tr.dataset.level));
      tr.hidden = !ok;
      if (ok) { shown += 1; }
    });
    // A group row (protocol, RFC) is hidden when none of its requirement rows is shown.
    var proto = null, rfc = null, any = new Map();
    rows.forEach(function (tr) {
      if (tr.classList.contains("grp")) {
        if (tr.dataset.depth === "1") { proto = tr; rfc = null; } else { rfc = tr; }
        any.set(tr, false);
        return;
      }
      if (!tr.hidden) { if (proto) { any.set(proto, true); } if (rfc) { any.set(rfc, true); } }
    });
    any.forEach(function (v, tr) { tr.hidden = !v; });
    return shown;
  }
  mailspecFilters(filter);
})();
"""
)


def _cell_text(cell: Cell) -> str:
    extra = " (known)" if cell.known_failure else ""
    return f"{cell.verdict}{extra}"


def render_html(m: Matrix) -> str:
    rows = m.rows()
    title = f"mailspec interoperability matrix ({len(m.columns)} implementations)"
    verdict_rows: Counter[str] = Counter()
    level_rows: Counter[str] = Counter()
    for row in rows:
        for v in {c["verdict"] for c in row["cells"].values()}:
            verdict_rows[v] += 1
        level_rows[level_group(row["level"])] += 1
    meta = [
        ("generated", m.generated),
        ("command", m.command),
        ("mailspec", m.mailspec),
        ("machine", m.machine),
        ("requirements", str(len(rows))),
    ]
    if m.wall_s is not None:
        meta.append(("wall time", f"{m.wall_s:.1f}s"))
    dl = "".join(f"<dt>{esc(k)}</dt><dd{' class=mono' if k == 'command' else ''}>{esc(v)}</dd>" for k, v in meta)
    cols = []
    for c in m.columns:
        counts = ", ".join(f"{c.counts[v]} {v}" for v in VERDICTS if c.counts.get(v))
        took = f", {c.duration_s:.1f}s" if c.duration_s is not None else ""
        cols.append(
            f'<li><a href="{esc(c.report)}"><b>{esc(c.label)}</b></a> (peer {esc(c.peer)}): {c.cases} cases: '
            f"{esc(counts)}{esc(took)}<br><span class=note>{esc(c.start)} .. {esc(c.end)}</span> "
            f"<code>{esc(c.command)}</code></li>"
        )
    unavailable = "".join(f"<li><b>{esc(u['peer'])}</b>: {esc(u['reason'])}</li>" for u in m.unavailable)
    head = (
        f"<header><h1>{esc(title)}</h1><dl class=meta>{dl}</dl>"
        f"<h3>Columns</h3><ul>{''.join(cols) or '<li>none</li>'}</ul>"
        + (f'<h3>Not run here</h3><ul class="unavailable">{unavailable}</ul>' if unavailable else "")
        + "</header>"
    )
    vb = "".join(
        f'<button type="button" data-filter="verdict" data-value="{v}">{v} ({verdict_rows[v]})</button>'
        for v in VERDICTS
        if verdict_rows[v]
    )
    lb = "".join(
        f'<button type="button" data-filter="level" data-value="{g}">{g} ({level_rows[g]})</button>'
        for g in LEVEL_GROUPS
        if level_rows[g]
    )
    filters = (
        '<div class="filters" id="filters"><span class="label">rows with a cell</span>'
        f'<button type="button" data-filter="verdict" data-value="">all</button>{vb} '
        f'<span class="label">level</span><button type="button" data-filter="level" data-value="">all</button>{lb}'
        f' <span class="note">showing <span id="shown">{len(rows)}</span> of {len(rows)} requirements</span></div>'
    )
    th = "".join(f'<th><a href="{esc(c.report)}">{esc(c.label)}</a></th>' for c in m.columns)
    body = [f'<table class="matrix"><thead><tr><th>requirement</th>{th}</tr></thead><tbody>']
    ncol = len(m.columns) + 1
    notes: list[str] = []
    last_proto = last_rfc = None
    for row in rows:
        if row["protocol"] != last_proto:
            body.append(f'<tr class="grp" data-depth="1"><td colspan="{ncol}">{esc(row["protocol"].upper())}</td></tr>')
            last_proto, last_rfc = row["protocol"], None
        if row["rfc"] != last_rfc:
            body.append(
                f'<tr class="grp" data-depth="2"><td colspan="{ncol}">&nbsp;&nbsp;RFC {esc(row["rfc"])}</td></tr>'
            )
            last_rfc = row["rfc"]
        tds = []
        verdicts = set()
        for c in m.columns:
            cell = c.cells.get(row["requirement"])
            if cell is None:
                tds.append('<td class="na" title="not checked against this implementation">—</td>')
                continue
            verdicts.add(cell.verdict)
            ref = ""
            if cell.note:
                notes.append(f"{c.label}, {row['requirement']}: {cell.note}")
                ref = f'<sup><a href="#note-{len(notes)}">{len(notes)}</a></sup>'
            tip = f"{cell.cases} case(s): " + ", ".join(f"{n} {v}" for v, n in cell.counts.items())
            tds.append(
                f'<td title="{esc(tip)}"><a href="{esc(cell.href)}">{badge(cell.verdict, " (known)" if cell.known_failure else "")}</a>{ref}</td>'
            )
        body.append(
            f'<tr id="row-{esc(row["requirement"])}" data-verdicts="{esc(" ".join(sorted(verdicts)))}" '
            f'data-level="{level_group(row["level"])}"><td class="rq" title="{esc(row["text"])}">'
            f"§{esc(row['section'])} <span class=mono>{esc(row['requirement'])}</span> "
            f"<span class=note>{esc(row['level'])}</span></td>{''.join(tds)}</tr>"
        )
    body.append("</tbody></table>")
    if notes:
        body.append(
            "<h3>Notes</h3><ol>" + "".join(f'<li id="note-{i}">{esc(n)}</li>' for i, n in enumerate(notes, 1)) + "</ol>"
        )
    body.append(
        '<p class="note">Each cell is the worst verdict of the cases that checked the requirement against that '
        "implementation; it links to that run's report.html, where each case has its wire transcript. "
        "Hover a requirement for its quoted text.</p>"
    )
    return page(title, head + "<main>" + filters + "\n".join(body) + "</main>", MATRIX_JS)


def _md(text: str) -> str:
    return " ".join(visible(text).split()).replace("|", "\\|").replace("[", "\\[").replace("]", "\\]")


def render_markdown(m: Matrix) -> str:
    rows = m.rows()
    lines = [
        "# mailspec interoperability matrix",
        "",
        f"- generated: {m.generated}",
        f"- command: `{m.command}`",
        f"- mailspec {m.mailspec}; machine: {m.machine}",
    ]
    if m.wall_s is not None:
        lines.append(f"- wall time: {m.wall_s:.1f}s")
    lines += ["", "## Columns", ""]
    for c in m.columns:
        counts = ", ".join(f"{c.counts[v]} {v}" for v in VERDICTS if c.counts.get(v))
        took = f", {c.duration_s:.1f}s" if c.duration_s is not None else ""
        lines.append(f"- [{c.label}]({c.report}) (peer {c.peer}): {c.cases} cases: {counts}{took}; `{c.command}`")
    if m.unavailable:
        lines += ["", "## Not run here", ""]
        lines += [f"- **{u['peer']}**: {_md(u['reason'])}" for u in m.unavailable]
    lines += ["", "## Matrix", ""]
    lines.append("| requirement | " + " | ".join(_md(c.label) for c in m.columns) + " |")
    lines.append("|---|" + "---|" * len(m.columns))
    notes: list[str] = []
    last: tuple[str, str] | None = None
    for row in rows:
        if (row["protocol"], row["rfc"]) != last:
            last = (row["protocol"], row["rfc"])
            lines.append(f"| **{row['protocol'].upper()} · RFC {row['rfc']}** |" + " |" * len(m.columns))
        cells = []
        for c in m.columns:
            cell = c.cells.get(row["requirement"])
            if cell is None:
                cells.append("—")
                continue
            text = f"[{_cell_text(cell)}]({cell.href})"
            if cell.note:
                notes.append(f"{c.label}, {row['requirement']}: {_md(cell.note)}")
                text += f"[^{len(notes)}]"
            cells.append(text)
        lines.append(f"| §{row['section']} `{row['requirement']}` {row['level']} | " + " | ".join(cells) + " |")
    if notes:
        lines.append("")
        lines += [f"[^{i}]: {n}" for i, n in enumerate(notes, 1)]
    lines.append("")
    return "\n".join(lines)


def write_matrix(m: Matrix, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "matrix.json", out_dir / "matrix.html", out_dir / "matrix.md"]
    paths[0].write_text(json.dumps(m.to_json(), indent=1) + "\n", encoding="utf-8")
    paths[1].write_text(render_html(m), encoding="utf-8")
    paths[2].write_text(render_markdown(m), encoding="utf-8", errors="backslashreplace")
    return paths
