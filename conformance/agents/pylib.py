"""Python mail libraries as processes: ``python -m conformance.agents.pylib LIB OPERATION [options]``.

Each library is used the way its documentation shows (no workaround for the
cases): smtplib and aiosmtplib send one message; poplib fetches into a
Maildir. Exit status: 0 done, 75 a temporary failure (4yz / -ERR that may pass),
69 a permanent failure, 1 anything else (the error on stderr).
``LIB --version`` prints the library's version. ``callable MODULE:FUNCTION OP``
calls a user's function(operation, values) -> exit status.
"""

from __future__ import annotations

import argparse
import importlib
import ssl
import sys
import time
from pathlib import Path
from typing import Any

from . import runner
from .runner import EX_TEMPFAIL, EX_UNAVAILABLE


def parser() -> argparse.ArgumentParser:
    p = runner.parser("pylib")
    p.add_argument("--from", dest="sender", default="")
    p.add_argument("--to", default="")
    p.add_argument("--message-file", default="")
    p.add_argument("rcpts", nargs="*")
    return p


def tls_context(cafile: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile or None)


def write_maildir(maildir: str, data: bytes) -> None:
    base = Path(maildir)
    name = f"{time.time_ns()}.pylib"
    (base / "tmp" / name).write_bytes(data)
    (base / "tmp" / name).rename(base / "new" / name)


def version(lib: str) -> str:
    if lib in ("smtplib", "poplib", "imaplib"):
        return f"{lib} (Python {sys.version.split()[0]})"
    from importlib.metadata import version as v

    return f"{lib} {v({'imapclient': 'IMAPClient'}.get(lib, lib))}"


# --- smtplib -----------------------------------------------------------------


def smtplib_send(a: argparse.Namespace) -> int:
    import smtplib

    data = Path(a.message_file).read_bytes()
    try:
        with smtplib.SMTP(a.host, a.port, local_hostname="client.mailspec.test", timeout=a.timeout) as s:
            if a.starttls:
                s.starttls(context=tls_context(a.cafile))
            if a.user:
                s.login(a.user, a.password)
            refused = s.sendmail(a.sender, a.rcpts, data)
            if refused:
                print(f"refused: {refused}", file=sys.stderr)
                return EX_UNAVAILABLE
    except smtplib.SMTPResponseException as e:
        print(f"{type(e).__name__}: {e.smtp_code} {e.smtp_error!r}", file=sys.stderr)
        return EX_TEMPFAIL if 400 <= e.smtp_code < 500 else EX_UNAVAILABLE
    except smtplib.SMTPRecipientsRefused as e:
        print(f"recipients refused: {e.recipients}", file=sys.stderr)
        codes = [c for c, _ in e.recipients.values()]
        return EX_TEMPFAIL if all(400 <= c < 500 for c in codes) else EX_UNAVAILABLE
    return 0


# --- aiosmtplib --------------------------------------------------------------


def aiosmtplib_send(a: argparse.Namespace) -> int:
    import asyncio

    import aiosmtplib

    data = Path(a.message_file).read_bytes()
    kw: dict[str, Any] = {
        "hostname": a.host,
        "port": a.port,
        "sender": a.sender,
        "recipients": a.rcpts,
        "timeout": a.timeout,
        "local_hostname": "client.mailspec.test",
        "use_tls": False,
        "start_tls": bool(a.starttls),
    }
    if a.starttls:
        kw["tls_context"] = tls_context(a.cafile)
    if a.user:
        kw.update(username=a.user, password=a.password)
    try:
        asyncio.run(aiosmtplib.send(data, **kw))
    except aiosmtplib.SMTPResponseException as e:
        print(f"{type(e).__name__}: {e.code} {e.message!r}", file=sys.stderr)
        return EX_TEMPFAIL if 400 <= e.code < 500 else EX_UNAVAILABLE
    except aiosmtplib.SMTPRecipientsRefused as e:
        print(f"recipients refused: {e.recipients}", file=sys.stderr)
        return EX_UNAVAILABLE
    return 0


# --- poplib ------------------------------------------------------------------


def poplib_fetch(a: argparse.Namespace) -> int:
    import poplib

    try:
        p = poplib.POP3(a.host, a.port, timeout=a.timeout)
        if a.starttls:
            p.stls(context=tls_context(a.cafile))
        p.user(a.user)
        p.pass_(a.password)
        count, _ = p.stat()
        wanted = [a.msgnum] if a.operation == "fetch-one" else list(range(1, count + 1))
        for n in wanted:
            _, lines, _ = p.retr(n)
            write_maildir(a.maildir, b"".join(line + b"\r\n" for line in lines))
            if a.operation == "delete":
                p.dele(n)
        p.quit()
    except poplib.error_proto as e:
        print(f"error_proto: {e}", file=sys.stderr)
        return EX_UNAVAILABLE
    return 0


def call(a: argparse.Namespace) -> int:
    module, _, func = a.operation.rpartition(":")
    fn = getattr(importlib.import_module(module), func)
    values = {k: v for k, v in vars(a).items() if k not in ("lib", "operation", "extra")}
    values["operation"] = a.extra
    return int(fn(a.extra, values))


RUNNERS = {
    ("smtplib", "send"): smtplib_send,
    ("aiosmtplib", "send"): aiosmtplib_send,
    ("poplib", "fetch-all"): poplib_fetch,
    ("poplib", "fetch-one"): poplib_fetch,
    ("poplib", "delete"): poplib_fetch,
}


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m conformance.agents.pylib LIB (--version | OPERATION [options] [-- RCPT...])")
        return 64
    lib, rest = argv[0], argv[1:]
    if rest[:1] == ["--version"]:
        print(version(lib))
        return 0
    head = 2 if lib == "callable" else 1
    a = parser().parse_args(rest[head:])
    a.lib, a.operation = lib, rest[0] if rest else ""
    a.extra = rest[1] if lib == "callable" and len(rest) > 1 else ""
    if a.lib == "callable":
        return call(a)
    runner = RUNNERS.get((a.lib, a.operation))
    if runner is None:
        print(f"pylib: {a.lib} has no operation {a.operation!r}", file=sys.stderr)
        return 64
    try:
        return runner(a)
    except (OSError, ssl.SSLError, EOFError) as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except Exception as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
