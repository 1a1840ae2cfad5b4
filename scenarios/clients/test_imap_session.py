"""RFC 9051 3.4, 5.5, 2.3.1.1 (RFC 3501 3.4): LOGOUT at the end, no message numbers pipelined behind
commands that may expunge, and UIDs taken together with their UIDVALIDITY."""

import time

from conformance.agents import mailspec_imap as agent
from conformance.agents.harness import ClientCase, RefServer, RunResult
from conformance.agents.imap_jmap import check_fetched, commands, fetch, imap_message
from conformance.scenario import case
from conformance.servers.imap import client_habits as habit
from conformance.verdict import check, unsupported

LOGOUT = ("imap.rfc9051.3.4.client-logout", "imap.rfc3501.3.4.client-logout")
READ_OK = "imap.rfc9051.3.4.client-read-logout-ok"
SEQNUMS = "imap.rfc9051.5.5.client-wait-before-seqnums"
UIDVALIDITY = "imap.rfc9051.2.3.1.1.client-uidvalidity"


def _logged_out(srv: RefServer, run: RunResult) -> None:
    for log in srv.connections:
        verbs = [c.verb for c in commands(log)]
        check(
            bool(verbs) and verbs[-1] == "LOGOUT",
            "the client closed the connection without LOGOUT",
            expected="LOGOUT as the last command",
            observed=" ".join(verbs[-4:]) or run.summary(),
        )


def _session(client: ClientCase, op: str, *habits: object, tls: bool = False) -> tuple[RefServer, RunResult]:
    msgs = [imap_message(i) for i in (1, 2)]
    srv = client.server("imap", behaviours=habits, tls=tls, messages=msgs)
    mode = "starttls" if tls else "plain"
    if op == "fetch":
        return srv, fetch(client, srv, tls=mode)
    if not client.supports(op):
        unsupported(f"{client.agent.name} has no {op} operation")
    return srv, client.run(op, srv, tls=mode, **({"msgnum": 1} if op == "imap.fetch-one" else {}))


@case(*LOGOUT, defect=agent.NO_LOGOUT)
def test_logout_after_fetch(client: ClientCase) -> None:
    _logged_out(*_session(client, "fetch"))


@case(*LOGOUT, defect=agent.NO_LOGOUT)
def test_logout_after_fetch_one(client: ClientCase) -> None:
    _logged_out(*_session(client, "imap.fetch-one"))


@case(*LOGOUT, defect=agent.NO_LOGOUT)
def test_logout_after_delete(client: ClientCase) -> None:
    _logged_out(*_session(client, "imap.delete"))


@case(*LOGOUT, defect=agent.NO_LOGOUT)
def test_logout_over_tls(client: ClientCase) -> None:
    _logged_out(*_session(client, "fetch", tls=True))


def _read_ok(client: ClientCase, op: str) -> None:
    notes: list[str] = []
    msgs = [imap_message(1)]
    srv = client.server("imap", behaviours=(habit.SLOW_LOGOUT,), tls=False, messages=msgs, notes=notes)
    run = fetch(client, srv) if op == "fetch" else client.run(op, srv) if client.supports(op) else unsupported(op)
    deadline = time.monotonic() + 2.0  # the server answers LOGOUT 0.5 s late: wait for its verdict
    while time.monotonic() < deadline and not notes:
        if all(b"LOGOUT completed" in log.server_bytes() for log in srv.connections if b"LOGOUT" in log.client_bytes()):
            break
        time.sleep(0.05)
    check(
        not notes,
        "the client closed the connection before it had read the tagged OK to LOGOUT",
        expected="LOGOUT, then * BYE and the tagged OK, then close",
        observed="; ".join(notes) or run.summary(),
    )


@case(READ_OK, defect=agent.LOGOUT_NO_WAIT)
def test_reads_logout_completion(client: ClientCase) -> None:
    _read_ok(client, "fetch")


