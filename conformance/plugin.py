"""The pytest plugin: options, targets and peers, fixtures, verdicts, streamed reports.

Scenarios are ordinary pytest tests decorated with ``conformance.scenario.case``.
This plugin gives them a ``target`` (parametrized over every target of the
run whose protocol the case applies to), maps each outcome to a verdict,
streams one JSON line per case, and writes junit.xml, run.json and
summary.md at the end. Under pytest-xdist the controller starts the peer once
and hands its address to the workers.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from . import __version__, requirements
from .context import CaseContext
from .discovery import TargetError, implementation_from_banner, parse_target
from .net import NetError, NetTimeout
from .peers import PeerError
from .peers.catalog import make_peer
from .report.html import write_html
from .report.junit import write_junit
from .report.results import CaseResult, ResultStream, new_run_dir, read_known_failures
from .report.summary import problem_lines, summary_markdown, summary_table
from .target import Credentials, Target
from .verdict import Observation, Unsupported, Verdict, Violation
from .wire.errors import ProtocolError

RESULT_KEY = "mailspec_result"
CTX_KEY = pytest.StashKey[CaseContext]()


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("mailspec", "mailspec conformance")
    g.addoption(
        "--target",
        action="append",
        default=[],
        help="URL (smtp[s]://, submission[s]://, lmtp://, pop3[s]://, imap[s]://, jmap[s]://, https://.../.well-known/jmap), HOST:PORT (protocol found from the greeting) or HOST (standard ports probed); repeatable",
    )
    g.addoption(
        "--target-config", default=None, help="TOML file: target url, accounts, recipient, unknown_recipient, domain"
    )
    g.addoption("--user", default=None, help="account name for AUTH/LOGIN")
    g.addoption("--password", default=None, help="password for --user (never written to reports)")
    g.addoption("--recipient", default=None, help="an address the target accepts for delivery")
    g.addoption(
        "--peer",
        default=None,
        help="reference peer to start when no --target is given: embedded (default), postfix, exim, aiosmtpd, dovecot, cyrus, postfix-dovecot",
    )
    g.addoption(
        "--backend",
        default=None,
        choices=("local", "docker"),
        help="how --peer runs: local (Debian's packages here; the embedded peer in process) or docker "
        "(default: local where it can run, else docker)",
    )
    g.addoption(
        "--protocol",
        action="append",
        default=[],
        help="only run scenarios of this protocol (smtp, lmtp, pop3, imap, jmap); repeatable",
    )
    g.addoption("--known-failures", default=None, help="file of '<requirement-id> <reason>' lines: accepted FAILs")
    g.addoption(
        "--report-dir",
        default=None,
        help="where results.jsonl, junit.xml, run.json, summary.md go (default reports/<timestamp>)",
    )
    g.addoption("--no-report", action="store_true", default=False, help="write no report files")
    g.addoption(
        "--case-timeout",
        type=float,
        default=10.0,
        help="seconds to wait for any single read from the target (default 10)",
    )
    g.addoption(
        "--selftest",
        action="store_true",
        default=False,
        help="run each scenario against the clean embedded peer and against its seeded defect",
    )
    g.addoption(
        "--profile",
        default=None,
        choices=("imap4rev1", "imap4rev2"),
        help="IMAP revision to hold the server to (default: the highest its CAPABILITY announces)",
    )
    g.addoption("--defect", default=None, help="start the embedded peer with this seeded defect (behaviour name)")
    g.addoption(
        "--client",
        default=None,
        help="run the client scenarios (scenarios/clients) against this client from the catalog "
        "(curl, msmtp, fetchmail, getmail6, smtplib, poplib, aiosmtplib, mailspec...)",
    )
    g.addoption(
        "--client-cmd",
        default=None,
        help="run the client scenarios against this command template ({host} {port} {user} {password} "
        "{message_file} {maildir}...; see conformance/agents/catalog.py) or py:module:function",
    )
    g.addoption("--client-timeout", type=float, default=20.0, help="seconds a client under test may run (default 20)")
    g.addoption("--mailspec-progress", action="store_true", default=False, help=argparse_hidden())


def argparse_hidden() -> str:
    return "print one progress line per case on stderr (used by `mailspec run`)"


@dataclass
class State:
    config: pytest.Config
    targets: list[Target] | None = None
    notes: list[str] = field(default_factory=list)
    peers: list[Any] = field(default_factory=list)
    stream: ResultStream | None = None
    report_dir: Path | None = None
    known: dict[str, str] = field(default_factory=dict)
    known_fixed: set[str] = field(default_factory=set)  # known-failure ids with a passing case
    known_failing: set[str] = field(default_factory=set)  # ... and those with a case still failing

    def known_now_passing(self) -> list[str]:
        """Known-failure ids whose every case passed: they can leave the file."""
        return sorted(self.known_fixed - self.known_failing)

    started: float = field(default_factory=time.time)
    total: int = 0
    done: int = 0
    failed: int = 0
    is_worker: bool = False
    selftest_peers: dict[str, tuple[Any, list[Target]]] = field(default_factory=dict)

    # --- targets -----------------------------------------------------------

    def opt(self, name: str) -> Any:
        return self.config.getoption(name)

    def get_targets(self) -> list[Target]:
        if self.targets is None:
            self.targets = self._resolve_targets()
        return self.targets

    def _resolve_targets(self) -> list[Target]:
        if self.is_worker:
            wi: dict[str, Any] = self.config.workerinput  # type: ignore[attr-defined]
            if "mailspec_targets" in wi:
                return [Target.from_json(t) for t in json.loads(wi["mailspec_targets"])]
        accounts, extra = self._credentials()
        texts = list(self.opt("target")) + ([extra.pop("url")] if "url" in extra else [])
        token = extra.pop("token", None)  # a JMAP bearer token: kept in Target.extra
        if texts:
            out: list[Target] = []
            for text in texts:
                try:
                    found, notes = parse_target(text, accounts=accounts)
                except TargetError as e:
                    raise pytest.UsageError(str(e)) from None
                self.notes += notes
                out += [t.with_(**extra) for t in found]
            if token:
                out = [t.with_(extra={**t.extra, "token": token}) for t in out]
            return out
        name = "embedded" if self.opt("defect") else (self.opt("peer") or "embedded")
        try:
            peer = make_peer(
                name, behaviours=(self.opt("defect"),) if self.opt("defect") else (), backend=self.opt("backend")
            )
            targets = peer.start()
        except (PeerError, ValueError) as e:
            raise pytest.UsageError(f"cannot start peer {name}: {e}") from None
        self.peers.append(peer)
        return [t for t in targets if t.extra.get("role", "primary") == "primary"]

    def _credentials(self) -> tuple[tuple[Credentials, ...], dict[str, Any]]:
        accounts: list[Credentials] = []
        extra: dict[str, Any] = {}
        path = self.opt("target_config")
        if path:
            import tomllib

            try:
                data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as e:
                raise pytest.UsageError(f"cannot read --target-config {path}: {e}") from None
            for a in data.get("account", []):
                accounts.append(Credentials(a["user"], a.get("password", ""), a.get("address", "")))
            for key in ("url", "recipient", "unknown_recipient", "domain", "implementation", "token"):
                if key in data.get("target", {}):
                    extra[key] = data["target"][key]
        if self.opt("user"):
            accounts.insert(0, Credentials(self.opt("user"), self.opt("password") or ""))
        if self.opt("recipient"):
            extra["recipient"] = self.opt("recipient")
        if "recipient" in extra and "domain" not in extra:
            extra["domain"] = extra["recipient"].rpartition("@")[2]
        return tuple(accounts), extra

    def stop_peers(self) -> None:
        for p in [*self.peers, *(peer for peer, _ in self.selftest_peers.values())]:
            try:
                p.stop()
            except Exception as e:  # a peer that fails to stop must not hide the results
                print(f"mailspec: stopping peer {p.name}: {e}", file=sys.stderr)
            self._save_logs(p)
        self.peers.clear()
        self.selftest_peers.clear()

    def _save_logs(self, peer: Any) -> None:
        """The stopped peer's server logs (a container's too) go into the report: peers/<name>.log."""
        if self.report_dir is None:
            return
        try:
            text = peer.logs()
            if text.strip():
                out = self.report_dir / "peers"
                out.mkdir(parents=True, exist_ok=True)
                (out / f"{peer.name}.log").write_text(text, encoding="utf-8", errors="replace")
        except Exception as e:
            print(f"mailspec: saving the logs of peer {peer.name}: {e}", file=sys.stderr)

    # --- reports -----------------------------------------------------------

    def record(self, result: CaseResult) -> None:
        if self.stream is None:
            if not self.opt("no_report"):
                rd = self.opt("report_dir")
                self.report_dir = Path(rd) if rd else new_run_dir(Path("reports"))
            self.stream = ResultStream(self.report_dir)
        self.stream.write(result)


def _strict(config: pytest.Config) -> bool:
    """pytest owns ``--strict`` (it sets the ``strict`` ini option); mailspec reads it: WARN fails too."""
    return bool(config.getini("strict"))


def _state(config: pytest.Config) -> State:
    st: State = config.stash[STATE_KEY]
    return st


STATE_KEY = pytest.StashKey[State]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mailspec_case(requirements, defect, protocols): a conformance case")
    for proto in ("smtp", "lmtp", "submission", "pop3", "imap", "jmap", "interop", "security"):
        config.addinivalue_line("markers", f"{proto}: {proto} scenarios")
    for level in ("must", "should", "may"):
        config.addinivalue_line("markers", f"{level}: cases checking a {level.upper()} requirement")
    for rfc in sorted({r.rfc for r in requirements.catalog().values()}):
        config.addinivalue_line("markers", f"rfc{rfc}: cases citing RFC {rfc}")
    st = State(config, is_worker=hasattr(config, "workerinput"))
    config.stash[STATE_KEY] = st
    if not st.is_worker:
        config.pluginmanager.register(ResultHooks(config), "mailspec-results")
        if any(config.getoption(o) for o in ("target", "target_config", "peer", "defect")):
            # Explicit targets and peers fail here, as one usage error, not at collection;
            # only the implicit embedded peer starts lazily (so `pytest tests` starts nothing).
            st.get_targets()
    kf = config.getoption("known_failures")
    if kf:
        try:
            st.known = read_known_failures(Path(kf))
        except (OSError, ValueError) as e:
            raise pytest.UsageError(f"--known-failures: {e}") from None


def _client_run(config: pytest.Config) -> bool:
    """Whether this run judges a client (--client / --client-cmd): server cases do not run."""
    return bool(config.getoption("client") or config.getoption("client_cmd"))


def _wants_peer(config: pytest.Config) -> bool:
    """Whether this run is a conformance run (so the controller should start the peer)."""
    if _client_run(config):
        return False
    return bool(
        config.getoption("target")
        or config.getoption("peer")
        or config.getoption("selftest")
        or config.getoption("defect")
        or any("scenarios" in str(a) for a in config.args)
    )


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist controller: start the peer once and give every worker its targets."""
    st = _state(node.config)
    if not _wants_peer(node.config):
        return
    targets = st.get_targets()
    node.workerinput["mailspec_targets"] = json.dumps([t.to_json() for t in targets])


