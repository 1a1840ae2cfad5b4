"""The catalog of mail clients the client scenarios judge.

Each ``Agent`` names a real client (or a Python library, run as a process by
``python -m conformance.agents.pylib``), how it is installed, how to learn its
version, and per operation a command template:

- operations: ``smtp.send``; ``pop3.fetch-all`` / ``pop3.fetch-one`` /
  ``pop3.delete`` (fetch every message and delete it); ``imap.*`` and
  ``jmap.*`` alike (``imap.sync`` for mbsync);
- placeholders: {host} {port} {user} {password} {from} {to} {rcpts}
  {message_file} {maildir} {workdir} {cafile} {python} {msgnum} {timeout}
  {operation} {behaviours};
- options: fragments chosen per case and substituted for {tls} and {auth}
  ("plain" / "starttls"; "none" / "yes"): a client without the fragment a case
  needs is UNSUPPORTED for that case, never FAILed;
- files: config files written into the run's work directory (mode 0600),
  e.g. fetchmail's rc; ``stdin``: the file fed on standard input.

Values are shell-quoted into the argv template (split with shlex) and put as
they are into files. Any other client: ``--client-cmd 'TEMPLATE'`` (one
template for every operation of the run's protocols), or
``--client-cmd py:package.module:function`` (a Python callable run by the
pylib runner: ``function(operation, values) -> exit status``).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from typing import Any


@dataclass(frozen=True, eq=False)
class Operation:
    argv: str
    options: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> value -> fragment
    files: dict[str, str] = field(default_factory=dict)
    stdin: str = ""  # a file name in the work directory, e.g. "message.eml"
    per_rcpt: str = "{rcpt}"  # repeated for each recipient into {rcpts}


@dataclass(frozen=True, eq=False)
class Agent:
    name: str
    protocols: tuple[str, ...]
    package: str  # "deb:curl", "pypi:aiosmtplib", "stdlib:smtplib", "mailspec"
    version_argv: tuple[str, ...]
    operations: dict[str, Operation]
    notes: str = ""
    host: str = "127.0.0.1"  # how the client names the server ({host}); the certificate names both forms

    @property
    def binary(self) -> str:
        return self.version_argv[0] if self.version_argv else ""


def _quote(values: dict[str, Any]) -> dict[str, str]:
    return {k: shlex.quote(str(v)) for k, v in values.items()}


def _fmt(template: str, values: dict[str, str]) -> str:
    return template.format_map(values)


def render(
    op: Operation, options: dict[str, str], values: dict[str, Any], recipients: list[str]
) -> tuple[list[str], dict[str, str], str]:
    """(argv, files, stdin file) for one run; KeyError names a missing option fragment or value."""
    quoted, raw = _quote(values), {k: str(v) for k, v in values.items()}
    for name, value in options.items():
        table = op.options.get(name, {"plain": "", "none": ""})
        if value not in table:
            raise KeyError(f"{name}={value}")
        quoted[name] = _fmt(table[value], quoted)
        raw[name] = _fmt(table[value], raw)
    quoted["rcpts"] = " ".join(_fmt(op.per_rcpt, {**quoted, "rcpt": shlex.quote(r)}) for r in recipients)
    raw["rcpts"] = " ".join(_fmt(op.per_rcpt, {**raw, "rcpt": r}) for r in recipients)
    argv = shlex.split(_fmt(op.argv, quoted))
    files = {name: _fmt(text, raw) for name, text in op.files.items()}
    return argv, files, op.stdin


_VERSION = re.compile(r"(\d+\.\d+(?:\.\d+)*)")


def version(agent: Agent) -> str:
    """The agent's version as it reports it ("" when it cannot be run)."""
    return _version(agent.version_argv)


