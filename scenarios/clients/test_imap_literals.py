"""RFC 9051 4.3 and 9 (RFC 3501 4.3): literals are counted in octets, strings come in any form,
FETCH items in any order, and a client waits for "+" before a synchronizing literal."""

import re

from conformance.agents import mailspec_imap as agent
from conformance.agents.harness import ClientCase, RefServer, RunResult
from conformance.agents.imap_jmap import check_fetched, fetch, imap_message
from conformance.scenario import case
from conformance.servers.imap import client_habits as habit
from conformance.verdict import check, unsupported

OCTETS = ("imap.rfc9051.4.3.client-literal-octets", "imap.rfc3501.4.3.client-literal-octets")
STRINGS = ("imap.rfc9051.4.3.client-string-forms", "imap.rfc3501.4.3.client-string-forms")
ORDER = "imap.rfc9051.9.client-fetch-attribute-order"
WAIT = ("imap.rfc9051.4.3.client-wait-continuation", "imap.rfc3501.4.3.client-wait-continuation")

LOOKALIKE = (
    b"This message quotes an IMAP session:\r\n"
    b")\r\n"
    b"* BYE not really\r\n"
    b"A003 OK FETCH completed\r\n"
    b"* 9 FETCH (UID 99 BODY[] {5}\r\n"
    b")\r\n"
)


def _get(
    client: ClientCase, msgs: list[bytes], *habits: object, tls: bool = False, **opts: object
) -> tuple[RefServer, RunResult]:
    srv = client.server("imap", behaviours=habits, tls=tls, messages=msgs)
    return srv, fetch(client, srv, tls="starttls" if tls else "plain", **opts)


def _intact(run: RunResult, msgs: list[bytes]) -> None:
    check(run.ok, "the client failed", expected="exit status 0", observed=run.summary())
    check_fetched(run, msgs if run.operation != "imap.fetch-one" else msgs[:1])


@case(*OCTETS, defect=agent.LITERAL_BY_LINES)
def test_message_text_that_looks_like_responses(client: ClientCase) -> None:
    msgs = [imap_message(1, LOOKALIKE), imap_message(2)]
    _, run = _get(client, msgs)
    _intact(run, msgs)


@case(*OCTETS, defect=agent.LITERAL_BY_LINES)
def test_message_text_that_looks_like_responses_over_tls(client: ClientCase) -> None:
    msgs = [imap_message(1, LOOKALIKE), imap_message(2)]
    _, run = _get(client, msgs, tls=True)
    _intact(run, msgs)


@case(*OCTETS, defect=agent.SHORT_READ)
def test_large_message(client: ClientCase) -> None:
    line = b"0123456789 large message line for the IMAP client cases, literal counted in octets\r\n"
    msgs = [imap_message(1, line * 30000)]  # about 2.5 MB
    _, run = _get(client, msgs)
    _intact(run, msgs)


@case(*OCTETS, defect=agent.SHORT_READ)
def test_literal_in_small_pieces(client: ClientCase) -> None:
    msgs = [imap_message(i, b"a line of text\r\n" * 400) for i in (1, 2)]
    _, run = _get(client, msgs, habit.LITERAL_CHUNKS)
    _intact(run, msgs)


@case(*OCTETS, defect=agent.LITERAL_BY_LINES)
def test_many_messages(client: ClientCase) -> None:
    msgs = [imap_message(i, f"item {i}:\r\n(a list\r\n)\r\nend\r\n".encode()) for i in range(1, 121)]
    _, run = _get(client, msgs)
    _intact(run, msgs)


@case(*OCTETS, defect=agent.DECODES_TEXT)
def test_eight_bit_message_text(client: ClientCase) -> None:
    body = "Grüße aus Köln, ½ € — 日本語のテキスト\r\n".encode()
    msgs = [imap_message(1, body), imap_message(2, b"\xe9t\xe9 (latin-1 octets)\r\n")]
    _, run = _get(client, msgs)
    _intact(run, msgs)


@case(*OCTETS, defect=agent.SHORT_READ)
def test_empty_lines_and_long_lines(client: ClientCase) -> None:
    body = b"\r\n" * 50 + b"x" * 9000 + b"\r\n" + b"\r\n" * 50
    msgs = [imap_message(1, body * 8)]
    _, run = _get(client, msgs, habit.LITERAL_CHUNKS)
    _intact(run, msgs)