def pytest_unconfigure(config: pytest.Config) -> None:
    st = config.stash.get(STATE_KEY, None)
    if st is not None:
        st.stop_peers()


# --- collection ---------------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    mark = metafunc.definition.get_closest_marker("mailspec_case")
    if mark is not None and mark.kwargs.get("direction") == "client" and "client_agent" in metafunc.fixturenames:
        _parametrize_client_case(metafunc, mark)
        return
    if mark is None or "target" not in metafunc.fixturenames:
        return
    if _client_run(metafunc.config):
        params = [pytest.param((None, ""), id="no-target", marks=pytest.mark.skip(reason="a client run"))]
        metafunc.parametrize("target", params, indirect=True)
        return
    st = _state(metafunc.config)
    all_targets = st.get_targets()
    protocols: tuple[str, ...] = mark.kwargs["protocols"]
    wanted = set(metafunc.config.getoption("protocol") or [])
    targets = [
        t for t in all_targets if t.protocol in protocols and (not wanted or t.family in wanted or t.protocol in wanted)
    ]
    if metafunc.config.getoption("selftest"):
        # With several targets (smtp and submission), the scheme keeps the ids apart: clean-smtp, defect-smtp.
        many = len(targets) > 1
        params = [
            pytest.param((t, v), id=f"{v}-{t.scheme}" if many else v) for t in targets for v in ("clean", "defect")
        ]
    else:
        params = [pytest.param((t, ""), id=t.label) for t in targets]
    if not params:
        params = [
            pytest.param(
                (None, ""), id="no-target", marks=pytest.mark.skip(reason="no target of this protocol in this run")
            )
        ]
    metafunc.parametrize("target", params, indirect=True)


