"""RFC 9051 2.2 and 5.5: completion responses, tags, BAD for unknown commands and syntax errors, pipelining."""

from conformance.clients.imap import IMAPClient, IMAPSessions, Result
from conformance.scenario import case
from conformance.servers.imap import auth as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire


def _send(client: IMAPClient, tag: str, line: str, timeout: float | None = None) -> Result:
    """One command line sent as is, with a tag of our choice; every response up to its completion."""
    client.send(f"{tag} {line}\r\n".encode())
    return client.collect(tag, timeout)


def _tagged(client: IMAPClient) -> wire.Tagged | None:
    """The next tagged response; untagged ones may come first (RFC 9051 7: at any time)."""
    while (r := client.try_read_response(client.timeout)) is not None:
        if isinstance(r, wire.Tagged):
            return r
    return None


def _pipelined(client: IMAPClient, lines: list[str]) -> tuple[list[str], list[wire.Tagged]]:
    """``lines`` sent in one packet: (their tags, the tagged responses in the order they came)."""
    tags = [client.next_tag() for _ in lines]
    client.send("".join(f"{t} {ln}\r\n" for t, ln in zip(tags, lines, strict=True)).encode())
    done: list[wire.Tagged] = []
    while len(done) < len(tags):
        r = client.try_read_response(client.timeout)
        if r is None:
            break
        if isinstance(r, wire.Tagged):
            done.append(r)
    return tags, done


# --- BAD for what the server cannot run ----------------------------------------------------


@case("imap.rfc9051.2.2.2.bad-unknown-command", defect=srv.UNKNOWN_NO)
def test_unknown_command_bad_not_authenticated(imap: IMAPSessions) -> None:
    res = imap.ready().command("XMAILSPEC-UNKNOWN")
    check(res.status == "BAD", "an unrecognized command was not answered with BAD", expected="BAD", observed=str(res))


@case("imap.rfc9051.2.2.2.bad-unknown-command", defect=srv.UNKNOWN_NO)
def test_unknown_command_bad_selected(imap: IMAPSessions) -> None:
    res = imap.selected(1).command("XMAILSPEC-UNKNOWN", wire.Atom("1"))
    check(res.status == "BAD", "an unrecognized command was not answered with BAD", expected="BAD", observed=str(res))


@case("imap.rfc9051.2.2.2.syntax-error-bad", defect=srv.LAX_SYNTAX)
def test_noop_extraneous_argument_bad(imap: IMAPSessions) -> None:
    res = imap.ready().command("NOOP", wire.Atom("extra"))
    check(
        res.status == "BAD",
        "NOOP with an extraneous argument was not rejected with BAD",
        expected="BAD",
        observed=str(res),
    )


@case("imap.rfc9051.2.2.2.syntax-error-bad", defect=srv.LAX_SYNTAX)
def test_capability_extraneous_argument_bad(imap: IMAPSessions) -> None:
    res = imap.login().command("CAPABILITY", wire.Atom("IMAP4rev1"))
    check(
        res.status == "BAD",
        "CAPABILITY with an extraneous argument was not rejected with BAD",
        expected="BAD",
        observed=str(res),
    )


@case("imap.rfc9051.2.2.2.syntax-error-bad", defect=srv.LAX_SYNTAX)
def test_login_missing_argument_bad(imap: IMAPSessions) -> None:
    client = imap.ready()
    imap.secure(client)
    res = client.command("LOGIN", imap.ctx.credentials()[0])
    check(res.status == "BAD", "LOGIN without a password was not rejected with BAD", expected="BAD", observed=str(res))


# --- tags ------------------------------------------------------------------------------------

ODD_TAG = "mAiL.spec-7_x"  # any ASTRING-CHAR but "+": dots, dashes, underscores, mixed case


