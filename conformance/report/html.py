"""report.html: one self-contained page per run (inline CSS and JS, nothing fetched).

A verdict per requirement, grouped by protocol, RFC and section; under each
requirement its quoted text and the cases that checked it, each with its
verdict, message, expected vs observed and the wire transcript (collapsible,
capped per case). Filters by verdict and by requirement level. A header with
the target and implementation, the date, the command and the counts.

Everything from the run is escaped: transcripts carry whatever bytes the
server sent. Control characters are shown as ``\\xNN``; no run data is ever
placed inside the ``<script>`` element (it lives in escaped text and
``data-`` attributes), so ``</script>`` in a transcript is only text.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__, requirements
from ..verdict import ORDER
from .results import CaseResult, read_results
from .summary import LEVEL_GROUPS, level_group

DEFAULT_TRANSCRIPT_CAP = 16_000  # characters of transcript shown per case
FIELD_CAP = 4_000  # characters of message / expected / observed shown per case
VERDICTS = [v.value for v in ORDER]
_RANK = {v: i for i, v in enumerate(VERDICTS)}

# C0 and C1 controls (but tab and newline), lone surrogates and non-characters: shown as escapes.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")


def _visible(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def visible(text: object) -> str:
    """``text`` with control characters, lone surrogates and non-characters as ``\\xNN`` / ``\\uNNNN``."""
    return _UNSAFE.sub(_visible, str(text))


def esc(text: object) -> str:
    """HTML-escape ``text`` (quotes too) with unsafe characters made visible."""
    return html.escape(_UNSAFE.sub(_visible, str(text)), quote=True)


def cap(text: str, limit: int) -> tuple[str, bool]:
    """At most ``limit`` characters: the head and the tail, and whether anything was cut."""
    if limit <= 0 or len(text) <= limit:
        return text, False
    head = limit * 3 // 4
    tail = limit - head
    cut = len(text) - head - tail
    return f"{text[:head]}\n\n[... {cut} characters not shown ...]\n\n{text[-tail:]}", True


def worst(verdicts: Iterable[str]) -> str:
    vs = list(verdicts)
    return min(vs, key=lambda v: _RANK.get(v, len(_RANK))) if vs else ""


def primary_requirement(r: CaseResult) -> str:
    """The requirement a case's verdict belongs to: the violated one when the message names it, else its first."""
    for req in r.requirements:
        if r.message.startswith(f"{req}:"):
            return req
    return r.requirements[0] if r.requirements else f"{r.protocol}.unknown"


@dataclass(frozen=True)
class ReqInfo:
    id: str
    protocol: str
    rfc: str
    section: str
    level: str
    text: str

    @property
    def sort_key(self) -> tuple[Any, ...]:
        return (self.protocol, _natural(self.rfc), _natural(self.section), self.id)


def _natural(s: str) -> tuple[Any, ...]:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\s]", s))


def req_info(req_id: str, fallback_protocol: str = "") -> ReqInfo:
    try:
        r = requirements.get(req_id)
    except requirements.CatalogError:
        return ReqInfo(req_id, fallback_protocol or req_id.split(".")[0], "?", "?", "", "(not in this catalog)")
    return ReqInfo(r.id, r.protocol, str(r.rfc), r.section, r.level, r.text)


def column_label(implementation: str, version: str = __version__) -> str:
    """``postfix 3.7.11`` -> ``postfix@3.7.11``; mailspec's own peer carries mailspec's version."""
    if not implementation:
        return "unknown"
    label = re.sub(r" (?=v?\d)", "@", implementation)
    if "@" not in label and implementation.startswith("mailspec"):
        label = f"{implementation}@{version}"
    return label


def read_run(directory: Path) -> tuple[list[CaseResult], dict[str, Any]]:
    results = read_results(directory / "results.jsonl")
    run_path = directory / "run.json"
    run: dict[str, Any] = {}
    if run_path.exists():
        try:
            run = json.loads(run_path.read_text(encoding="utf-8"))
        except ValueError:
            run = {}
    return results, run