def _parametrize_client_case(metafunc: pytest.Metafunc, mark: pytest.Mark) -> None:
    """A client case runs against the --client (or --client-cmd) agent; under --selftest against
    the "mailspec" agent clean and with the case's client defect. Otherwise it is left out."""
    config = metafunc.config
    protocols: tuple[str, ...] = mark.kwargs["protocols"]
    wanted = set(config.getoption("protocol") or [])
    name = config.getoption("client")
    if config.getoption("selftest"):
        chosen = not wanted or bool(set(protocols) & wanted)
        params = [pytest.param(("mailspec", v), id=v) for v in ("clean", "defect")] if chosen else []
    elif config.getoption("client_cmd") or name:
        agent = _agent(config)
        served = set(agent.protocols) & set(protocols)
        ok = served and (not wanted or served & wanted)
        params = [pytest.param((agent.name, ""), id=agent.name)] if ok else []
    else:
        params = []
    if not params:
        params = [pytest.param((None, ""), id="no-target", marks=pytest.mark.skip(reason="no client for this case"))]
    metafunc.parametrize("client_agent", params, indirect=True)


def _agent(config: pytest.Config) -> Any:
    from .agents import catalog as agents

    template = config.getoption("client_cmd")
    if template:
        wanted = tuple(config.getoption("protocol") or ()) or ("smtp", "pop3", "imap", "jmap")
        return agents.custom_agent(template, wanted)
    try:
        return agents.get(config.getoption("client"))
    except KeyError as e:
        raise pytest.UsageError(str(e.args[0])) from None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    # Drop the placeholders of cases whose protocol has no target in this run.
    # The placeholder id leads the parametrization: [no-target] or [no-target-<other params>].
    keep = [i for i in items if not i.name.endswith("[no-target]") and "[no-target-" not in i.name]
    if len(keep) != len(items) and any(i.get_closest_marker("mailspec_case") for i in keep):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep
    _state(config).total = sum(1 for i in items if i.get_closest_marker("mailspec_case"))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    st = _state(node.config)
    st.total = max(st.total, len(ids))


