"""RFC 1939 section 5: STAT, LIST, RETR, DELE, NOOP and RSET in the TRANSACTION state."""

import re

from conformance.clients.pop3 import POP3Client, POP3Sessions, stat_counts
from conformance.scenario import case
from conformance.servers import pop3 as srv
from conformance.verdict import check, unsupported

SCAN = re.compile(rb"^([0-9]+) ([0-9]+)(?: .*)?$")
DOTTED = b"Line one.\r\n.a line that starts with the termination octet\r\n..two dots\r\nlast line\r\n"


def _size(client: POP3Client, num: int) -> int:
    resp = client.list(num)
    m = SCAN.match(resp.text.encode()) if resp.ok else None
    if m is None:
        unsupported(f"LIST {num} gave no scan listing: {resp}")
    return int(m.group(2))


@case("pop3.rfc1939.5.drop-listing", defect=srv.STAT_FORMAT)
def test_stat_drop_listing_format(pop3: POP3Sessions) -> None:
    client = pop3.login()
    resp = client.stat()
    check(resp.ok, "STAT in TRANSACTION state was refused", expected="+OK nn mm", observed=str(resp))
    check(
        stat_counts(resp) is not None,
        "the drop listing is not '+OK' SP count SP octets",
        expected="+OK nn mm",
        observed=str(resp),
    )


@case("pop3.rfc1939.5.drop-listing", defect=srv.SIZE_LF)
def test_stat_totals_match_scan_listings(pop3: POP3Sessions) -> None:
    pop3.ensure(1)
    client = pop3.login()
    counts = stat_counts(client.stat())
    if counts is None:
        unsupported("STAT gave no drop listing")
    listed = client.scan_listing()
    check(
        counts == (len(listed), sum(listed.values())),
        "the drop listing does not match the scan listings",
        expected=f"+OK {len(listed)} {sum(listed.values())}",
        observed=f"+OK {counts[0]} {counts[1]}",
    )
    # The octets are the exact size as sent: compare with what RETR sends (messages it serves).
    for num in sorted(listed)[-3:]:
        retr = client.retr(num)
        if retr.ok:
            check(
                listed[num] == len(retr.body),
                "the drop listing's octets are not the exact size of the messages as sent",
                expected=f"message {num}: {len(retr.body)} octets",
                observed=f"listed as {listed[num]}",
            )


@case("pop3.rfc1939.5.stat-excludes-deleted", defect=srv.STAT_COUNTS_DELETED)
def test_stat_excludes_deleted(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1)
    before = stat_counts(client.stat())
    size = _size(client, num)
    if before is None:
        unsupported("STAT gave no drop listing")
    check(client.dele(num).ok, "DELE of an existing message was refused")
    after = stat_counts(client.stat())
    check(
        after == (before[0] - 1, before[1] - size),
        "STAT still counts a message marked as deleted",
        expected=f"+OK {before[0] - 1} {before[1] - size}",
        observed=str(after),
    )


@case("pop3.rfc1939.5.scan-listing", defect=srv.SCAN_FORMAT)
def test_list_scan_listing_format(pop3: POP3Sessions) -> None:
    pop3.ensure(1)
    client = pop3.login()
    resp = client.list()
    check(resp.ok, "LIST was refused", expected="+OK and scan listings", observed=str(resp))
    bad = [ln for ln in resp.lines or () if not SCAN.match(ln)]
    check(not bad, "a scan listing is not message-number SP size", expected="n SP octets", observed=repr(bad[:3]))


@case("pop3.rfc1939.5.scan-listing", defect=srv.SCAN_FORMAT)
def test_list_one_scan_listing_format(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1)
    resp = client.list(num)
    check(
        resp.ok and resp.sep == " " and SCAN.match(resp.text.encode()) is not None,
        "LIST msg did not answer '+OK' SP scan listing",
        expected=f"+OK {num} <octets>",
        observed=str(resp),
    )
    m = SCAN.match(resp.text.encode())
    check(
        m is not None and int(m.group(1)) == num,
        "the scan listing names another message-number",
        expected=str(num),
        observed=str(resp),
    )


