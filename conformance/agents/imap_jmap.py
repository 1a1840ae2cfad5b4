"""IMAP (and JMAP) for the client cases: the reference servers, the clients' operations, the
Python-library runners, and what the IMAP client cases share.

Imported at the end of ``harness`` (so ``client.server("imap")`` and the IMAP operations of
the catalog exist whenever the harness does). Operations added to the catalog's agents:

- ``imap.fetch-all`` / ``imap.fetch-one`` (UID {msgnum}) / ``imap.delete``: as for POP3;
- ``imap.fetch-folder``: the messages of the mailbox {mailbox} ({mailbox_url} URL-encoded);
- ``imap.sync`` (mbsync) / ``imap.fetch-new``: only what is new since the client's last run;
  run twice with ``workdir=`` and ``maildir=`` of the first run so the client keeps its state.

Python libraries run as ``python -m conformance.agents.imap_jmap LIB OPERATION [options]``
(the options of ``pylib``), used the way their documentation shows.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

from ..servers.imap import client_habits
from ..verdict import check, unsupported
from . import runner
from .catalog import CATALOG, PY, Operation, _fetchmail, _getmail
from .harness import USER, ClientCase, RefServer, RunResult, ServerSpec, lf, server_factory
from .pylib import parser, tls_context, write_maildir
from .runner import EX_UNAVAILABLE
from .wirelog import Unit, WireLog, line_units

# --- the reference servers -----------------------------------------------------------------------


@server_factory("imap")
def _imap(spec: ServerSpec) -> Any:
    cfg = client_habits.ClientCaseConfig(
        tls=spec.tls, implicit_tls=spec.implicit_tls, behaviours=spec.behaviours, idle_timeout=30.0,
        notes=spec.options.get("notes", []),
    )  # fmt: skip
    return client_habits.handler(spec.store, cfg)


# --- the clients' IMAP operations ------------------------------------------------------------------

_MAILSPEC = (
    "{python} -m conformance.agents.mailspec_imap imap %s --host {host} --port {port} --timeout {timeout} {tls}"
    " --user {user} --password {password} --maildir {maildir} --msgnum {msgnum} --state {workdir}/mailspec-imap.state"
)
_TLS = {"plain": "", "starttls": "--starttls --cafile {cafile}"}
_AUTH = {"none": "", "yes": ""}


def _ms(op: str) -> Operation:
    extra = " --mailbox {mailbox}" if op == "fetch-folder" else ""
    return Operation(_MAILSPEC % op + extra, {"tls": _TLS, "auth": _AUTH})


def _lib(lib: str, op: str) -> Operation:
    extra = " --mailbox {mailbox}" if op == "fetch-folder" else ""
    return Operation(
        f"{PY.replace('pylib', 'imap_jmap')} {lib} {op} --host {{host}} --port {{port}} --timeout {{timeout}} {{tls}}"
        f" --user {{user}} --password {{password}} --maildir {{maildir}} --msgnum {{msgnum}}{extra}",
        {"tls": _TLS, "auth": _AUTH},
    )


def _add_ops(name: str, ops: dict[str, Operation], protocols: tuple[str, ...] = ()) -> None:
    agent = CATALOG.get(name)
    if agent is None:
        return
    merged = {**agent.operations, **{k: v for k, v in ops.items() if k not in agent.operations}}
    protos = agent.protocols + tuple(p for p in protocols if p not in agent.protocols)
    CATALOG[name] = dataclasses.replace(agent, operations=merged, protocols=protos)


_MBSYNC_TLS = {"plain": "SSLType None", "starttls": "SSLType STARTTLS\nCertificateFile {cafile}"}
_MBSYNC_FOLDER = (
    "IMAPAccount test\nHost localhost\nPort {port}\nUser {user}\nPass {password}\n{tls}\nAuthMechs LOGIN\n\n"
    "IMAPStore remote\nAccount test\n\nMaildirStore local\nPath {maildir}/\nInbox {maildir}\n\n"
    'Channel test\nFar ":remote:{mailbox}"\nNear :local:INBOX\nSync Pull\nCreate Near\nSyncState *\n'
)
_CURL = "curl -sS --max-time {timeout}"
_CURL_TLS = {"plain": "", "starttls": "--ssl-reqd --cacert {cafile}"}


def _fetchmail_variant(keep: str, old: str, new: str) -> Operation:
    op = _fetchmail("imap", keep)
    return dataclasses.replace(op, files={k: v.replace(old, new) for k, v in op.files.items()})


def _getmail_variant(delete: bool, old: str, new: str) -> Operation:
    op = _getmail("imap", delete)
    return dataclasses.replace(op, files={k: v.replace(old, new) for k, v in op.files.items()})


def register() -> None:
    ms_ops = {f"imap.{op}": _ms(op) for op in ("fetch-all", "fetch-one", "delete", "fetch-folder", "sync", "fetch-new")}
    _add_ops("mailspec", ms_ops, ("imap",))
    _add_ops(
        "curl",
        {
            "imap.fetch-folder": Operation(
                _CURL + " imap://{host}:{port}/{mailbox_url};UID={msgnum} --user {user}:{password}"
                " -o {maildir}/new/{msgnum}.eml {tls}",
                {"tls": _CURL_TLS},
            )
        },
    )
    _add_ops(
        "fetchmail",
        {
            "imap.fetch-folder": _fetchmail_variant("keep", " fetchall", ' folder "{mailbox}" fetchall'),
            "imap.fetch-new": _fetchmail_variant("keep", " fetchall", ""),
        },
    )
    _add_ops(
        "getmail6",
        {
            "imap.fetch-folder": _getmail_variant(False, "{tls}\n", '{tls}\nmailboxes = ("{mailbox}",)\n'),
            "imap.fetch-new": _getmail_variant(False, "read_all = true", "read_all = false"),
        },
    )
    _add_ops(
        "mbsync",
        {
            "imap.fetch-folder": Operation(
                "mbsync -c {workdir}/mbsyncrc -a -q", {"tls": _MBSYNC_TLS}, files={"mbsyncrc": _MBSYNC_FOLDER}
            )
        },
    )
    # mbsync matches the certificate against DNS names only (not an IP address): it connects to "localhost".
    mb = CATALOG.get("mbsync")
    if mb is not None and "imap.sync" in mb.operations:
        op = mb.operations["imap.sync"]
        files = {k: v.replace("Host {host}", "Host localhost") for k, v in op.files.items()}
        mb.operations["imap.sync"] = dataclasses.replace(op, files=files)
    for lib in ("imaplib", "imapclient"):
        _add_ops(lib, {f"imap.{op}": _lib(lib, op) for op in ("fetch-all", "fetch-one", "delete", "fetch-folder")})


register()


# --- Python libraries as processes -------------------------------------------------------------


def _imaplib(a: argparse.Namespace) -> int:
    import imaplib

    m = imaplib.IMAP4(a.host, a.port, timeout=a.timeout)
    try:
        if a.starttls:
            m.starttls(ssl_context=tls_context(a.cafile))
        m.login(a.user, a.password)
        typ, data = m.select(a.mailbox if a.operation == "fetch-folder" else "INBOX")
        if typ != "OK":
            print(f"SELECT: {typ} {data!r}", file=sys.stderr)
            return EX_UNAVAILABLE
        count = int(data[0] or 0)
        fetched: list[Any] = []
        if a.operation == "fetch-one":
            typ, fetched = m.uid("FETCH", str(a.msgnum), "(BODY.PEEK[])")
        elif count:
            typ, fetched = m.fetch(f"1:{count}", "(BODY.PEEK[])")
        for item in fetched:
            if isinstance(item, tuple):
                write_maildir(a.maildir, item[1])
        if a.operation == "delete" and count:
            m.store(f"1:{count}", "+FLAGS", "\\Deleted")
            m.expunge()
        m.logout()
    except imaplib.IMAP4.error as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return EX_UNAVAILABLE
    return 0


def _imapclient(a: argparse.Namespace) -> int:
    from imapclient import IMAPClient  # type: ignore[import-untyped]
    from imapclient.exceptions import IMAPClientError  # type: ignore[import-untyped]

    c = IMAPClient(a.host, port=a.port, ssl=False, timeout=a.timeout)
    try:
        if a.starttls:
            c.starttls(tls_context(a.cafile))
        c.login(a.user, a.password)
        c.select_folder(a.mailbox if a.operation == "fetch-folder" else "INBOX")
        uids = [a.msgnum] if a.operation == "fetch-one" else c.search("ALL")
        if uids:
            fetched = c.fetch(uids, ["BODY.PEEK[]"])
            for uid in sorted(fetched):
                write_maildir(a.maildir, fetched[uid][b"BODY[]"])
        if a.operation == "delete" and uids:
            c.delete_messages(uids)
            c.expunge()
        c.logout()
    except IMAPClientError as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return EX_UNAVAILABLE
    return 0


RUNNERS = {"imaplib": _imaplib, "imapclient": _imapclient}


def main(argv: list[str]) -> int:
    p = parser()
    p.add_argument("--mailbox", default="INBOX")
    return runner.dispatch("imap_jmap", RUNNERS, argv, p)


# --- what IMAP client cases share ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Command:
    unit: Unit
    tag: str
    verb: str  # "FETCH", "UID FETCH", "LOGIN"...
    args: str

    @property
    def tls(self) -> bool:
        return self.unit.tls


def commands(log: WireLog) -> list[Command]:
    """The client's IMAP command lines on one connection (continuation lines of literals are left out)."""
    out: list[Command] = []
    for u in line_units(log):
        m = re.match(r"^([^\s(){%*\"\\+]+) ([A-Za-z]+)(?: (.*))?$", u.line)
        if not m:
            continue
        verb, args = m.group(2).upper(), m.group(3) or ""
        if verb == "UID" and args:
            sub, _, args = args.partition(" ")
            verb = f"UID {sub.upper()}"
        out.append(Command(u, m.group(1), verb, args))
    return out


