"""`mailspec run | selftest | peers list | report`.

The CLI is a thin shell over pytest: it resolves targets first (so a wrong or
unreachable target is a one-line error and exit 2, before anything runs),
then runs the scenarios in process with the mailspec plugin, showing one
progress line per case while pytest's own output goes to the report
directory.

Exit codes: 0 no FAIL/ERROR/TIMEOUT (nor WARN with --strict); 1 otherwise;
2 usage or connection error.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import signal
import sys
from pathlib import Path

from . import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CLIError(Exception):
    pass


def scenarios_dir() -> Path:
    here = Path(__file__).resolve().parent.parent / "scenarios"
    if not here.is_dir():
        raise CLIError(f"scenarios not found at {here}")
    return here


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--protocol", action="append", default=[], help="only this protocol's scenarios (repeatable)")
    p.add_argument("--report-dir", default=None, help="report directory (default reports/<timestamp>, reports/latest)")
    p.add_argument("-n", dest="workers", default=None, help="parallel workers (pytest-xdist), e.g. 2 or auto")
    p.add_argument("-k", dest="keyword", default=None, help="only cases matching this pytest -k expression")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for any single read (default 10)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailspec", description="Conformance tests for mail servers and clients.")
    parser.add_argument("--version", action="version", version=f"mailspec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the scenarios against targets or a reference peer")
    run.add_argument(
        "--target",
        action="append",
        default=[],
        help="smtp://H:P, smtps://, submission://, HOST:PORT or HOST (repeatable)",
    )
    run.add_argument("--target-config", default=None, help="TOML file with the target's accounts and addresses")
    run.add_argument("--user", default=None)
    run.add_argument("--password", default=None)
    run.add_argument("--recipient", default=None, help="an address the target accepts for delivery")
    run.add_argument("--peer", default=None, help="reference peer when no --target: embedded (default), postfix")
    run.add_argument("--strict", action="store_true", help="WARN (a SHOULD not met) fails the run")
    run.add_argument("--known-failures", default=None, help="file of '<requirement-id> <reason>' lines")
    _common(run)

    st = sub.add_parser("selftest", help="prove every scenario can fail: clean reference vs its seeded defect")
    _common(st)

    peers = sub.add_parser("peers", help="reference peers")
    peers_sub = peers.add_subparsers(dest="peers_command", required=True)
    peers_sub.add_parser("list", help="the peers and which backends can run each here")

    rep = sub.add_parser("report", help="print the summary of a finished run")
    rep.add_argument("dir", nargs="?", default="reports/latest")
    return parser


def _pytest_args(ns: argparse.Namespace, report_dir: Path) -> list[str]:
    args = [
        str(scenarios_dir()),
        "-p",
        "no:cacheprovider",
        "--mailspec-progress",
        "--report-dir",
        str(report_dir),
        "-q",
        "-rN",
        "--tb=short",
        f"--case-timeout={ns.timeout}",
    ]
    args += [f"--protocol={p}" for p in ns.protocol]
    if ns.workers:
        args += ["-n", str(ns.workers)]
    if ns.keyword:
        args += ["-k", ns.keyword]
    return args


def _run_pytest(args: list[str], report_dir: Path) -> int:
    import pytest

    report_dir.mkdir(parents=True, exist_ok=True)
    log = report_dir / "pytest.log"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        code = pytest.main(args)
    log.write_text(buf.getvalue(), encoding="utf-8")
    out = buf.getvalue()
    # Usage errors (bad target, unknown peer) come back as pytest's exit 4 with an "ERROR: ..." line.
    if int(code) in (3, 4):
        errors = [ln.removeprefix("ERROR: ").strip() for ln in out.splitlines() if ln.startswith("ERROR:")]
        raise CLIError(errors[0] if errors else f"pytest could not run (exit {int(code)}); see {log}")
    return int(code)


def _summary_lines(report_dir: Path) -> list[str]:
    from .report.results import read_results
    from .report.summary import problem_lines, summary_table

    path = report_dir / "results.jsonl"
    if not path.exists():
        return ["no results"]
    results = read_results(path)
    return [*summary_table(results), *problem_lines(results, strict=False)[:40]]


def cmd_run(ns: argparse.Namespace) -> int:
    from .discovery import TargetError, parse_target
    from .peers import PeerError
    from .peers.catalog import CATALOG
    from .report.results import new_run_dir

    if ns.peer and ns.peer not in CATALOG:
        raise CLIError(f"unknown peer {ns.peer!r}; known: {', '.join(CATALOG)}")
    if ns.peer and ns.target:
        raise CLIError("give --target or --peer, not both")
    for opt, path in (("--known-failures", ns.known_failures), ("--target-config", ns.target_config)):
        if path and not Path(path).is_file():
            raise CLIError(f"{opt}: no such file: {path}")
    # Resolve targets here so that discovery is reported and failures are one line.
    resolved: list[str] = []
    for text in ns.target:
        try:
            targets, notes = parse_target(text)
        except TargetError as e:
            raise CLIError(str(e)) from None
        for n in notes:
            print(f"mailspec: {n}", file=sys.stderr)
        resolved += [t.url for t in targets]
    if resolved:
        from .target import SCHEMES

        families = {SCHEMES[u.split("://")[0]][0] for u in resolved}
        covered = {p.name for p in scenarios_dir().iterdir() if p.is_dir() and any(p.glob("test_*.py"))}
        if not families & (covered | {"submission"} if "smtp" in covered else covered):
            raise CLIError(
                f"found {', '.join(sorted(families))}, but mailspec has no scenarios for it yet (it has: {', '.join(sorted(covered))})"
            )
    report_dir = Path(ns.report_dir) if ns.report_dir else new_run_dir(Path("reports"))
    args = _pytest_args(ns, report_dir)
    for url in resolved:
        args += ["--target", url]
    for opt in ("target_config", "user", "password", "recipient", "peer", "known_failures"):
        value = getattr(ns, opt)
        if value:
            args += [f"--{opt.replace('_', '-')}", value]
    if ns.strict:
        args.append("--strict")
    try:
        code = _run_pytest(args, report_dir)
    except PeerError as e:
        raise CLIError(str(e)) from None
    print("\n".join(_summary_lines(report_dir)))
    print(f"report: {report_dir}")
    if code == 5:
        raise CLIError("no scenario matched (check --protocol and -k)")
    return EXIT_OK if code == 0 else EXIT_FAILED


def cmd_selftest(ns: argparse.Namespace) -> int:
    from .report.results import new_run_dir, read_results

    report_dir = Path(ns.report_dir) if ns.report_dir else new_run_dir(Path("reports"))
    args = [*_pytest_args(ns, report_dir), "--selftest"]
    code = _run_pytest(args, report_dir)
    from .plugin import selftest_line, selftest_missed

    results = read_results(report_dir / "results.jsonl") if (report_dir / "results.jsonl").exists() else []
    _, missed = selftest_missed(results)
    for m in missed:
        print(f"missed: {m}")
    print(selftest_line(results))
    if code == 5:
        raise CLIError("no scenario matched (check --protocol and -k)")
    return EXIT_OK if code == 0 and not missed else EXIT_FAILED


def cmd_peers_list(ns: argparse.Namespace) -> int:
    from .peers.catalog import CATALOG, backends

    print(f"{'peer':<10} {'protocols':<26} backends")
    for name, info in CATALOG.items():
        b = backends(name)
        shown = "; ".join(f"{k}: {v}" for k, v in b.items())
        print(f"{name:<10} {','.join(info.protocols):<26} {shown}")
    return EXIT_OK


def cmd_report(ns: argparse.Namespace) -> int:
    d = Path(ns.dir)
    if not (d / "results.jsonl").exists():
        raise CLIError(f"no results.jsonl in {d}")
    run = d / "run.json"
    if run.exists():
        meta = json.loads(run.read_text(encoding="utf-8"))
        print(f"run {meta.get('start')} .. {meta.get('end')}  {meta.get('command')}")
    print("\n".join(_summary_lines(d)))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    # `mailspec ... | head` closes the pipe early: end quietly as other CLI tools do, not with a traceback.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        if ns.command == "run":
            return cmd_run(ns)
        if ns.command == "selftest":
            return cmd_selftest(ns)
        if ns.command == "peers":
            return cmd_peers_list(ns)
        if ns.command == "report":
            return cmd_report(ns)
    except CLIError as e:
        print(f"mailspec: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("mailspec: interrupted; results so far are in the report directory", file=sys.stderr)
        return EXIT_FAILED
    parser.error("unknown command")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
