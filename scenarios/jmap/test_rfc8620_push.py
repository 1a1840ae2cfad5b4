"""RFC 8620 sections 7.1 and 7.3: the event source (text/event-stream) push channel."""

import json
import time

from conformance.clients.jmap import MAIL, Event, EventStream, JMAPSessions
from conformance.scenario import case
from conformance.servers.jmap import core as srv
from conformance.verdict import check, unsupported

WAIT = 6.0  # seconds to wait for a state event after a change
PING_WAIT = 32.0  # a server may raise a 1 s ping to its minimum, which must be no higher than 30


def _open(
    jmap: JMAPSessions, types: str = "*", closeafter: str = "no", ping: int = 0, seconds: float = WAIT
) -> EventStream:
    """An open event source; UNSUPPORTED when the server offers none (no eventSourceUrl, or 204 as Cyrus)."""
    jmap.session()
    stream = jmap.main.events(types, closeafter, ping, seconds=seconds)
    if stream.response.status_code != 200:
        code = stream.response.status_code
        stream.close()
        unsupported(f"the event source answered {code}: no push offered")
    return stream


def _change(jmap: JMAPSessions) -> None:
    """Something that changes the Mailbox state: a scratch mailbox."""
    jmap.mailboxes(jmap.unique())


def _first(stream: EventStream, name: str) -> Event | None:
    try:
        return next((e for e in stream if e.event == name), None)
    finally:
        stream.close()


@case("jmap.rfc8620.7.3.event-stream", defect=srv.PUSH_WRONG_TYPE)
def test_event_source_type(jmap: JMAPSessions) -> None:
    stream = _open(jmap, seconds=1.0)
    ctype = stream.content_type
    stream.close()
    check(
        ctype == "text/event-stream",
        "the event source is not served as text/event-stream",
        expected="text/event-stream",
        observed=ctype,
    )


@case("jmap.rfc8620.7.3.state-event", defect=srv.PUSH_NO_STATE)
def test_state_event_after_change(jmap: JMAPSessions) -> None:
    acc = jmap.mail_account()
    stream = _open(jmap)
    _change(jmap)
    event = _first(stream, "state")
    check(event is not None, f"no state event within {WAIT} s of a change")
    assert event is not None
    changed = (event.json() or {}).get("changed") or {}
    check(
        "Mailbox" in (changed.get(acc) or {}),
        "the state event does not name the changed type",
        expected=f'changed: {{"{acc}": {{"Mailbox": ...}}}}',
        observed=event.data[:300],
    )


@case("jmap.rfc8620.7.1.state-change-type", defect=srv.PUSH_BAD_TYPE)
def test_state_change_object(jmap: JMAPSessions) -> None:
    jmap.require(MAIL)
    stream = _open(jmap)
    _change(jmap)
    event = _first(stream, "state")
    if event is None:
        unsupported("no state event came to inspect")
    obj = event.json()
    check(
        isinstance(obj, dict) and obj.get("@type") == "StateChange",
        '@type is not "StateChange"',
        expected='"@type": "StateChange"',
        observed=event.data[:300],
    )
    check(isinstance(obj.get("changed"), dict), "the StateChange has no changed object", observed=event.data[:300])


@case("jmap.rfc8620.7.3.closeafter-state", defect=srv.PUSH_NO_CLOSE)
def test_closeafter_state(jmap: JMAPSessions) -> None:
    jmap.require(MAIL)
    stream = _open(jmap, closeafter="state", seconds=WAIT)
    _change(jmap)
    states = 0
    try:
        for e in stream:
            states += e.event == "state"
            if states > 1:
                break
    finally:
        stream.close()
    if not states:
        unsupported("no state event came")
    check(
        stream.ended and states == 1,
        "the response did not end after the state event (closeafter=state)",
        observed=f"{states} state event(s), ended: {stream.ended}",
    )


@case("jmap.rfc8620.7.3.ping", defect=srv.PUSH_NO_PING)
def test_ping_sent(jmap: JMAPSessions) -> None:
    stream = _open(jmap, ping=1, seconds=PING_WAIT)
    started = time.monotonic()
    event = _first(stream, "ping")
    check(
        event is not None,
        f"no ping event within {PING_WAIT:.0f} s with ping=1",
        observed=f"waited {time.monotonic() - started:.1f} s",
    )


@case("jmap.rfc8620.7.3.ping-interval", defect=srv.PUSH_PING_NO_INTERVAL)
def test_ping_interval(jmap: JMAPSessions) -> None:
    event = _first(_open(jmap, ping=1, seconds=PING_WAIT), "ping")
    if event is None:
        unsupported("no ping event came to inspect")
    obj = event.json()
    interval = obj.get("interval") if isinstance(obj, dict) else None
    check(
        isinstance(interval, int) and not isinstance(interval, bool) and 1 <= interval <= 30,
        "the ping data has no interval (UnsignedInt, at most the 30 s minimum)",
        expected='{"interval": 1..30}',
        observed=event.data[:200],
    )


@case("jmap.rfc8620.7.3.types", defect=srv.PUSH_IGNORES_TYPES)
def test_only_listed_types(jmap: JMAPSessions) -> None:
    jmap.require(MAIL)
    # Creating a mailbox changes no Email, nor any type other than Mailbox.
    stream = _open(jmap, types="Email", seconds=3.0)
    _change(jmap)
    pushed: list[str] = []
    try:
        for e in stream:
            if e.event == "state":
                changed = (e.json() or {}).get("changed") or {}
                pushed += [t for acc in changed.values() if isinstance(acc, dict) for t in acc]
    finally:
        stream.close()
    check(
        "Mailbox" not in pushed,
        "a Mailbox change was pushed to a client that asked for Email only",
        observed=json.dumps(pushed),
    )