# --- the page ---------------------------------------------------------------------

CSS = """
:root{--pass:#1a7f37;--fail:#cf222e;--warn:#9a6700;--info:#0969da;--uns:#6e7781;--err:#8250df;--to:#bc4c00}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1f2328;background:#fff}
header{padding:16px 24px;background:#f6f8fa;border-bottom:1px solid #d0d7de}
header h1{margin:0 0 6px;font-size:20px}
main{padding:8px 24px 40px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:8px 0}
dl.meta dt{font-weight:600;color:#57606a}dl.meta dd{margin:0;word-break:break-all}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
pre{white-space:pre-wrap;word-break:break-all;background:#f6f8fa;border:1px solid #d0d7de;padding:8px;margin:4px 0;max-height:40em;overflow:auto}
table{border-collapse:collapse}
table.counts td,table.counts th{border:1px solid #d0d7de;padding:2px 8px;text-align:right}
table.counts th:first-child,table.counts td:first-child{text-align:left}
.badge{display:inline-block;min-width:7.5em;text-align:center;border-radius:4px;padding:0 6px;color:#fff;font-weight:600;font-size:12px}
.v-PASS{background:var(--pass)}.v-FAIL{background:var(--fail)}.v-WARN{background:var(--warn)}.v-INFO{background:var(--info)}
.v-UNSUPPORTED{background:var(--uns)}.v-ERROR{background:var(--err)}.v-TIMEOUT{background:var(--to)}.v-none{background:#d0d7de;color:#57606a}
.filters{position:sticky;top:0;background:#fff;padding:8px 0;border-bottom:1px solid #d0d7de;z-index:1}
.filters button{font:inherit;font-size:12px;margin:2px;padding:2px 8px;border:1px solid #d0d7de;border-radius:12px;background:#f6f8fa;cursor:pointer}
.filters button[aria-pressed=true]{background:#0969da;color:#fff;border-color:#0969da}
.filters .label{font-weight:600;margin-right:4px}
h2{font-size:18px;margin:24px 0 4px;border-bottom:1px solid #d0d7de}
h3{font-size:15px;margin:16px 0 4px}
.req{margin:8px 0 12px 8px;padding-left:8px;border-left:3px solid #d0d7de}
.req-head{display:flex;gap:8px;align-items:baseline;flex-wrap:wrap}
blockquote{margin:4px 0 6px;padding:2px 10px;border-left:3px solid #8c959f;color:#57606a;font-style:italic}
table.cases{width:100%}
table.cases td{border-top:1px solid #eaeef2;padding:4px 6px;vertical-align:top}
table.cases td.v{width:9em}
.msg{margin:2px 0}.ev{display:grid;grid-template-columns:max-content 1fr;gap:0 8px}
.ev b{color:#57606a;font-weight:600}
.note{color:#57606a;font-size:12px}
.cut{color:#9a6700;font-weight:600;font-size:12px}
.unavailable li{margin:2px 0}
table.matrix{margin-top:8px}
table.matrix th,table.matrix td{border:1px solid #d0d7de;padding:2px 6px;vertical-align:top}
table.matrix thead th{position:sticky;top:42px;background:#f6f8fa}
table.matrix td.rq{font-size:12px}
table.matrix tr.grp td{background:#eaeef2;font-weight:600}
table.matrix a{text-decoration:none}
table.matrix .badge{min-width:4.5em}
"""

