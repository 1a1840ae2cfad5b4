"""RFC 1939 section 7: the optional TOP and UIDL commands."""

import re

from conformance.clients.pop3 import POP3Client, POP3Sessions
from conformance.scenario import case
from conformance.servers import pop3 as srv
from conformance.verdict import check, unsupported
from conformance.wire import pop3 as wire

BODY = b"body line 1\r\nbody line 2\r\n.body line 3\r\nbody line 4\r\n"
UID = re.compile(r"^[\x21-\x7e]{1,70}$")


def _top(client: POP3Client, num: int, n: int) -> wire.Response:
    resp = client.top(num, n)
    if not resp.ok:
        unsupported(f"TOP is not implemented: {resp}")
    return resp


def _uidl(client: POP3Client) -> wire.Response:
    resp = client.uidl()
    if not resp.ok:
        unsupported(f"UIDL is not implemented: {resp}")
    return resp


def _uid_of(pop3: POP3Sessions, client: POP3Client, token: str) -> str:
    num = pop3.find(client, token)
    if num is None:
        unsupported("the delivered test message did not show up")
    resp = client.uidl(num)
    if not resp.ok:
        unsupported(f"UIDL is not implemented: {resp}")
    return resp.text.partition(" ")[2]


@case("pop3.rfc1939.7.top-content", defect=srv.TOP_EXTRA_LINE)
def test_top_two_lines(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1, body=BODY)
    resp = _top(client, num, 2)
    want = b"\r\n\r\nbody line 1\r\nbody line 2\r\n"
    check(
        resp.body.endswith(want),
        "TOP msg 2 did not send the headers, the blank line and exactly 2 body lines",
        expected=repr(want),
        observed=repr(resp.body[-80:]),
    )


@case("pop3.rfc1939.7.top-content", defect=srv.TOP_EXTRA_LINE)
def test_top_zero_lines(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1, body=BODY)
    resp = _top(client, num, 0)
    check(
        resp.body.endswith(b"\r\n\r\n") and b"body line" not in resp.body,
        "TOP msg 0 did not send just the headers and the blank line",
        expected="headers, blank line",
        observed=repr(resp.body[-80:]),
    )


@case("pop3.rfc1939.7.top-whole-message", defect=srv.TOP_BIG_ERR)
def test_top_more_lines_than_body(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1, body=BODY)
    resp = client.top(num, 100)
    retr = client.retr(num)
    if not client.top(num, 0).ok:
        unsupported("TOP is not implemented")
    check(
        resp.ok and resp.body == retr.body,
        "TOP with more lines than the body has did not send the entire message",
        expected=f"{len(retr.body)} octets (the whole message)",
        observed=str(resp),
    )


@case("pop3.rfc1939.3.byte-stuffing", defect=srv.NO_BYTE_STUFF)
def test_top_byte_stuffing(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1, body=BODY)
    resp = _top(client, num, 3)
    want = b"\r\n\r\nbody line 1\r\nbody line 2\r\n.body line 3\r\n"
    check(
        resp.body.endswith(want),
        "a line that begins with '.' was not byte-stuffed in TOP",
        expected=repr(want),
        observed=repr(resp.body[-80:]),
    )


@case("pop3.rfc1939.7.unique-id-listing", defect=srv.UIDL_FORMAT)
def test_uidl_listing_format(pop3: POP3Sessions) -> None:
    pop3.ensure(1)
    client = pop3.login()
    resp = _uidl(client)
    bad = [ln for ln in resp.lines or () if not re.match(rb"^[0-9]+ [\x21-\x7e]+", ln)]
    check(
        not bad,
        "a unique-id listing is not message-number SP unique-id",
        expected="n SP unique-id",
        observed=repr(bad[:3]),
    )


@case("pop3.rfc1939.7.unique-id-listing", defect=srv.UIDL_FORMAT)
def test_uidl_one_listing_format(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1)
    resp = client.uidl(num)
    if not resp.ok:
        unsupported(f"UIDL is not implemented: {resp}")
    check(
        re.match(rf"^{num} [\x21-\x7e]+", resp.text) is not None and resp.sep == " ",
        "UIDL msg did not answer '+OK' SP message-number SP unique-id",
        expected=f"+OK {num} <unique-id>",
        observed=str(resp),
    )