@cache
def _version(argv: tuple[str, ...]) -> str:
    if not argv:
        return ""
    try:
        p = subprocess.run(list(argv), capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    for line in (p.stdout + "\n" + p.stderr).splitlines():
        if "WARNING" in line:
            continue
        m = _VERSION.search(line)
        if m:
            return m.group(1)
    return ""


def available(agent: Agent) -> str | None:
    """None when the agent can run here, else why not."""
    if agent.package.startswith("deb:") and shutil.which(agent.binary) is None:
        return f"{agent.binary} is not installed (Debian package {agent.package[4:]}: ci/install-clients)"
    if agent.package.startswith("pypi:"):
        import importlib.util

        if importlib.util.find_spec(agent.package[5:]) is None:
            return f"the Python package {agent.package[5:]} is not installed (pip install {agent.package[5:]})"
    return None


# --- templates ---------------------------------------------------------------------------------

PY = "{python} -m conformance.agents.pylib"
# The pylib and mailspec runners share their option fragments.
_PY_TLS = {"plain": "", "starttls": "--starttls --cafile {cafile}"}
_PY_AUTH = {"none": "", "yes": "--user {user} --password {password}"}
_PY_COMMON = "--host {host} --port {port} --timeout {timeout} {tls} {auth}"


def _py_smtp(lib: str, runner: str = PY) -> Operation:
    return Operation(
        f"{runner} {lib} send {_PY_COMMON} --from {{from}} --message-file {{message_file}} -- {{rcpts}}",
        {"tls": _PY_TLS, "auth": _PY_AUTH},
    )


def _py_fetch(lib: str, what: str, runner: str = PY) -> Operation:
    auth = {"none": "--user {user} --password {password}", "yes": "--user {user} --password {password}"}
    return Operation(
        f"{runner} {lib} {what} {_PY_COMMON} --maildir {{maildir}} --msgnum {{msgnum}}",
        {"tls": _PY_TLS, "auth": auth},
    )


_MDA = "{python} -m conformance.agents.deliver {maildir}"
_FETCHMAIL_TLS = {"plain": "sslproto ''", "starttls": 'sslproto "TLS1.2+" sslcertck sslcertfile "{cafile}"'}
_FETCHMAIL_RC = (
    "poll {host} service {port} protocol {proto} auth password timeout {timeout}\n"
    '  user "{user}" password "{password}" {tls} {keep} fetchall mda "' + _MDA + '"\n'
)


def _fetchmail(proto: str, keep: str) -> Operation:
    rc = _FETCHMAIL_RC.replace("{proto}", proto).replace("{keep}", keep)
    return Operation(
        "fetchmail -f fetchmailrc --nosyslog -i {workdir}/fetchids --pidfile {workdir}/fetchmail.pid",
        {"tls": _FETCHMAIL_TLS, "auth": {"none": "", "yes": ""}},
        files={"fetchmailrc": rc},
    )


_GETMAIL_RC = """[retriever]
type = {kind}
server = {host}
port = {port}
username = {user}
password = {password}
{tls}

[destination]
type = Maildir
path = {maildir}/
user = nobody

[options]
read_all = true
delete = {delete}
delivered_to = false
received = false
message_log = {workdir}/getmail.log
"""


def _getmail(proto: str, delete: bool) -> Operation:
    kind = {"pop3": "SimplePOP3Retriever", "imap": "SimpleIMAPRetriever"}[proto]
    rc = _GETMAIL_RC.replace("{kind}", kind).replace("{delete}", "true" if delete else "false")
    return Operation(
        "getmail --rcfile {workdir}/getmailrc --getmaildir {workdir} --quiet",
        # getmail6 has implicit TLS retrievers (SimplePOP3SSLRetriever) but no STLS/STARTTLS.
        {"tls": {"plain": ""}, "auth": {"none": "", "yes": ""}},
        files={"getmailrc": rc},
    )


_CURL = "curl -sS --max-time {timeout}"
_CURL_TLS = {"plain": "", "starttls": "--ssl-reqd --cacert {cafile}"}

CATALOG: dict[str, Agent] = {}


def _add(agent: Agent) -> None:
    CATALOG[agent.name] = agent


_add(
    Agent(
        "mailspec",
        ("smtp", "pop3"),
        "mailspec",
        (sys.executable, "-m", "conformance.agents.mailspec", "--version"),
        {
            "smtp.send": _py_smtp("smtp", "{python} -m conformance.agents.mailspec"),
            **{
                f"pop3.{w}": _py_fetch("pop3", w, "{python} -m conformance.agents.mailspec")
                for w in ("fetch-all", "fetch-one", "delete")
            },
        },
        "the suite's own reference clients; its client behaviours are the seeded defects of client cases",
    )
)
_add(
    Agent(
        "curl",
        ("smtp", "pop3", "imap"),
        "deb:curl",
        ("curl", "--version"),
        {
            "smtp.send": Operation(
                _CURL
                + " smtp://{host}:{port}/client.mailspec.test --mail-from {from} {rcpts} -T {message_file} {tls} {auth}",
                {"tls": _CURL_TLS, "auth": {"none": "", "yes": "--user {user}:{password}"}},
                per_rcpt="--mail-rcpt {rcpt}",
            ),
            "pop3.fetch-one": Operation(
                _CURL + " pop3://{host}:{port}/{msgnum} --user {user}:{password} -o {maildir}/new/{msgnum}.eml {tls}",
                {"tls": _CURL_TLS},
            ),
            "imap.fetch-one": Operation(
                _CURL
                + " imap://{host}:{port}/INBOX;UID={msgnum} --user {user}:{password} -o {maildir}/new/{msgnum}.eml {tls}",
                {"tls": _CURL_TLS},
            ),
        },
    )
)
_add(
    Agent(
        "msmtp",
        ("smtp",),
        "deb:msmtp",
        ("msmtp", "--version"),
        {
            "smtp.send": Operation(
                "msmtp --host={host} --port={port} --domain=client.mailspec.test --from={from} --timeout={timeout} {tls} {auth} -- {rcpts}",
                {
                    "tls": {"plain": "--tls=off", "starttls": "--tls=on --tls-starttls=on --tls-trust-file={cafile}"},
                    "auth": {"none": "--auth=off", "yes": "--auth=on --user={user} '--passwordeval=cat password'"},
                },
                files={"password": "{password}\n"},
                stdin="message.eml",
            )
        },
    )
)
_add(
    Agent(
        "fetchmail",
        ("pop3", "imap"),
        "deb:fetchmail",
        ("fetchmail", "--version"),
        {
            "pop3.fetch-all": _fetchmail("pop3", "keep"),
            "pop3.delete": _fetchmail("pop3", "nokeep"),
            "imap.fetch-all": _fetchmail("imap", "keep"),
            "imap.delete": _fetchmail("imap", "nokeep"),
        },
        # fetchmail checks the certificate against the name as a DNS name, never an IP address.
        host="localhost",
    )
)
_add(
    Agent(
        "getmail6",
        ("pop3", "imap"),
        "deb:getmail6",
        ("getmail", "--version"),
        {
            "pop3.fetch-all": _getmail("pop3", False),
            "pop3.delete": _getmail("pop3", True),
            "imap.fetch-all": _getmail("imap", False),
            "imap.delete": _getmail("imap", True),
        },
    )
)
_add(
    Agent(
        "mbsync",
        ("imap",),
        "deb:isync",
        ("mbsync", "--version"),
        {
            "imap.sync": Operation(
                "mbsync -c {workdir}/mbsyncrc -a -q",
                {"tls": {"plain": "SSLType None", "starttls": "SSLType STARTTLS\nCertificateFile {cafile}"}},
                files={
                    "mbsyncrc": "IMAPAccount test\nHost {host}\nPort {port}\nUser {user}\nPass {password}\n{tls}\n"
                    "AuthMechs LOGIN\n\nIMAPStore remote\nAccount test\n\nMaildirStore local\nPath {maildir}/\n"
                    "Inbox {maildir}\n\nChannel test\nFar :remote:\nNear :local:\nPatterns INBOX\nSync Pull\n"
                    "Create Near\nSyncState *\n"
                },
            )
        },
    )
)
for _lib, _protos in (
    ("smtplib", ("smtp",)),
    ("aiosmtplib", ("smtp",)),
    ("poplib", ("pop3",)),
    ("imaplib", ("imap",)),
    ("imapclient", ("imap",)),
    ("jmapc", ("jmap",)),
):
    _ops: dict[str, Operation] = {}
    if "smtp" in _protos:
        _ops["smtp.send"] = _py_smtp(_lib)
    if "pop3" in _protos:
        _ops.update({f"pop3.{w}": _py_fetch(_lib, w) for w in ("fetch-all", "fetch-one", "delete")})
    _add(
        Agent(
            _lib,
            _protos,
            ("stdlib:" if _lib in ("smtplib", "poplib", "imaplib") else "pypi:") + _lib,
            (sys.executable, "-m", "conformance.agents.pylib", _lib, "--version"),
            _ops,
            "operations for IMAP and JMAP come with the IMAP/JMAP client cases" if not _ops else "",
        )
    )


def custom_agent(template: str, protocols: tuple[str, ...]) -> Agent:
    """``--client-cmd``: one command template for every operation, or a Python callable ``py:module:function``."""
    if template.startswith("py:"):
        argv = (
            PY
            + " callable "
            + shlex.quote(template[3:])
            + " {operation} "
            + _PY_COMMON
            + (" --from {from} --to {to} --maildir {maildir} --msgnum {msgnum} --message-file {message_file}")
        )
        name = template[3:].rpartition(":")[2] or "callable"
        op = Operation(argv, {"tls": _PY_TLS, "auth": _PY_AUTH})
    else:
        op = Operation(template)
        name = shlex.split(template)[0].rpartition("/")[2] if template.strip() else "custom"
    ops = {f"{p}.{w}": op for p in protocols for w in ("send", "fetch-all", "fetch-one", "delete", "sync")}
    return Agent(name, protocols, "custom", (), ops, f"--client-cmd {template}")


def get(name: str) -> Agent:
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"unknown client {name!r}; known: {', '.join(CATALOG)}") from None