@case("pop3.rfc1939.5.scan-listing", defect=srv.SIZE_LF)
def test_list_size_is_exact(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1, body=DOTTED)
    size = _size(client, num)
    retr = client.retr(num)
    check(retr.ok, "RETR of a listed message was refused", observed=str(retr))
    check(
        size == len(retr.body),
        "the size in the scan listing is not the exact size of the message as sent (CRLF line ends, no stuffing)",
        expected=str(len(retr.body)),
        observed=str(size),
    )


@case("pop3.rfc1939.5.list-excludes-deleted", defect=srv.LIST_SHOWS_DELETED)
def test_list_omits_deleted(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1)
    check(client.dele(num).ok, "DELE of an existing message was refused")
    listed = client.scan_listing()
    check(
        num not in listed,
        "LIST still shows a message marked as deleted",
        expected=f"no scan listing for {num}",
        observed=f"{num} {listed.get(num)}",
    )


@case("pop3.rfc1939.5.list-excludes-deleted", defect=srv.LIST_SHOWS_DELETED)
def test_list_empty_after_deleting_all(pop3: POP3Sessions) -> None:
    pop3.ensure(1)
    client = pop3.login()
    for num in client.scan_listing():
        client.dele(num)
    resp = client.list()
    check(
        resp.ok and resp.lines == (),
        "LIST with every message marked as deleted is not '+OK' followed by the termination line alone",
        expected="+OK, then .CRLF",
        observed=f"{resp} {list(resp.lines or ())[:3]}",
    )


@case("pop3.rfc1939.5.list-no-such-message", defect=srv.NO_SUCH_OK)
def test_list_no_such_message(pop3: POP3Sessions) -> None:
    client = pop3.login()
    counts = stat_counts(client.stat())
    beyond = (counts[0] if counts else len(client.scan_listing())) + 1
    resp = client.list(beyond)
    check(
        resp.err,
        "LIST of a message-number beyond the maildrop was not answered with -ERR",
        expected="-ERR",
        observed=str(resp),
    )


@case("pop3.rfc1939.5.retr-no-such-message", defect=srv.NO_SUCH_OK)
def test_retr_no_such_message(pop3: POP3Sessions) -> None:
    client = pop3.login()
    counts = stat_counts(client.stat())
    beyond = (counts[0] if counts else len(client.scan_listing())) + 1
    resp = client.command("RETR", str(beyond))  # one line: a wrong +OK is caught at once
    check(
        resp.err,
        "RETR of a message-number beyond the maildrop was not answered with -ERR",
        expected="-ERR",
        observed=str(resp),
    )


@case("pop3.rfc1939.5.retr-message", defect=srv.RETR_TRUNCATES)
def test_retr_sends_whole_message(pop3: POP3Sessions) -> None:
    body = b"first body line\r\nsecond body line\r\nthe last body line\r\n"
    client, (num,) = pop3.seeded(count=1, body=body)
    resp = client.retr(num)
    check(resp.ok, "RETR of an existing message was refused", observed=str(resp))
    check(
        resp.body.endswith(b"\r\n\r\n" + body),
        "RETR did not send the whole message",
        expected=repr(body),
        observed=repr(resp.body[-120:]),
    )


@case("pop3.rfc1939.3.byte-stuffing", defect=srv.NO_BYTE_STUFF)
def test_retr_byte_stuffing(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1, body=DOTTED)
    resp = client.retr(num)
    check(resp.ok, "RETR of an existing message was refused", observed=str(resp))
    check(
        resp.body.endswith(b"\r\n\r\n" + DOTTED),
        "lines that begin with '.' were not byte-stuffed in RETR",
        expected=repr(DOTTED),
        observed=repr(resp.body[-160:]),
    )


@case("pop3.rfc1939.5.deleted-generates-error", defect=srv.DELE_NOT_MARKED)
def test_retr_deleted_message(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1)
    check(client.dele(num).ok, "DELE of an existing message was refused")
    resp = client.command("RETR", str(num))
    check(
        resp.err, "RETR of a message marked as deleted was not answered with -ERR", expected="-ERR", observed=str(resp)
    )