@case("imap.rfc9051.2.2.2.completion-tag", defect=srv.TAG_UPPER)
def test_tag_echoed_exactly(imap: IMAPSessions) -> None:
    client = imap.ready()
    client.send(f"{ODD_TAG} NOOP\r\n".encode())
    r = _tagged(client)
    check(
        isinstance(r, wire.Tagged) and r.tag == ODD_TAG,
        "the completion of NOOP does not carry the command's tag as sent",
        expected=f"{ODD_TAG} OK ...",
        observed=r.raw[:80].decode("utf-8", "replace") if r else "no response",
    )


@case("imap.rfc9051.2.2.2.completion-tag", defect=srv.TAG_UPPER)
def test_tag_echoed_on_bad(imap: IMAPSessions) -> None:
    client = imap.login()
    client.send(f"{ODD_TAG} XMAILSPEC-UNKNOWN\r\n".encode())
    r = _tagged(client)
    check(
        isinstance(r, wire.Tagged) and r.tag == ODD_TAG,
        "the BAD for an unknown command does not carry the command's tag as sent",
        expected=f"{ODD_TAG} BAD ...",
        observed=r.raw[:80].decode("utf-8", "replace") if r else "no response",
    )


@case("imap.rfc9051.2.2.2.completion-tag", defect=srv.DOUBLE_COMPLETION)
def test_one_completion_per_command(imap: IMAPSessions) -> None:
    client = imap.login()
    res = client.noop()
    extra = client.try_read_response(client.quiet)
    check(
        not isinstance(extra, wire.Tagged),
        "a second tagged response came for a command already completed",
        expected=f"one {res.tagged.tag} completion",
        observed=extra.raw[:80].decode("utf-8", "replace") if extra else "",
    )


@case("imap.rfc9051.2.2.1.tag-reuse", defect=srv.TAG_REUSE_BAD)
def test_tag_reuse_accepted(imap: IMAPSessions) -> None:
    client = imap.login()
    first = _send(client, "reused", "NOOP")
    second = _send(client, "reused", "NOOP")
    check(
        first.ok and second.ok,
        "a command that reuses a tag of an earlier command was not run",
        expected="reused OK, twice",
        observed=f"{first} / {second}",
    )


# --- pipelining (RFC 9051 5.5) -------------------------------------------------------------------


@case("imap.rfc9051.5.5.pipelining-order", defect=srv.PIPELINING_DROPS)
def test_pipelined_commands_completed_in_order(imap: IMAPSessions) -> None:
    client = imap.login()
    lines = ["NOOP", "CAPABILITY", "NOOP"]
    tags, done = _pipelined(client, lines)
    check(
        [(t.tag, t.status) for t in done] == [(t, "OK") for t in tags],
        "commands pipelined in one packet were not all completed with OK, in the order given",
        expected=" ".join(f"{t} OK" for t in tags),
        observed=" | ".join(t.raw.decode("utf-8", "replace").strip() for t in done) or "none",
    )


@case("imap.rfc9051.5.5.pipelining-order", defect=srv.PIPELINING_DROPS)
def test_pipelined_login_then_select(imap: IMAPSessions) -> None:
    client = imap.ready()
    imap.secure(client)
    user, password = imap.ctx.credentials()
    client.transcript.add_secret(password)
    login = wire.encode_command("x", "LOGIN", user, password)[0].decode().split(" ", 1)[1].strip()
    _, done = _pipelined(client, [login, "EXAMINE INBOX"])
    check(bool(done), "a LOGIN pipelined with EXAMINE was never completed", expected="LOGIN OK", observed="nothing")
    if done[0].status != "OK":
        unsupported(f"could not log in: {done[0].raw!r}")
    check(
        len(done) == 2 and done[1].status == "OK",
        "EXAMINE pipelined after LOGIN was not run after the LOGIN completed",
        expected="LOGIN OK, then EXAMINE OK",
        observed=" | ".join(t.raw.decode("utf-8", "replace").strip() for t in done),
    )