# --- fixtures -----------------------------------------------------------------


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Target:
    tgt, variant = request.param
    if tgt is None:
        pytest.skip("no target of this protocol in this run")
    if variant == "defect":
        mark = request.node.get_closest_marker("mailspec_case")
        assert mark is not None
        tgt = _defect_target(_state(request.config), mark.kwargs["defect"], tgt)
    assert isinstance(tgt, Target)
    return tgt


def _defect_target(st: State, defect: str, clean: Target) -> Target:
    """The same kind of target on an embedded peer that has the seeded defect."""
    if defect not in st.selftest_peers:
        peer = make_peer("embedded", behaviours=(defect,))
        st.selftest_peers[defect] = (peer, peer.start())
    for t in st.selftest_peers[defect][1]:
        if t.protocol == clean.protocol and t.implicit_tls == clean.implicit_tls:
            return t
    raise PeerError(f"embedded peer has no {clean.protocol} endpoint")


AGENT_KEY = pytest.StashKey[str]()


@pytest.fixture
def client_agent(request: pytest.FixtureRequest) -> tuple[str, str]:
    name, variant = request.param
    if name is None:
        pytest.skip("no client for this case in this run")
    return str(name), str(variant)


@pytest.fixture
def client(request: pytest.FixtureRequest, client_agent: tuple[str, str]) -> Iterator[Any]:
    """A client case: ``client.server(...)`` starts a reference server, ``client.run(op, ...)`` runs the client."""
    from .agents import catalog as agents
    from .agents.harness import ClientCase

    _, variant = client_agent
    agent = agents.get("mailspec") if variant else _agent(request.config)
    why = agents.available(agent)
    if why:
        pytest.skip(why)
    behaviours: tuple[str, ...] = ()
    if variant == "defect":
        mark = request.node.get_closest_marker("mailspec_case")
        assert mark is not None
        behaviours = (mark.kwargs["defect"],)
    version = agents.version(agent)
    request.node.stash[AGENT_KEY] = f"{agent.name} {version}".strip()
    target = Target(protocol="client", host="127.0.0.1", port=0, implementation="mailspec-reference-server")
    ctx = CaseContext(target, timeout=request.config.getoption("case_timeout"))
    request.node.stash[CTX_KEY] = ctx
    case = ClientCase(
        agent, behaviours=behaviours, timeout=request.config.getoption("client_timeout"), transcript=ctx.transcript
    )
    yield case
    if case.runs:
        ctx.transcript("client runs").note(case.run_notes())
    case.close()