def all_commands(srv: RefServer, *, tls: bool | None = None) -> list[Command]:
    return [c for log in srv.connections for c in commands(log) if tls is None or c.tls == tls]


def imap_message(n: int = 1, body: bytes = b"", subject: str = "", label: str = "imap") -> bytes:
    """A small CRLF message with a unique subject (``label``: the protocol of the cases using it)."""
    text = body or f"Message number {n} for the {label.upper()} client cases.\r\n".encode()
    subj = subject or f"mailspec {label} client test {n}"
    return (
        f"From: sender@mailspec.test\r\nTo: alice@mailspec.test\r\nSubject: {subj}\r\n"
        f"Message-ID: <{label}-client-{n}@mailspec.test>\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n\r\n"
    ).encode() + text


# Header fields a client may add when it stores a message (trace and local bookkeeping).
_ADDED = re.compile(
    rb"^(?:Return-Path|Received|Delivered-To|X-Original-To|X-getmail-[A-Za-z-]+|Status|X-Status|X-Keywords|X-UID|X-TUID)"
    rb":[^\n]*\n(?:[ \t][^\n]*\n)*",
    re.I | re.M,
)


def _stored_as(got: bytes, want: bytes) -> bool:
    """``got`` is ``want`` with line ends normalised and, at most, header fields a client adds."""
    if got == want:
        return True
    head, sep, body = got.partition(b"\n\n")
    whead, _wsep, wbody = want.partition(b"\n\n")
    if not sep or body != wbody:
        return False
    kept = _ADDED.sub(lambda m: m.group(0) if m.group(0) in whead + b"\n" else b"", head + b"\n")
    return kept == whead + b"\n"


