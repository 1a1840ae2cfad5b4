"""The ``client`` fixture's machinery: reference servers that judge the client in front of them.

A client case starts a reference server (``ClientCase.server``) on a free
loopback port with the behaviours it needs, then runs the client under test
(``ClientCase.run``) as a process with a deadline, and judges what the
client did on the wire (the server's ``WireLog`` per connection) and what it
produced (the Maildir it wrote, its exit status, what the server stored).
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ..net import NetTimeout, Transcript
from ..servers.base import Handler, ServerThread
from ..servers.behaviours import Behaviours
from ..store import MailStore
from ..verdict import unsupported
from .catalog import Agent, render
from .wirelog import WireLog, record

DOMAIN = "mailspec.test"
USER, PASSWORD = "alice", "alice-Secret-1"
OTHER = "bob"
SENDER = f"{USER}@{DOMAIN}"
RECIPIENT = f"{OTHER}@{DOMAIN}"


class ClientTimeout(NetTimeout):
    """The client under test did not finish in time (killed): the case ends TIMEOUT."""


# --- TLS material: one CA the clients trust, and certificates good and bad ------------------


@dataclass(frozen=True)
class ClientTLS:
    cafile: str  # the CA the client is told to trust
    certs: dict[str, tuple[str, str]]  # kind -> (chain, key): good, wrong-name, untrusted

    def context(self, kind: str) -> ssl.SSLContext:
        chain, key = self.certs[kind]
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(chain, key)
        return ctx


def _remove(d: Path, owner: int) -> None:
    if os.getpid() == owner:
        shutil.rmtree(d, ignore_errors=True)


@cache
def client_tls() -> ClientTLS:
    """A private CA; a certificate for localhost/127.0.0.1 it signed ("good"), one it signed for
    another name ("wrong-name"), and one for localhost signed by a CA nobody trusts ("untrusted")."""
    import trustme

    d = Path(tempfile.mkdtemp(prefix="mailspec-client-tls-"))
    atexit.register(_remove, d, os.getpid())
    ca, rogue = trustme.CA(organization_name="mailspec client CA"), trustme.CA(organization_name="not trusted")
    ca.cert_pem.write_to_path(str(d / "ca.pem"))
    issued = {
        # A subject CN as well as the subjectAltNames: fetchmail wants one.
        "good": ca.issue_cert("localhost", "127.0.0.1", "mx.mailspec.test", common_name="localhost"),
        "wrong-name": ca.issue_cert("wrong-name.mailspec.invalid", common_name="wrong-name.mailspec.invalid"),
        "untrusted": rogue.issue_cert("localhost", "127.0.0.1", "mx.mailspec.test", common_name="localhost"),
    }
    certs = {}
    for kind, cert in issued.items():
        chain, key = d / f"{kind}-chain.pem", d / f"{kind}-key.pem"
        cert.private_key_pem.write_to_path(str(key))
        with open(chain, "wb") as f:
            for blob in cert.cert_chain_pems:
                f.write(blob.bytes())
        certs[kind] = (str(chain), str(key))
    return ClientTLS(str(d / "ca.pem"), certs)


# --- reference servers -------------------------------------------------------------------


@dataclass
class ServerSpec:
    protocol: str
    store: MailStore
    behaviours: Behaviours
    tls: ssl.SSLContext | None  # offered in-band (STARTTLS/STLS) when set
    implicit_tls: bool
    options: dict[str, Any]


ServerFactory = Callable[[ServerSpec], Handler]
SERVERS: dict[str, ServerFactory] = {}


def server_factory(protocol: str) -> Callable[[ServerFactory], ServerFactory]:
    """Register how a protocol's reference server is made (``SERVERS[protocol]``)."""

    def deco(fn: ServerFactory) -> ServerFactory:
        SERVERS[protocol] = fn
        return fn

    return deco


@server_factory("smtp")
def _smtp(spec: ServerSpec) -> Handler:
    from ..servers.smtp import SMTPConfig, SMTPServer

    cfg = SMTPConfig(
        mode=spec.options.get("mode", "smtp"),
        tls=spec.tls,
        implicit_tls=spec.implicit_tls,
        behaviours=spec.behaviours,
        idle_timeout=30.0,
        **({"max_size": spec.options["max_size"]} if "max_size" in spec.options else {}),
    )
    return SMTPServer(spec.store, cfg).handle