@case(READ_OK, defect=agent.LOGOUT_NO_WAIT)
def test_reads_logout_completion_after_delete(client: ClientCase) -> None:
    _read_ok(client, "imap.delete")


# --- RFC 9051 5.5: message numbers only after the completion of commands that may expunge ---------

SAFE = ("FETCH", "STORE", "SEARCH")
WITH_NUMBERS = ("FETCH", "STORE", "SEARCH", "COPY", "MOVE")


def _waited(srv: RefServer, run: RunResult, *, need_ok: bool = True) -> None:
    for log in srv.connections:
        cmds = commands(log)
        for i, c in enumerate(cmds):
            if c.verb not in WITH_NUMBERS:
                continue
            before = [p for p in cmds[:i] if p.verb not in SAFE]
            if not before:
                continue
            last = before[-1]
            check(
                c.unit.writes_before > last.unit.writes_before,
                f"the client sent {c.verb} with message numbers before {last.verb} was completed",
                expected=f"{c.verb} only after the tagged response to {last.verb}",
                observed=f"{last.unit.line!r} then at once {c.unit.line!r}",
            )
    if need_ok:
        check(run.ok, "the client failed", observed=run.summary())


@case(SEQNUMS, defect=agent.PIPELINES_SEQNUMS)
def test_fetch_waits_for_select(client: ClientCase) -> None:
    _waited(*_session(client, "fetch"))


@case(SEQNUMS, defect=agent.PIPELINES_SEQNUMS)
def test_delete_waits_for_select(client: ClientCase) -> None:
    _waited(*_session(client, "imap.delete"))


@case(SEQNUMS, defect=agent.PIPELINES_SEQNUMS)
def test_fetch_waits_for_select_that_expunges(client: ClientCase) -> None:
    # The message with UID 1 is gone by the time a client fetches it: only the ordering is judged.
    srv, run = _session(client, "fetch", habit.EXPUNGE_IN_SELECT)
    _waited(srv, run, need_ok=False)


# --- UIDVALIDITY: a second run after the server renumbered its UIDs -----------------------------


def _resync(client: ClientCase, op: str) -> None:
    if not client.supports(op):
        unsupported(f"{client.agent.name} has no {op} operation (it keeps no state between runs)")
    first = [imap_message(i, subject=f"first run {i}") for i in (1, 2)]
    srv = client.server("imap", behaviours=(habit.NEW_UIDVALIDITY,), tls=False, messages=first)
    run1 = client.run(op, srv)
    check(run1.ok, "the first run failed", observed=run1.summary())
    # The mailbox is rebuilt: the old messages go, two new ones come; at the next SELECT the server
    # gives INBOX a new UIDVALIDITY and numbers its messages from UID 1 again.
    box = srv.store.mailbox("alice", "INBOX")
    acct = srv.store.account("alice")
    assert box is not None and acct is not None
    srv.store.expunge("alice", {m.uid for m in box.messages})
    second = [imap_message(i, subject=f"second run {i}") for i in (3, 4)]
    for m in second:
        srv.store.deliver(acct, m, "sender@mailspec.test")
    run2 = client.run(op, srv, workdir=str(run1.maildir.parent), maildir=str(run1.maildir))
    if not run2.ok:
        # The client saw the new UIDVALIDITY and refused to go on (mbsync: "UIDVALIDITY genuinely
        # changed"): it took no old UID for a new message, which is what the rule asks.
        return
    check_fetched(run2, second, what="the messages under the new UIDVALIDITY", maildir=run1.maildir)


@case(UIDVALIDITY, defect=agent.IGNORES_UIDVALIDITY)
def test_sync_after_uidvalidity_change(client: ClientCase) -> None:
    _resync(client, "imap.sync")


@case(UIDVALIDITY, defect=agent.IGNORES_UIDVALIDITY)
def test_fetch_new_after_uidvalidity_change(client: ClientCase) -> None:
    _resync(client, "imap.fetch-new")
