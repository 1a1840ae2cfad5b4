"""Turn what the user typed as ``--target`` into targets.

``smtp://host:port`` and the other schemes say the protocol. A bare
``host:port`` is identified from its greeting (``220`` SMTP, ``+OK`` POP3,
``* OK`` IMAP, an HTTP status line for JMAP), first in clear text, then
inside TLS. A bare ``host`` has the standard ports probed in parallel and
yields every service that answers.
"""

from __future__ import annotations

import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .target import SCHEMES, Credentials, Target

STANDARD_PORTS = (25, 465, 587, 110, 995, 143, 993, 80, 443)


class TargetError(Exception):
    """The target is malformed or cannot be reached; the message is one line for the user."""


@dataclass(frozen=True)
class Identified:
    protocol: str
    implicit_tls: bool
    banner: str


def _split_hostport(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    if not host:
        raise TargetError(f"no host in target {text!r}")
    if port and not port.isdigit():
        raise TargetError(f"port {port!r} in target {text!r} is not a number")
    p = int(port) if port else None
    if p is not None and not 0 < p < 65536:
        raise TargetError(f"port {p} in target {text!r} is out of range")
    return host, p


def _read_banner(sock: socket.socket, wait: float) -> bytes:
    sock.settimeout(wait)
    data = b""
    deadline = time.monotonic() + wait
    try:
        while b"\n" not in data and time.monotonic() < deadline:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (TimeoutError, OSError):
        pass
    return data


def _classify(data: bytes) -> str | None:
    if data.startswith(b"220"):
        return "smtp"
    if data.startswith(b"+OK"):
        return "pop3"
    if data.startswith((b"* OK", b"* PREAUTH", b"* BYE")):
        return "imap"
    if data.startswith(b"HTTP/"):
        return "jmap"
    return None


def identify(host: str, port: int, timeout: float = 5.0) -> Identified:
    """What speaks on host:port. Raises TargetError if nothing we know does."""
    for use_tls in (False, True):
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as e:
            raise TargetError(f"cannot connect to {host}:{port}: {getattr(e, 'strerror', None) or e}") from None
        try:
            if use_tls:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                try:
                    sock = ctx.wrap_socket(sock, server_hostname=host)
                except (ssl.SSLError, OSError):
                    continue
            data = _read_banner(sock, min(timeout, 3.0))
            if not data:
                # Servers that wait for the client: HTTP.
                try:
                    sock.sendall(
                        f"GET /.well-known/jmap HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
                    )
                except OSError:
                    continue
                data = _read_banner(sock, min(timeout, 3.0))
            proto = _classify(data)
            if proto is not None:
                if proto == "smtp" and port == 587:
                    proto = "submission"
                return Identified(proto, use_tls, data.split(b"\n", 1)[0].decode("utf-8", "replace").strip())
            if data and not use_tls and data[:1] not in (b"\x15", b"\x16"):
                raise TargetError(
                    f"{host}:{port} answered with something that is not SMTP, POP3, IMAP or HTTP: {data[:40]!r}"
                )
        finally:
            sock.close()
    raise TargetError(f"{host}:{port} accepted the connection but sent no greeting we recognise, in clear or in TLS")


def implementation_from_banner(banner: str) -> str:
    lowered = banner.lower()
    for name in (
        "postfix",
        "exim",
        "dovecot",
        "cyrus",
        "sendmail",
        "opensmtpd",
        "courier",
        "haraka",
        "mailspec",
        "aiosmtpd",
        "microsoft",
        "stalwart",
        "maddy",
    ):
        if name in lowered:
            return name
    return ""


def parse_target(
    text: str, *, accounts: tuple[Credentials, ...] = (), probe_timeout: float = 5.0
) -> tuple[list[Target], list[str]]:
    """Targets for one ``--target`` value, and notes for the user about what was found."""
    notes: list[str] = []
    if "://" in text:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise TargetError(f"unknown scheme {scheme!r} in {text!r}; use one of {', '.join(SCHEMES)}")
        protocol, tls, default_port = SCHEMES[scheme]
        if not parts.hostname:
            raise TargetError(f"no host in target {text!r}")
        try:
            port: int = parts.port or default_port
        except ValueError:
            raise TargetError(f"bad port in target {text!r}") from None
        creds = accounts
        if parts.username:
            creds = (Credentials(unquote(parts.username), unquote(parts.password or "")), *accounts)
        try:
            socket.create_connection((parts.hostname, port), timeout=probe_timeout).close()
        except OSError as e:
            raise TargetError(
                f"cannot connect to {parts.hostname}:{port}: {getattr(e, 'strerror', None) or e}"
            ) from None
        extra: dict[str, str] = {}
        if protocol == "jmap" and parts.path not in ("", "/"):
            # A session URL other than /.well-known/jmap (RFC 8620 2): kept whole for the client.
            host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
            query = f"?{parts.query}" if parts.query else ""
            extra["session_url"] = f"{'https' if tls else 'http'}://{host}:{port}{parts.path}{query}"
        return [Target(protocol, parts.hostname, port, tls, accounts=creds, extra=extra)], notes
    host, maybe_port = _split_hostport(text)
    if maybe_port is not None:
        port = maybe_port
        found = identify(host, port, probe_timeout)
        notes.append(
            f"{host}:{port} speaks {found.protocol}{' over TLS' if found.implicit_tls else ''}: {found.banner[:80]}"
        )
        return [
            Target(
                found.protocol,
                host,
                port,
                found.implicit_tls,
                accounts=accounts,
                implementation=implementation_from_banner(found.banner),
            )
        ], notes

    def probe(p: int) -> tuple[int, Identified | None, str]:
        try:
            return p, identify(host, p, probe_timeout), ""
        except TargetError as e:
            return p, None, str(e)

    with ThreadPoolExecutor(max_workers=len(STANDARD_PORTS)) as pool:
        results = list(pool.map(probe, STANDARD_PORTS))
    targets = []
    for p, answer, _err in results:
        if answer is not None:
            notes.append(
                f"{host}:{p} speaks {answer.protocol}{' over TLS' if answer.implicit_tls else ''}: {answer.banner[:80]}"
            )
            targets.append(
                Target(
                    answer.protocol,
                    host,
                    p,
                    answer.implicit_tls,
                    accounts=accounts,
                    implementation=implementation_from_banner(answer.banner),
                )
            )
    if not targets:
        raise TargetError(
            f"nothing answered on {host} at the standard mail ports ({', '.join(map(str, STANDARD_PORTS))})"
        )
    return targets, notes