@server_factory("pop3")
def _pop3(spec: ServerSpec) -> Handler:
    from ..servers.pop3 import POP3Config, POP3Server

    cfg = POP3Config(tls=spec.tls, implicit_tls=spec.implicit_tls, behaviours=spec.behaviours, idle_timeout=30.0)
    return POP3Server(spec.store, cfg).handle


@dataclass
class RefServer:
    """A reference server started for one case."""

    protocol: str
    host: str
    port: int
    store: MailStore
    logs: list[WireLog]
    password: str
    tls: bool

    @property
    def connections(self) -> list[WireLog]:
        return list(self.logs)

    def stored(self, user: str = OTHER) -> list[bytes]:
        return [m.data for m in self.store.messages(user)]


# --- runs of the client under test -----------------------------------------------------------


@dataclass
class RunResult:
    operation: str
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    duration: float
    maildir: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def produced(self, maildir: Path | None = None) -> list[bytes]:
        """The messages the client wrote into its Maildir (or ``maildir``: new/ and cur/), oldest first."""
        box = maildir or self.maildir
        files = [f for sub in ("new", "cur") if (box / sub).is_dir() for f in (box / sub).iterdir()]
        return [f.read_bytes() for f in sorted(files, key=lambda f: (f.stat().st_mtime_ns, f.name))]

    def summary(self) -> str:
        err = (self.stderr.strip() or self.stdout.strip())[-300:]
        return f"exit {self.returncode} after {self.duration:.2f}s" + (f": {err}" if err else "")