@pytest.fixture
def case_context(request: pytest.FixtureRequest, target: Target) -> CaseContext:
    ctx = CaseContext(target, timeout=request.config.getoption("case_timeout"))
    request.node.stash[CTX_KEY] = ctx
    return ctx


@pytest.fixture
def smtp(case_context: CaseContext) -> Iterator[Any]:
    from .clients.smtp import SMTPSessions

    sessions = SMTPSessions(case_context)
    yield sessions
    sessions.close_all()


@pytest.fixture
def pop3(case_context: CaseContext) -> Iterator[Any]:
    from .clients.pop3 import POP3Sessions  # type: ignore[import-not-found,unused-ignore]

    sessions = POP3Sessions(case_context)
    yield sessions
    sessions.close_all()


@pytest.fixture
def imap(case_context: CaseContext, request: pytest.FixtureRequest) -> Iterator[Any]:
    from .clients.imap import IMAPSessions

    sessions = IMAPSessions(case_context, profile=request.config.getoption("profile"))
    yield sessions
    sessions.close_all()


@pytest.fixture
def interop(imap: Any) -> Iterator[Any]:
    """The case's IMAP target plus the ways in and the read paths of the same peer."""
    from .interop import Interop

    it = Interop(imap)
    yield it
    it.close()


@pytest.fixture
def jmap(case_context: CaseContext) -> Iterator[Any]:
    from .clients.jmap import JMAPSessions

    sessions = JMAPSessions(case_context)
    yield sessions
    sessions.close_all()


# --- verdicts -----------------------------------------------------------------