@case("pop3.rfc1939.5.deleted-generates-error", defect=srv.DELE_NOT_MARKED)
def test_list_deleted_message(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1)
    check(client.dele(num).ok, "DELE of an existing message was refused")
    resp = client.list(num)
    check(
        resp.err, "LIST of a message marked as deleted was not answered with -ERR", expected="-ERR", observed=str(resp)
    )


@case("pop3.rfc1939.5.deleted-generates-error", defect=srv.DELE_NOT_MARKED)
def test_dele_twice(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1)
    check(client.dele(num).ok, "DELE of an existing message was refused")
    resp = client.dele(num)
    check(resp.err, "a second DELE of the same message was not answered with -ERR", expected="-ERR", observed=str(resp))


@case("pop3.rfc1939.5.deleted-generates-error", defect=srv.DELE_NOT_MARKED)
def test_top_deleted_message(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1)
    check(client.dele(num).ok, "DELE of an existing message was refused")
    resp = client.command("TOP", str(num), "0")
    check(
        resp.err, "TOP of a message marked as deleted was not answered with -ERR", expected="-ERR", observed=str(resp)
    )


@case("pop3.rfc1939.5.deleted-generates-error", defect=srv.DELE_NOT_MARKED)
def test_uidl_deleted_message(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1)
    check(client.dele(num).ok, "DELE of an existing message was refused")
    resp = client.uidl(num)
    check(
        resp.err, "UIDL of a message marked as deleted was not answered with -ERR", expected="-ERR", observed=str(resp)
    )


@case("pop3.rfc1939.5.dele-deferred", defect=srv.DELE_IMMEDIATE)
def test_dele_then_rset_keeps_message(pop3: POP3Sessions) -> None:
    (token,) = pop3.seed(1)
    client = pop3.login()
    num = pop3.find(client, token)
    if num is None:
        unsupported("the delivered test message did not show up")
    client.dele(num)
    client.rset()
    client.quit()
    again = pop3.login()
    check(
        pop3.find(again, token) is not None,
        "a message was removed although its deletion was undone with RSET before QUIT",
        expected="message still in the maildrop",
    )


@case("pop3.rfc1939.6.no-quit-no-removal", defect=srv.DELE_IMMEDIATE)
def test_drop_without_quit_keeps_messages(pop3: POP3Sessions) -> None:
    (token,) = pop3.seed(1)
    client = pop3.login()
    num = pop3.find(client, token)
    if num is None:
        unsupported("the delivered test message did not show up")
    check(client.dele(num).ok, "DELE of an existing message was refused")
    client.close()  # no QUIT: the session must not enter UPDATE
    again = pop3.login()
    check(
        pop3.find(again, token) is not None,
        "a message marked as deleted was removed although the session ended without QUIT",
        expected="message still in the maildrop",
    )


@case("pop3.rfc1939.5.noop-positive", defect=srv.NOOP_ERR)
def test_noop_positive(pop3: POP3Sessions) -> None:
    client = pop3.login()
    resp = client.noop()
    check(resp.ok, "NOOP in TRANSACTION state was not answered with +OK", expected="+OK", observed=str(resp))


@case("pop3.rfc1939.5.rset-unmarks", defect=srv.RSET_KEEPS)
def test_rset_unmarks_deleted(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1)
    check(client.dele(num).ok, "DELE of an existing message was refused")
    check(client.rset().ok, "RSET was refused")
    resp = client.retr(num)
    check(resp.ok, "a message marked as deleted is still deleted after RSET", expected="+OK", observed=str(resp))


@case("pop3.rfc1939.5.rset-unmarks", defect=srv.RSET_KEEPS)
def test_rset_restores_drop_listing(pop3: POP3Sessions) -> None:
    client, (num,) = pop3.seeded(count=1)
    before = stat_counts(client.stat())
    client.dele(num)
    client.rset()
    after = stat_counts(client.stat())
    check(
        before == after, "STAT after DELE and RSET differs from STAT before", expected=str(before), observed=str(after)
    )