# The filter buttons of report.html and matrix.html: "" clears a group, a value toggles in
# it; each click re-applies the page's own ``filter(sel)``, which returns how many it shows.
FILTERS_JS = """
function mailspecFilters(filter) {
  "use strict";
  var sel = { verdict: new Set(), level: new Set() };
  function apply() {
    var shown = filter(sel);
    document.querySelectorAll(".filters button").forEach(function (b) {
      var set = sel[b.dataset.filter];
      var on = b.dataset.value === "" ? set.size === 0 : set.has(b.dataset.value);
      b.setAttribute("aria-pressed", on ? "true" : "false");
    });
    var out = document.getElementById("shown");
    if (out) { out.textContent = String(shown); }
  }
  document.querySelectorAll(".filters button").forEach(function (b) {
    b.addEventListener("click", function () {
      var set = sel[b.dataset.filter];
      if (b.dataset.value === "") { set.clear(); }
      else if (set.has(b.dataset.value)) { set.delete(b.dataset.value); }
      else { set.add(b.dataset.value); }
      apply();
    });
  });
  apply();
}
"""

REPORT_JS = (
    FILTERS_JS
    + """
(function () {
  "use strict";
  function visible(el) { return !el.hidden; }
  function filter(sel) {
    var shown = 0;
    document.querySelectorAll("tr.case").forEach(function (tr) {
      var ok = (sel.verdict.size === 0 || sel.verdict.has(tr.dataset.verdict)) &&
               (sel.level.size === 0 || sel.level.has(tr.dataset.level));
      tr.hidden = !ok;
      if (ok) { shown += 1; }
    });
    ["section.req", "section.rfc", "section.proto"].forEach(function (q) {
      document.querySelectorAll(q).forEach(function (s) {
        s.hidden = !Array.prototype.some.call(s.querySelectorAll("tr.case"), visible);
      });
    });
    return shown;
  }
  function reveal() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id ? document.getElementById(id) : null;
    if (!el) { return; }
    if (el.hidden || el.closest("[hidden]")) { sel.verdict.clear(); sel.level.clear(); apply(); }
    el.querySelectorAll("details").forEach(function (d) { d.open = true; });
    el.scrollIntoView();
  }
  window.addEventListener("hashchange", reveal);
  mailspecFilters(filter);
  reveal();
})();
"""
)


def page(title: str, body: str, script: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # An empty icon: the browser asks for no favicon (nothing is fetched, no console error).
        '<link rel="icon" href="data:,">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n"
        f"<body>\n{body}\n<script>{script}</script>\n</body></html>\n"
    )


def badge(verdict: str, extra: str = "") -> str:
    cls = f"v-{verdict}" if verdict in _RANK else "v-none"
    return f'<span class="badge {cls}">{esc(verdict or "-")}{esc(extra)}</span>'


def _counts_table(results: list[CaseResult]) -> str:
    by: Counter[tuple[str, str]] = Counter((r.verdict, level_group(r.level)) for r in results)
    totals: Counter[str] = Counter(r.verdict for r in results)
    rows = ["<tr><th>verdict</th>" + "".join(f"<th>{g}</th>" for g in LEVEL_GROUPS) + "<th>total</th></tr>"]
    for v in VERDICTS:
        if totals[v]:
            cells = "".join(f"<td>{by[(v, g)]}</td>" for g in LEVEL_GROUPS)
            rows.append(f"<tr><td>{badge(v)}</td>{cells}<td>{totals[v]}</td></tr>")
    cells = "".join(f"<td>{sum(by[(v, g)] for v in VERDICTS)}</td>" for g in LEVEL_GROUPS)
    rows.append(f"<tr><td>all</td>{cells}<td>{len(results)}</td></tr>")
    return f'<table class="counts">{"".join(rows)}</table>'


def _filters(results: list[CaseResult]) -> str:
    totals: Counter[str] = Counter(r.verdict for r in results)
    levels: Counter[str] = Counter(level_group(r.level) for r in results)
    vb = "".join(
        f'<button type="button" data-filter="verdict" data-value="{v}">{v} ({totals[v]})</button>'
        for v in VERDICTS
        if totals[v]
    )
    lb = "".join(
        f'<button type="button" data-filter="level" data-value="{g}">{g} ({levels[g]})</button>'
        for g in LEVEL_GROUPS
        if levels[g]
    )
    return (
        '<div class="filters" id="filters">'
        '<span class="label">verdict</span><button type="button" data-filter="verdict" data-value="">all</button>'
        f'{vb} <span class="label">level</span><button type="button" data-filter="level" data-value="">all</button>{lb}'
        f' <span class="note">showing <span id="shown">{len(results)}</span> of {len(results)} cases</span></div>'
    )