def classify(
    excinfo: pytest.ExceptionInfo[BaseException] | None, reqs: list[str]
) -> tuple[Verdict, str, str, Violation | None]:
    """(verdict, level, message, violation) for how a case ended."""
    first = requirements.get(reqs[0])
    if excinfo is None:
        return Verdict.PASS, first.level, "", None
    e = excinfo.value
    if isinstance(e, Violation):
        if e.req and e.req not in reqs:
            # Another requirement broke before this case could check its own.
            return Verdict.ERROR, first.level, f"precondition not met ({e.req}): {e.message}", e
        req = requirements.get(e.req) if e.req else first
        verdict = {"must": Verdict.FAIL, "should": Verdict.WARN, "may": Verdict.INFO}[req.strength]
        return verdict, req.level, f"{req.id}: {e.message}", e
    if isinstance(e, Unsupported) or excinfo.typename == "Skipped":
        return Verdict.UNSUPPORTED, first.level, str(getattr(e, "msg", None) or e), None
    if isinstance(e, Observation):
        return Verdict.INFO, first.level, str(e), None
    if isinstance(e, NetTimeout):
        return Verdict.TIMEOUT, first.level, f"timeout: {e}", None
    if isinstance(e, NetError | ProtocolError):
        return Verdict.ERROR, first.level, f"peer broke the exchange: {e}", None
    return Verdict.ERROR, first.level, f"harness error: {type(e).__name__}: {e}", None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    mark = item.get_closest_marker("mailspec_case")
    if mark is None or call.when == "teardown" or (call.when == "setup" and report.passed):
        return report
    st = _state(item.config)
    reqs: list[str] = list(mark.kwargs["requirements"])
    verdict, level, message, violation = classify(call.excinfo, reqs)
    ctx = item.stash.get(CTX_KEY, None)
    callspec = getattr(item, "callspec", None)
    tgt, variant = callspec.params.get("target", (None, "")) if callspec else (None, "")
    client_case = mark.kwargs.get("direction") == "client"
    agent = item.stash.get(AGENT_KEY, "")
    if client_case:
        tgt, variant = None, (callspec.params.get("client_agent", (None, ""))[1] if callspec else "")
    if ctx is not None and not client_case:
        tgt = ctx.target
    transcript = "\n\n".join(f"== {tr.label}\n{tr.render()}" for tr in ctx.transcripts) if ctx else ""
    implementation = (tgt.implementation if tgt else "") or (implementation_from_banner(ctx.banner) if ctx else "")
    if client_case:
        implementation = agent
    result = CaseResult(
        case=item.nodeid.split("[", 1)[0].removeprefix("scenarios/"),
        requirements=reqs,
        protocol=(tgt.protocol if tgt else reqs[0].split(".")[0]),
        direction="client" if client_case else "server",
        level=level,
        verdict=verdict.value,
        target=(f"client:{agent.split(' ')[0]}" if client_case and agent else tgt.label if tgt else ""),
        implementation=implementation,
        duration_s=round(call.duration, 4),
        message=message,
        expected=violation.expected if violation else "",
        observed=violation.observed if violation else "",
        defect=mark.kwargs["defect"],
        variant=variant,
        nodeid=item.nodeid,
        transcript=transcript,
        agent=agent if client_case else "",
    )
    strict = _strict(item.config)
    failing = verdict in (Verdict.FAIL, Verdict.ERROR, Verdict.TIMEOUT) or (strict and verdict == Verdict.WARN)
    if variant:
        _selftest_outcome(report, result, reqs)
    elif verdict == Verdict.FAIL and (set(reqs) & st.known.keys() or (violation and violation.req in st.known)):
        result.known_failure = True
        report.outcome = "skipped"
        report.wasxfail = f"known failure: {message}"
    elif failing:
        report.outcome = "failed"
        report.longrepr = _longrepr(result, reqs)
    elif verdict == Verdict.UNSUPPORTED:
        report.outcome = "skipped"
        report.longrepr = (str(item.path), None, f"UNSUPPORTED: {message}")
    else:
        report.outcome = "passed"
        report.longrepr = None
    if verdict == Verdict.PASS and set(reqs) & st.known.keys():
        result.message = "passes, though its requirement is listed as a known failure"
    report.user_properties.append((RESULT_KEY, result.to_json()))
    return report


def _selftest_outcome(report: pytest.TestReport, r: CaseResult, reqs: list[str]) -> None:
    strength = requirements.get(reqs[0]).strength
    if r.variant == "clean":
        ok = r.verdict in (Verdict.PASS, Verdict.UNSUPPORTED)
        why = f"clean reference peer got {r.verdict}: {r.message}"
    else:
        wanted = {"must": Verdict.FAIL, "should": Verdict.WARN, "may": Verdict.INFO}[strength]
        ok = r.verdict == wanted
        why = f"seeded defect {r.defect} not caught: expected {wanted}, got {r.verdict} {r.message}"
    report.outcome = "passed" if ok else "failed"
    report.longrepr = None if ok else why


def _longrepr(r: CaseResult, reqs: list[str]) -> str:
    req = requirements.get(next((x for x in reqs if r.message.startswith(x)), reqs[0]))
    lines = [f"{r.verdict} {r.message}", f'  {req.citation}: "{req.text}"']
    if r.expected:
        lines.append(f"  expected: {r.expected}")
    if r.observed:
        lines.append(f"  observed: {r.observed}")
    lines.append(f"  target:   {r.target}")
    if r.transcript:
        lines += ["", r.transcript[-4000:]]
    return "\n".join(lines)