class ClientCase:
    """The ``client`` fixture: start reference servers, run the client under test against them."""

    def __init__(
        self,
        agent: Agent,
        *,
        behaviours: tuple[str, ...] = (),
        timeout: float = 20.0,
        transcript: Callable[[str], Transcript],
    ) -> None:
        self.agent = agent
        self.behaviours = behaviours  # client behaviours (seeded defects) of the "mailspec" agent
        self.timeout = timeout
        self._transcript = transcript
        self._threads: list[ServerThread] = []
        self._dir = Path(tempfile.mkdtemp(prefix="mailspec-client-case-"))
        os.chmod(self._dir, 0o755)  # clients that deliver as another user (getmail as root: nobody) reach it
        self.servers: list[RefServer] = []
        self.runs: list[RunResult] = []

    # --- servers ---------------------------------------------------------------

    def server(
        self,
        protocol: str = "smtp",
        *,
        behaviours: tuple[Any, ...] = (),
        tls: bool = True,
        implicit_tls: bool = False,
        cert: str = "good",
        password: str = PASSWORD,
        messages: tuple[bytes, ...] | list[bytes] = (),
        **options: Any,
    ) -> RefServer:
        """A reference server for ``protocol`` on a free loopback port; STARTTLS/STLS offered when ``tls``.

        ``behaviours`` are server behaviours (legal but unusual habits, or seeded server
        defects); ``messages`` go into alice's INBOX first; ``cert`` picks the certificate
        the server presents: "good", "wrong-name" or "untrusted".
        """
        factory = SERVERS.get(protocol)
        if factory is None:
            unsupported(f"no reference server for {protocol} client cases yet")
        store = MailStore(DOMAIN)
        alice = store.add_account(USER, password, "postmaster")
        store.add_account(OTHER, "bob-Secret-2")
        for m in messages:
            store.deliver(alice, m, f"sender@{DOMAIN}")
        ctx = client_tls().context(cert) if (tls or implicit_tls) else None
        spec = ServerSpec(protocol, store, Behaviours(tuple(str(b) for b in behaviours)), None if implicit_tls else ctx,
                          implicit_tls, options)  # fmt: skip
        logs: list[WireLog] = []
        thread = ServerThread()
        self._threads.append(thread)
        port = thread.listen(record(factory(spec), logs, self._transcript), tls=ctx if implicit_tls else None)
        srv = RefServer(protocol, "127.0.0.1", port, store, logs, password, tls or implicit_tls)
        self.servers.append(srv)
        return srv

    # --- runs ------------------------------------------------------------------

    def supports(self, operation: str) -> bool:
        return operation in self.agent.operations

    def run(self, operation: str, server: RefServer | None = None, **values: Any) -> RunResult:
        """Run the client's ``operation`` ("smtp.send", "pop3.fetch-all"...) against ``server``.

        Options (``tls="starttls"``, ``auth="yes"``) choose template fragments; an option
        value the client has no fragment for makes the case UNSUPPORTED. Other values fill
        placeholders: message (bytes, written to {message_file}), recipients, msgnum...
        """
        op = self.agent.operations.get(operation)
        if op is None:
            unsupported(f"{self.agent.name} has no {operation} operation")
        srv = server or (self.servers[-1] if self.servers else None)
        if srv is None:
            raise RuntimeError("start a reference server first")
        n = len(self.runs) + 1
        work = self._dir / f"run{n}"
        maildir = work / "Maildir"
        for sub in ("new", "cur", "tmp"):
            (maildir / sub).mkdir(parents=True)
        os.chmod(work, 0o777)
        for sub in ("", "new", "cur", "tmp"):
            os.chmod(maildir / sub, 0o777)  # getmail delivers as nobody
        message = values.pop("message", None)
        recipients = values.pop("recipients", None) or [RECIPIENT]
        placeholders: dict[str, Any] = {
            "host": self.agent.host,
            "port": srv.port,
            "user": USER,
            "password": srv.password,
            "from": SENDER,
            "to": recipients[0],
            "workdir": str(work),
            "maildir": str(maildir),
            "cafile": client_tls().cafile,
            "python": sys.executable,
            "msgnum": 1,
            "operation": operation,
            "behaviours": ",".join(self.behaviours) or "none",
            "timeout": max(5, int(self.timeout) - 2),
        }
        placeholders["message_file"] = ""
        if message is not None:
            (work / "message.eml").write_bytes(message)
            placeholders["message_file"] = str(work / "message.eml")
        options = {"tls": "plain", "auth": "none"}
        for k in list(values):
            if k in op.options or k in options:
                options[k] = str(values.pop(k))
        placeholders.update(values)
        try:
            argv, files, stdin_name = render(op, options, placeholders, recipients)
        except KeyError as e:
            unsupported(f"{self.agent.name} {operation} cannot do {e.args[0]}")
        for name, content in files.items():
            path = work / name
            path.write_text(content, encoding="utf-8")
            path.chmod(0o600)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(work),
            "LANG": "C.UTF-8",
            "TMPDIR": str(work),
            "MAILSPEC_CLIENT_BEHAVIOURS": ",".join(self.behaviours),
        }
        if "PYTHONPATH" in os.environ:
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        stdin = open(work / stdin_name, "rb") if stdin_name else subprocess.DEVNULL  # noqa: SIM115
        started = time.monotonic()
        try:
            proc = subprocess.Popen(
                argv, cwd=work, env=env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                start_new_session=True,
            )  # fmt: skip
        except OSError as e:
            unsupported(f"cannot start {self.agent.name}: {e}")
        finally:
            if stdin_name and not isinstance(stdin, int):
                stdin.close()
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill(proc)
            try:
                out, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:  # a child outside the process group holds the pipes open
                out, err = b"", b""
            self.runs.append(RunResult(operation, argv, -9, _text(out), _text(err), self.timeout, maildir))
            raise ClientTimeout(
                f"{self.agent.name} {operation} did not finish in {self.timeout:g}s and was killed"
            ) from None
        result = RunResult(
            operation, argv, proc.returncode, _text(out), _text(err), time.monotonic() - started, maildir
        )
        self.runs.append(result)
        return result

    def close(self) -> None:
        for t in self._threads:
            t.stop()
        self._threads.clear()
        shutil.rmtree(self._dir, ignore_errors=True)

    def run_notes(self) -> str:
        return "\n".join(f"$ {shlex.join(r.argv)}\n{r.summary()}" for r in self.runs)


def lf(data: bytes) -> bytes:
    """``data`` with CRLF line ends as LF: how clients that store mail as local text compare."""
    return data.replace(b"\r\n", b"\n")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _text(b: bytes | None) -> str:
    return (b or b"").decode("utf-8", "replace")


__all__ = ["SERVERS", "ClientCase", "ClientTimeout", "RefServer", "RunResult", "client_tls", "lf", "server_factory"]

# IMAP and JMAP: their reference servers and the clients' operations register themselves.
from . import imap_jmap as _imap_jmap  # noqa: E402,F401
from . import jmap as _jmap  # noqa: E402,F401