@dataclass
class _Group:
    info: ReqInfo
    cases: list[tuple[int, CaseResult]] = field(default_factory=list)


def group_by_requirement(results: list[CaseResult]) -> dict[str, _Group]:
    groups: dict[str, _Group] = {}
    for n, r in enumerate(results):
        rid = primary_requirement(r)
        if rid not in groups:
            groups[rid] = _Group(req_info(rid, r.protocol))
        groups[rid].cases.append((n, r))
    return groups


def _case_row(n: int, r: CaseResult, transcript_cap: int) -> str:
    extra = " (known)" if r.known_failure else ""
    parts = [f'<div class="mono">{esc(r.case)}</div>']
    meta = [f"target {esc(r.target)}" if r.target else "", f"{r.duration_s:.3f}s"]
    if r.variant:
        meta.append(f"selftest variant {esc(r.variant)}")
    others = [q for q in r.requirements if q != primary_requirement(r)]
    if others:
        meta.append("also cites " + ", ".join(f'<a href="#req-{esc(q)}">{esc(q)}</a>' for q in others))
    parts.append(f'<div class="note">{" · ".join(m for m in meta if m)}</div>')
    if r.message:
        msg, _ = cap(r.message, FIELD_CAP)
        parts.append(f'<div class="msg">{esc(msg)}</div>')
    ev = []
    for name, value in (("expected", r.expected), ("observed", r.observed)):
        if value:
            text, _ = cap(value, FIELD_CAP)
            ev.append(f"<b>{name}</b><code>{esc(text)}</code>")
    if ev:
        parts.append(f'<div class="ev">{"".join(ev)}</div>')
    if r.transcript:
        text, was_cut = cap(r.transcript, transcript_cap)
        lines = r.transcript.count("\n") + 1
        note = (
            f' <span class="cut">capped: {min(transcript_cap, len(r.transcript)):,} of {len(r.transcript):,}'
            " characters shown (the first and the last); the whole transcript is in results.jsonl</span>"
            if was_cut
            else ""
        )
        parts.append(
            f"<details><summary>wire transcript ({lines} lines, {len(r.transcript):,} characters){note}</summary>"
            f"<pre>{esc(text)}</pre></details>"
        )
    return (
        f'<tr class="case" id="case-{n}" data-verdict="{esc(r.verdict)}" data-level="{level_group(r.level)}">'
        f'<td class="v">{badge(r.verdict, extra)}</td><td>{"".join(parts)}</td></tr>'
    )


def _header(results: list[CaseResult], run: dict[str, Any], title: str) -> str:
    targets = run.get("targets") or []
    impls = sorted(
        {r.implementation for r in results if r.implementation} | {t.get("implementation", "") for t in targets} - {""}
    )
    target_list = [f"{t.get('url', '')} ({t.get('peer') or 'external'})" for t in targets] or sorted(
        {r.target for r in results if r.target}
    )
    reqs = group_by_requirement(results)
    req_verdicts = Counter(worst(r.verdict for _, r in g.cases) for g in reqs.values())
    req_line = ", ".join(f"{req_verdicts[v]} {v}" for v in VERDICTS if req_verdicts[v])
    date = run.get("start") or time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(min((r.time for r in results), default=time.time()))
    )
    if run.get("end"):
        date = f"{date} .. {run['end']}"
    meta = [
        ("implementation", ", ".join(column_label(i, run.get("version", __version__)) for i in impls) or "unknown"),
        ("targets", "; ".join(target_list) or "none"),
        ("date", date),
        ("command", run.get("command", "") or "(no run.json)"),
        ("mailspec", run.get("version", __version__)),
        ("requirements", f"{len(reqs)} checked: {req_line}" if reqs else "none"),
    ]
    if run.get("strict"):
        meta.append(("strict", "yes: WARN fails the run"))
    if run.get("known_failures_now_passing"):
        meta.append(("known failures now passing", ", ".join(run["known_failures_now_passing"])))
    dl = "".join(f"<dt>{esc(k)}</dt><dd{' class=mono' if k == 'command' else ''}>{esc(v)}</dd>" for k, v in meta)
    return f'<header><h1>{esc(title)}</h1><dl class="meta">{dl}</dl>{_counts_table(results)}</header>'