class ResultHooks:
    """Registered on the process that writes reports (the xdist controller, or the only process)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == RESULT_KEY:
                _on_result(self.config, CaseResult.from_dict(json.loads(str(value))))


def _on_result(config: pytest.Config, result: CaseResult) -> None:
    st = _state(config)
    st.record(result)
    st.done += 1
    if result.verdict in ("FAIL", "ERROR", "TIMEOUT") and not result.known_failure:
        st.failed += 1
    if result.verdict == "PASS" and set(result.requirements) & st.known.keys():
        st.known_fixed.update(set(result.requirements) & st.known.keys())
    if result.known_failure:
        st.known_failing.update(set(result.requirements) & st.known.keys())
    if config.getoption("mailspec_progress"):
        total = max(st.total, st.done)
        # The real stderr: `mailspec run` captures pytest's own output into the report.
        out = sys.__stderr__ or sys.stderr
        out.write(f"[{st.done:>4}/{total}] {st.failed} failing  {result.verdict:<11} {result.case[:70]}\n")
        out.flush()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    st = _state(session.config)
    if not st.is_worker and st.notes:
        for n in st.notes:
            print(f"mailspec: {n}", file=sys.__stderr__ or sys.stderr)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    st = _state(session.config)
    if st.is_worker or st.stream is None:
        return
    st.stream.close()
    results = st.stream.results
    if st.report_dir is None:
        return
    strict = _strict(session.config)
    write_junit(results, st.report_dir / "junit.xml", strict=strict)
    targets = st.targets or []
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.started))
    run: dict[str, object] = {
        "version": __version__,
        "command": " ".join(["pytest", *sys.argv[1:]]) if "pytest" in sys.argv[0] else " ".join(sys.argv),
        "start": start,
        "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "targets": [
            {"url": t.url, "protocol": t.protocol, "peer": t.peer, "implementation": t.implementation} for t in targets
        ],
        "strict": strict,
        "cases": len(results),
        "known_failures_now_passing": st.known_now_passing(),
    }
    (st.report_dir / "run.json").write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")
    (st.report_dir / "summary.md").write_text(summary_markdown(results, f"mailspec run {start}"), encoding="utf-8")
    write_html(results, st.report_dir / "report.html", run)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    st = _state(config)
    if st.is_worker or st.stream is None or not st.stream.results:
        return
    results = st.stream.results
    tr = terminalreporter
    if config.getoption("selftest"):
        tr.write_line(selftest_line(results))
        return
    tr.section("mailspec verdicts")
    for line in summary_table(results):
        tr.write_line(line)
    for line in problem_lines(results, _strict(config))[:50]:
        tr.write_line(line)
    for req in st.known_now_passing():
        tr.write_line(f"known failure now passes: {req} (remove it from {config.getoption('known_failures')})")
    if st.report_dir:
        tr.write_line(f"report: {st.report_dir}")


def selftest_missed(results: list[CaseResult]) -> tuple[int, list[str]]:
    """(number of scenarios, why each missed one was missed) from a --selftest run."""
    cases: dict[str, dict[str, CaseResult]] = {}
    for r in results:
        # test_x[clean], test_x[defect-p1] -> test_x[], test_x[p1]: one scenario, two variants.
        v = r.variant
        key = r.nodeid.replace(f"[{v}-", "[").replace(f"-{v}]", "]").replace(f"[{v}]", "[]")
        cases.setdefault(key, {})[v] = r
    missed = []
    for key, variants in cases.items():
        clean, defect = variants.get("clean"), variants.get("defect")
        if clean is None or defect is None:
            missed.append(f"{key}: ran only {', '.join(variants)}")
            continue
        wanted = {"must": "FAIL", "should": "WARN", "may": "INFO"}[requirements.get(defect.requirements[0]).strength]
        if clean.verdict not in ("PASS", "UNSUPPORTED"):
            missed.append(f"{key}: the clean reference peer got {clean.verdict}: {clean.message}")
        elif defect.verdict != wanted:
            missed.append(f"{key}: seeded defect {defect.defect} gave {defect.verdict}, not {wanted}: {defect.message}")
    return len(cases), missed


def selftest_line(results: list[CaseResult]) -> str:
    total, missed = selftest_missed(results)
    return f"selftest: {total} scenarios, {total - len(missed)} caught, {len(missed)} missed"