@case("pop3.rfc1939.7.uidl-nothing-follows", defect=srv.UIDL_TRAILING)
def test_uidl_nothing_after_unique_id(pop3: POP3Sessions) -> None:
    pop3.ensure(1)
    client = pop3.login()
    resp = _uidl(client)
    bad = [ln for ln in resp.lines or () if len(ln.split(b" ")) != 2]
    check(
        not bad,
        "something follows the unique-id in a unique-id listing",
        expected="n SP unique-id",
        observed=repr(bad[:3]),
    )


@case("pop3.rfc1939.7.uidl-nothing-follows", defect=srv.UIDL_TRAILING)
def test_uidl_one_nothing_after_unique_id(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1)
    resp = client.uidl(num)
    if not resp.ok:
        unsupported(f"UIDL is not implemented: {resp}")
    check(
        len(resp.text.split(" ")) == 2,
        "something follows the unique-id in the UIDL msg response",
        expected=f"+OK {num} <unique-id>",
        observed=str(resp),
    )


@case("pop3.rfc1939.7.unique-id-chars", defect=srv.UIDL_LONG)
def test_unique_ids_charset_and_length(pop3: POP3Sessions) -> None:
    pop3.ensure(1)
    client = pop3.login()
    resp = _uidl(client)
    uids = [ln.decode("latin-1").partition(" ")[2] for ln in resp.lines or ()]
    bad = [u for u in uids if not UID.match(u)]
    check(
        not bad,
        "a unique-id is not 1 to 70 characters in 0x21-0x7E",
        expected="1-70 of 0x21-0x7E",
        observed=repr(bad[:3]),
    )


@case("pop3.rfc1939.7.unique-id-chars", defect=srv.UIDL_LONG)
def test_unique_id_of_one_message(pop3: POP3Sessions) -> None:
    (token,) = pop3.seed(1)
    client = pop3.login()
    uid = _uid_of(pop3, client, token)
    check(
        UID.match(uid) is not None,
        "the unique-id is not 1 to 70 characters in 0x21-0x7E",
        expected="1-70 of 0x21-0x7E",
        observed=repr(uid),
    )


@case("pop3.rfc1939.7.unique-id-unique", defect=srv.UIDL_DUPLICATE)
def test_unique_ids_differ(pop3: POP3Sessions) -> None:
    tokens = pop3.seed(2)
    client = pop3.login()
    first, second = (_uid_of(pop3, client, t) for t in tokens)
    check(
        first != second,
        "two different messages have the same unique-id",
        expected="distinct unique-ids",
        observed=f"{first!r} and {second!r}",
    )


@case("pop3.rfc1939.7.unique-id-persists", defect=srv.UIDL_PER_SESSION)
def test_unique_id_persists_without_update(pop3: POP3Sessions) -> None:
    (token,) = pop3.seed(1)
    client = pop3.login()
    before = _uid_of(pop3, client, token)
    client.close()  # no QUIT: the session ends without entering UPDATE
    again = pop3.login()
    after = _uid_of(pop3, again, token)
    check(
        before == after,
        "the unique-id changed after a session that ended without QUIT",
        expected=before,
        observed=after,
    )


@case("pop3.rfc1939.7.unique-id-persists", defect=srv.UIDL_PER_SESSION)
def test_unique_id_persists_after_quit(pop3: POP3Sessions) -> None:
    (token,) = pop3.seed(1)
    client = pop3.login()
    before = _uid_of(pop3, client, token)
    client.quit()
    again = pop3.login()
    after = _uid_of(pop3, again, token)
    check(before == after, "the unique-id changed in the next session", expected=before, observed=after)


@case("pop3.rfc1939.7.unique-id-not-reused", defect=srv.UIDL_REUSE)
def test_unique_id_not_reused_after_removal(pop3: POP3Sessions) -> None:
    (token,) = pop3.seed(1)
    client = pop3.login()
    seen = set(client.uid_listing().values())
    num = pop3.find(client, token)
    if num is None or not seen:
        unsupported("UIDL is not implemented or the test message did not show up")
    client.dele(num)
    if not client.quit().ok:
        unsupported("QUIT did not remove the deleted message")
    (fresh,) = pop3.seed(1)
    again = pop3.login()
    uid = _uid_of(pop3, again, fresh)
    check(
        uid not in seen,
        "a new message got a unique-id already used in this maildrop",
        expected="a never-used unique-id",
        observed=repr(uid),
    )