def render_report(
    results: list[CaseResult], run: dict[str, Any] | None = None, *, transcript_cap: int = DEFAULT_TRANSCRIPT_CAP
) -> str:
    run = run or {}
    impls = sorted({column_label(r.implementation, run.get("version", __version__)) for r in results})
    title = f"mailspec report: {', '.join(impls) or 'no results'}"
    groups = group_by_requirement(results)
    tree: dict[str, dict[str, list[_Group]]] = defaultdict(lambda: defaultdict(list))
    for g in sorted(groups.values(), key=lambda g: g.info.sort_key):
        tree[g.info.protocol][g.info.rfc].append(g)
    body = [_header(results, run, title), "<main>", _filters(results)]
    if not results:
        body.append("<p>No case ran.</p>")
    for proto in sorted(tree):
        pcases = [r for rfc in tree[proto].values() for g in rfc for _, r in g.cases]
        body.append(
            f'<section class="proto" id="proto-{esc(proto)}"><h2>{esc(proto.upper())} '
            f"{badge(worst(r.verdict for r in pcases))} <span class=note>{len(pcases)} cases</span></h2>"
        )
        for rfc in sorted(tree[proto], key=_natural):
            body.append(f'<section class="rfc" id="{esc(proto)}-rfc{esc(rfc)}"><h3>RFC {esc(rfc)}</h3>')
            for g in tree[proto][rfc]:
                info = g.info
                v = worst(r.verdict for _, r in g.cases)
                known = any(r.known_failure for _, r in g.cases)
                body.append(
                    f'<section class="req" id="req-{esc(info.id)}" data-verdict="{esc(v)}">'
                    f'<div class="req-head">{badge(v, " (known)" if known and v == "FAIL" else "")}'
                    f"<b>§{esc(info.section)}</b> <span class=mono>{esc(info.id)}</span>"
                    f'<span class="note">{esc(info.level)} · {len(g.cases)} case{"s" if len(g.cases) != 1 else ""}</span></div>'
                    f"<blockquote>{esc(info.text)}</blockquote>"
                    '<table class="cases">'
                    + "".join(_case_row(n, r, transcript_cap) for n, r in g.cases)
                    + "</table></section>"
                )
            body.append("</section>")
        body.append("</section>")
    body.append(
        f'<p class="note">Transcripts are capped at {transcript_cap:,} characters per case; '
        "results.jsonl beside this page has them whole. Generated by mailspec "
        f"{esc(run.get('version', __version__))}.</p></main>"
    )
    return page(title, "\n".join(body), REPORT_JS)


def write_html(
    results: list[CaseResult],
    path: Path,
    run: dict[str, Any] | None = None,
    *,
    transcript_cap: int = DEFAULT_TRANSCRIPT_CAP,
) -> None:
    text = render_report(results, run, transcript_cap=transcript_cap)
    # surrogates are already escaped; "strict" would only ever fail on a bug, and then loudly.
    path.write_text(text, encoding="utf-8")


def write_html_for_dir(
    directory: Path, *, out: Path | None = None, transcript_cap: int = DEFAULT_TRANSCRIPT_CAP
) -> Path:
    """report.html from a run directory's results.jsonl and run.json (``mailspec report DIR --html``)."""
    results, run = read_run(directory)
    target = out or directory / "report.html"
    write_html(results, target, run, transcript_cap=transcript_cap)
    return target
