"""`mailspec run | selftest | peers list|up|down|prune | report | matrix`.

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
import shlex
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
        help="a URL (smtp[s]://, submission[s]://, lmtp://, pop3[s]://, imap[s]://, jmap[s]://, https://.../.well-known/jmap), HOST:PORT or HOST (repeatable)",
    )
    run.add_argument("--target-config", default=None, help="TOML file with the target's accounts and addresses")
    run.add_argument("--user", default=None)
    run.add_argument("--password", default=None)
    run.add_argument("--recipient", default=None, help="an address the target accepts for delivery")
    run.add_argument(
        "--peer",
        default=None,
        help="reference peer when no --target: embedded (default), postfix, exim, aiosmtpd, dovecot, cyrus, postfix-dovecot",
    )
    run.add_argument(
        "--backend",
        default=None,
        help="how --peer runs: local or docker (default: local where it can run here, else docker)",
    )
    run.add_argument("--strict", action="store_true", help="WARN (a SHOULD not met) fails the run")
    run.add_argument("--known-failures", default=None, help="file of '<requirement-id> <reason>' lines")
    run.add_argument(
        "--client",
        default=None,
        help="judge this mail client instead of a server: the client scenarios run it against reference "
        "servers (curl, msmtp, fetchmail, getmail6, smtplib, poplib, aiosmtplib, mailspec...)",
    )
    run.add_argument(
        "--client-cmd", default=None, help="judge the client this command template runs (or py:module:function)"
    )
    _common(run)

    st = sub.add_parser("selftest", help="prove every scenario can fail: clean reference vs its seeded defect")
    _common(st)

    peers = sub.add_parser("peers", help="reference peers")
    peers_sub = peers.add_subparsers(dest="peers_command", required=True)
    peers_sub.add_parser("list", help="the peers and which backends can run each here")
    p_up = peers_sub.add_parser("up", help="start a peer and leave it running; print its address and accounts")
    p_up.add_argument("name")
    p_up.add_argument("--backend", default=None, help="local or docker (default: local where it can run, else docker)")
    p_down = peers_sub.add_parser("down", help="stop a peer started by `peers up`")
    p_down.add_argument("name")
    p_prune = peers_sub.add_parser("prune", help="remove containers left by crashed runs")
    p_prune.add_argument("--all", action="store_true", help="also the peers started by `peers up`")

    rep = sub.add_parser("report", help="print the summary of a finished run")
    rep.add_argument("dir", nargs="?", default="reports/latest")
    rep.add_argument("--html", action="store_true", help="(re)write DIR/report.html from its results.jsonl")
    rep.add_argument("--transcript-cap", type=int, default=None, help="characters of transcript shown per case")

    mx = sub.add_parser("matrix", help="run every peer (or join finished runs) into matrix.html, .json and .md")
    mx.add_argument("--peers", default=None, help="comma-separated peers (default: every peer of `peers list`)")
    mx.add_argument(
        "--from",
        dest="from_dirs",
        nargs="+",
        default=None,
        metavar="DIR",
        help="join these run directories; run nothing",
    )
    mx.add_argument("--report-dir", default=None, help="where the matrix goes (default reports/matrix/<timestamp>)")
    mx.add_argument("--runs-dir", default=None, help="where each peer's run goes (default REPORT_DIR/runs)")
    mx.add_argument("-j", dest="jobs", type=int, default=None, help="peers run at a time (default: one per core)")
    mx.add_argument("-n", dest="workers", default="1", help="pytest-xdist workers per peer run (default 1)")
    mx.add_argument("-k", dest="keyword", default=None, help="only cases matching this pytest -k expression")
    mx.add_argument("--protocol", action="append", default=[], help="only this protocol's scenarios (repeatable)")
    mx.add_argument("--timeout", type=float, default=None, help="seconds to wait for any single read")
    mx.add_argument("--backend", default=None, help="local or docker for every peer (default: each peer's own)")
    mx.add_argument(
        "--bundle", action="store_true", help="copy each run's report.html beside the matrix and link there"
    )
    mx.add_argument("--transcript-cap", type=int, default=None, help="characters of transcript shown per case")
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

    if getattr(ns, "client", None) or getattr(ns, "client_cmd", None):
        return _cmd_run_client(ns)
    if ns.peer and ns.peer not in CATALOG:
        raise CLIError(f"unknown peer {ns.peer!r}; known: {', '.join(CATALOG)}")
    _check_backend(ns.backend)
    if ns.backend and not ns.peer:
        ns.peer = "embedded"
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
    for opt in ("target_config", "user", "password", "recipient", "peer", "backend", "known_failures"):
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


def _cmd_run_client(ns: argparse.Namespace) -> int:
    """`mailspec run --client NAME|--client-cmd TEMPLATE [--protocol P]`: the client scenarios only."""
    from .agents import catalog as agents
    from .report.results import new_run_dir

    if ns.target or ns.peer:
        raise CLIError("--client judges a client against reference servers: give no --target or --peer")
    if ns.client and ns.client_cmd:
        raise CLIError("give --client or --client-cmd, not both")
    if ns.client:
        if ns.client not in agents.CATALOG:
            raise CLIError(f"unknown client {ns.client!r}; known: {', '.join(agents.CATALOG)}")
        why = agents.available(agents.CATALOG[ns.client])
        if why:
            raise CLIError(why)
    if ns.known_failures and not Path(ns.known_failures).is_file():
        raise CLIError(f"--known-failures: no such file: {ns.known_failures}")
    report_dir = Path(ns.report_dir) if ns.report_dir else new_run_dir(Path("reports"))
    args = _pytest_args(ns, report_dir)
    args[0] = str(scenarios_dir() / "clients")
    args += ["--client", ns.client] if ns.client else ["--client-cmd", ns.client_cmd]
    if ns.known_failures:
        args += ["--known-failures", ns.known_failures]
    if ns.strict:
        args.append("--strict")
    code = _run_pytest(args, report_dir)
    print("\n".join(_summary_lines(report_dir)))
    print(f"report: {report_dir}")
    if code == 5:
        raise CLIError("no client scenario matched (check --protocol, -k and the client's protocols)")
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

    width = max(len(n) for n in CATALOG)
    print(f"{'peer':<{width}} {'protocols':<26} backends")
    for name, info in CATALOG.items():
        b = backends(name)
        shown = "; ".join(f"{k}: {v}" for k, v in b.items())
        print(f"{name:<{width}} {','.join(info.protocols):<26} {shown}")
    return EXIT_OK


def _check_backend(backend: str | None) -> None:
    from .peers.catalog import BACKENDS

    if backend is not None and backend not in BACKENDS:
        raise CLIError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")


def cmd_peers(ns: argparse.Namespace) -> int:
    from .peers import PeerError
    from .peers.catalog import CATALOG

    if ns.peers_command == "list":
        return cmd_peers_list(ns)
    if ns.peers_command in ("up", "down") and ns.name not in CATALOG:
        raise CLIError(f"unknown peer {ns.name!r}; known: {', '.join(CATALOG)}")
    try:
        if ns.peers_command == "up":
            return cmd_peers_up(ns)
        if ns.peers_command == "down":
            from .peers.serve import down

            for what in down(ns.name):
                print(f"stopped {what}")
            return EXIT_OK
        if ns.peers_command == "prune":
            from .peers.docker import prune

            removed = prune(everything=ns.all)
            print(f"removed {len(removed)} container(s){': ' if removed else ''}{', '.join(removed)}")
            return EXIT_OK
    except PeerError as e:
        raise CLIError(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__) from None
    raise CLIError(f"unknown peers command {ns.peers_command!r}")


def cmd_peers_up(ns: argparse.Namespace) -> int:
    from .peers.serve import up

    _check_backend(ns.backend)
    backend, targets = up(ns.name, ns.backend)
    implementation = targets[0].implementation if targets else ""
    print(f"{ns.name} is up ({backend}{', ' + implementation if implementation else ''}) on 127.0.0.1")
    for t in targets:
        role = t.extra.get("role", "primary")
        print(f"  {t.protocol:<10} {t.host}:{t.port:<6} {t.url}{'' if role == 'primary' else f'  ({role})'}")
    for a in targets[0].accounts if targets else ():
        print(f"  account    {a.user} / {a.password}" + (f"  <{a.address}>" if a.address else ""))
    if targets and targets[0].recipient:
        print(f"  recipient  {targets[0].recipient}")
    if targets and targets[0].cafile:
        print(f"  CA         {targets[0].cafile}")
    print(f"stop it with: mailspec peers down {ns.name}")
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
    if ns.html:
        from .report.html import DEFAULT_TRANSCRIPT_CAP, write_html_for_dir

        print(f"html: {write_html_for_dir(d, transcript_cap=ns.transcript_cap or DEFAULT_TRANSCRIPT_CAP)}")
    return EXIT_OK


def cmd_matrix(ns: argparse.Namespace) -> int:
    from .report.html import DEFAULT_TRANSCRIPT_CAP
    from .report.matrix import build_matrix, run_matrix, write_matrix
    from .report.results import new_run_dir

    cap = ns.transcript_cap or DEFAULT_TRANSCRIPT_CAP
    if ns.from_dirs:
        dirs = [Path(d) for d in ns.from_dirs]
        for d in dirs:
            if not (d / "results.jsonl").exists():
                raise CLIError(f"no results.jsonl in {d}")
        out = Path(ns.report_dir) if ns.report_dir else new_run_dir(Path("reports") / "matrix")
        command = shlex.join(
            [
                "mailspec",
                "matrix",
                "--from",
                *ns.from_dirs,
                *(["--bundle"] if ns.bundle else []),
                "--report-dir",
                str(out),
            ]
        )
        m = build_matrix(dirs, out, command=command, bundle=ns.bundle, transcript_cap=cap)
    else:
        from .peers.catalog import CATALOG

        _check_backend(ns.backend)
        peers = [p.strip() for p in ns.peers.split(",") if p.strip()] if ns.peers else list(CATALOG)
        unknown = [p for p in peers if p not in CATALOG]
        if unknown or not peers:
            raise CLIError(f"unknown peer {', '.join(unknown) or '(none given)'}; known: {', '.join(CATALOG)}")
        out = Path(ns.report_dir) if ns.report_dir else new_run_dir(Path("reports") / "matrix")
        runs_dir = Path(ns.runs_dir) if ns.runs_dir else out / "runs"
        extra = [f"--protocol={p}" for p in ns.protocol] + (["-k", ns.keyword] if ns.keyword else [])
        extra += ["--timeout", str(ns.timeout)] if ns.timeout else []
        opts = ["--peers", ",".join(peers), "--report-dir", str(out), "-n", ns.workers]
        opts += ["--runs-dir", str(runs_dir)] if ns.runs_dir else []
        opts += ["--backend", ns.backend] if ns.backend else []
        opts += ["--bundle"] if ns.bundle else []
        opts += ["--transcript-cap", str(cap)] if ns.transcript_cap else []
        command = shlex.join(["mailspec", "matrix", *opts, *extra])
        runs, wall = run_matrix(
            peers,
            runs_dir,
            jobs=ns.jobs,
            workers=ns.workers,
            extra=extra,
            backend=ns.backend,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
        ran = [r for r in runs if not r.reason]
        m = build_matrix(
            [r.run_dir for r in ran],
            out,
            command=command,
            unavailable=[{"peer": r.peer, "reason": r.reason} for r in runs if r.reason],
            commands={r.run_dir: r.command for r in ran},
            durations={r.run_dir: r.duration_s for r in ran},
            bundle=ns.bundle,
            transcript_cap=cap,
            wall_s=wall,
        )
    for path in write_matrix(m, out):
        print(f"wrote {path}")
    for c in m.columns:
        counts = ", ".join(f"{n} {v}" for v, n in sorted(c.counts.items()))
        print(f"  {c.label:<40} {c.cases:>5} cases  {counts}")
    for u in m.unavailable:
        print(f"  not run: {u['peer']}: {u['reason']}")
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
            return cmd_peers(ns)
        if ns.command == "report":
            return cmd_report(ns)
        if ns.command == "matrix":
            return cmd_matrix(ns)
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