def fetch(client: ClientCase, srv: RefServer, **opts: Any) -> RunResult:
    """Retrieve alice's INBOX: fetch-all when the client has it, else sync, else fetch-one of the first UID."""
    for op in ("imap.fetch-all", "imap.sync"):
        if client.supports(op):
            return client.run(op, srv, **opts)
    if client.supports("imap.fetch-one"):
        box = srv.store.mailbox(USER, "INBOX")
        first = box.messages[0].uid if box is not None and box.messages else 1
        return client.run("imap.fetch-one", srv, msgnum=first, **opts)
    unsupported(f"{client.agent.name} cannot retrieve IMAP mail")


def check_fetched(
    run: RunResult,
    expected: list[bytes],
    *,
    what: str = "the messages",
    maildir: Path | None = None,
    exact: bool = False,
) -> None:
    """Every message in ``expected`` is in the client's Maildir, octet for octet (line ends as the
    client stores them: CRLF or LF; trace fields a client adds in front are allowed). With ``exact``,
    as sent and nothing else: a JMAP client stores the message's blob, its raw octets (RFC 8621 4.1.1)."""
    got = run.produced(maildir)

    def same(p: bytes, want: bytes) -> bool:
        return p == want if exact else _stored_as(lf(p), lf(want))

    missing = [w for w in expected if not any(same(p, w) for p in got)]
    if not missing:
        return
    want = missing[0]
    near = [p for p in got if p[:120] == want[:120] or lf(want)[:60] in lf(p)]
    check(
        False,
        f"{what}: {len(missing)} of {len(expected)} not retrieved " + ("octet for octet" if exact else "intact"),
        expected=f"{len(want)} octets: {want[-200:]!r}",
        observed=(
            f"{len(near[0])} octets: {near[0][-200:]!r}"
            if near
            else f"{len(got)} message(s) retrieved"
            + (f", the first {len(got[0])} octets starting {got[0][:24]!r}" if got else "")
            + f"; {run.summary()}"
        ),
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