@case(ORDER, defect=agent.FIXED_FETCH_ORDER)
def test_uid_after_message_text(client: ClientCase) -> None:
    msgs = [imap_message(i) for i in (1, 2)]
    srv = client.server("imap", behaviours=(habit.FETCH_REORDERED,), tls=False, messages=msgs)
    run = client.run("imap.sync", srv) if client.supports("imap.sync") else fetch(client, srv)
    _intact(run, msgs)


@case(ORDER, defect=agent.FIXED_FETCH_ORDER)
def test_uid_after_message_text_fetch_new(client: ClientCase) -> None:
    msgs = [imap_message(i) for i in (1, 2)]
    srv = client.server("imap", behaviours=(habit.FETCH_REORDERED, habit.UNSOLICITED_FLAGS), tls=False, messages=msgs)
    run = client.run("imap.fetch-new", srv) if client.supports("imap.fetch-new") else fetch(client, srv)
    _intact(run, msgs)


def _folder(client: ClientCase, name: str, *habits: object) -> tuple[RefServer, RunResult, bytes]:
    from urllib.parse import quote

    msg = imap_message(1, subject=f"in {name}")
    srv = client.server("imap", behaviours=habits, tls=False)
    acct = srv.store.account("alice")
    assert acct is not None
    srv.store.create_mailbox("alice", name)
    stored = srv.store.deliver(acct, msg, "sender@mailspec.test", name)
    run = client.run("imap.fetch-folder", srv, mailbox=name, mailbox_url=quote(name), msgnum=stored.uid)
    return srv, run, msg


@case(*STRINGS, defect=agent.QUOTED_NAMES_ONLY)
def test_mailbox_names_as_literals(client: ClientCase) -> None:
    _, run, msg = _folder(client, "Archive", habit.LITERAL_NAMES)
    _intact(run, [msg])


@case(*STRINGS, defect=agent.QUOTED_NAMES_ONLY)
def test_mailbox_names_with_spaces_as_literals(client: ClientCase) -> None:
    _, run, msg = _folder(client, "Old Mail", habit.LITERAL_NAMES)
    _intact(run, [msg])


# --- synchronizing literals from the client -------------------------------------------------

PASSWORD = "pässwörd-Secret-1"  # 8-bit: a quoted string cannot carry it in IMAP4rev1, a literal must


def _early_literals(srv: RefServer) -> list[str]:
    """Synchronizing literals whose octets the client sent before the server's "+"."""
    early = []
    for log in srv.connections:
        events = [e for e in log.events if e.side in ("client", "server")]
        for i, e in enumerate(events):
            if e.side != "client":
                continue
            for m in re.finditer(rb"\{(\d+)\}\r\n", e.data):
                after = m.end() < len(e.data) or (i + 1 < len(events) and events[i + 1].side == "client")
                if after:
                    early.append(e.data[max(0, m.start() - 40) : m.end()].decode("utf-8", "replace"))
    return early


def _wait(client: ClientCase, tls: bool) -> None:
    notes: list[str] = []
    msgs = [imap_message(1)]
    srv = client.server(
        "imap", behaviours=(habit.NO_NONSYNC, habit.SLOW_CONTINUATION), tls=tls, messages=msgs, password=PASSWORD,
        notes=notes,
    )  # fmt: skip
    run = fetch(client, srv, tls="starttls" if tls else "plain")
    early = _early_literals(srv)
    sent = any(re.search(rb"\{\d+\+?\}\r\n", log.client_bytes()) for log in srv.connections)
    if not sent and not run.ok:
        unsupported(f"{client.agent.name} cannot send a password that needs a literal: {run.summary()}")
    check(
        not notes and not early,
        "the client sent a synchronizing literal's octets before the server's continuation request",
        expected="{n} CRLF, then wait for '+ ...', then the octets",
        observed="; ".join([*notes, *early][:3]),
    )
    check(run.ok, "the client could not log in with a password that needs a literal", observed=run.summary())
    _intact(run, msgs)


@case(*WAIT, defect=agent.LITERAL_NO_WAIT)
def test_password_literal_waits_for_continuation(client: ClientCase) -> None:
    _wait(client, tls=False)


@case(*WAIT, defect=agent.LITERAL_NO_WAIT)
def test_password_literal_waits_for_continuation_over_tls(client: ClientCase) -> None:
    _wait(client, tls=True)
