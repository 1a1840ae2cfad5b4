"""RFC 9051 6.3.12 APPEND (with RFC 4315 APPENDUID), RFC 3501 6.4.1 CHECK, and the internal date."""

import calendar
import re
import time
import uuid

from conformance import corpus
from conformance.clients.imap import IMAPClient, IMAPSessions, Result, code_arg
from conformance.context import make_message
from conformance.scenario import case
from conformance.servers.imap import messages as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire

DATE_TIME = re.compile(
    r"^([ \d]\d)-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$"
)
MONTHS = {
    m: i for i, m in enumerate(("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"))
}


def instant(text: str) -> float | None:
    """An IMAP date-time as a UTC timestamp; None when it does not follow the grammar."""
    m = DATE_TIME.match(text)
    if m is None:
        return None
    day, mon, year, hh, mi, ss, sign, zh, zm = m.groups()
    offset = (int(zh) * 60 + int(zm)) * (-1 if sign == "-" else 1)
    return calendar.timegm((int(year), MONTHS[mon], int(day), int(hh), int(mi), int(ss))) - offset * 60


def internaldate(client: IMAPClient, seq: int) -> str:
    res, items = client.fetch(str(seq), "(INTERNALDATE)")
    value = items.get(seq, {}).get("INTERNALDATE")
    if not res.ok or not isinstance(value, bytes):
        unsupported(f"FETCH INTERNALDATE gave no date: {res}")
    return value.decode("ascii", "replace")


def count(imap: IMAPSessions, client: IMAPClient, mailbox: str) -> int:
    """How many messages SELECT reports for ``mailbox`` (it stays selected)."""
    res = client.select(mailbox)
    exists = [u.number for u in res.named("EXISTS") if u.number is not None]
    if not res.ok or not exists:
        unsupported(f"cannot SELECT {mailbox}: {res}")
    return exists[-1]


@case("imap.rfc9051.6.3.12.append-literal", defect=srv.APPEND_CRLF_TO_LF)
def test_append_stores_each_corpus_message_exactly(imap: IMAPSessions) -> None:
    client = imap.login()
    names = corpus.names()
    imap.scratch(client, [corpus.message(n) for n in names])
    res, items = client.fetch("1:*", "(BODY.PEEK[])")
    check(res.ok, "FETCH BODY.PEEK[] of appended messages failed", observed=str(res))
    for seq, name in enumerate(names, 1):
        got = items.get(seq, {}).get("BODY[]")
        check(
            got == corpus.message(name),
            f"the message stored by APPEND is not the literal sent ({name})",
            expected=f"{len(corpus.message(name))} octets as appended",
            observed=f"{len(got)} octets" if isinstance(got, bytes) else repr(got),
        )


@case("imap.rfc9051.6.3.12.append-literal", defect=srv.APPEND_REPLACES_LAST)
def test_append_adds_at_the_end(imap: IMAPSessions) -> None:
    client = imap.login()
    box = imap.scratch(client, corpus.simple(2))
    before = imap.uids(client)
    data, token = make_message("appended last")
    res = client.append(box, data)
    check(res.ok, "APPEND to an existing mailbox failed", observed=str(res))
    client.noop()
    after = imap.uids(client)
    check(
        len(after) == 3 and after[:2] == before and after[2] > max(before),
        "the appended message is not the last one of the mailbox",
        expected=f"UIDs {before} then a higher one",
        observed=f"UIDs {after}",
    )
    _, items = client.fetch("3", "(BODY.PEEK[HEADER.FIELDS (X-Mailspec-Token)])")
    header = corpus.as_bytes(items.get(3, {}).get("BODY[HEADER.FIELDS (X-MAILSPEC-TOKEN)]"))
    check(
        header is not None and token.encode() in header, "message 3 is not the appended message", observed=repr(header)
    )


@case("imap.rfc9051.6.3.12.append-literal", defect=srv.APPEND_SYNC_LITERAL_NO)
def test_append_synchronizing_literal(imap: IMAPSessions) -> None:
    client = imap.login()
    box = imap.scratch(client, select=False)
    data, _ = make_message("synchronizing literal")
    res = client.command("APPEND", wire.encode_mailbox(box), data, literal_plus=False)
    check(
        bool(res.continuations) and res.ok,
        "APPEND with a synchronizing literal was not answered '+' then OK",
        expected="+ continuation, then OK",
        observed=f"{len(res.continuations)} continuation(s), {res}",
    )


@case("imap.rfc9051.6.3.12.append-8bit", defect=srv.APPEND_STRIPS_8BIT)
def test_append_keeps_8bit_data(imap: IMAPSessions) -> None:
    client = imap.login()
    data = corpus.message("8bit-body")
    imap.scratch(client, [data])
    _, items = client.fetch("1", "(BODY.PEEK[TEXT])")
    got = corpus.as_bytes(items.get(1, {}).get("BODY[TEXT]"))
    _, body = corpus.split(data)
    if got != body:
        # A server that cannot keep 8-bit data may re-encode it reversibly: BINARY undoes that.
        res, bitems = client.fetch("1", "(BINARY.PEEK[1])")
        decoded = corpus.as_bytes(bitems.get(1, {}).get("BINARY[1]"))
        check(
            res.ok and decoded == body,
            "the 8-bit body was neither kept nor reversibly converted",
            expected=repr(body[:60]),
            observed=repr((got or b"")[:60]),
        )


# Binary data: every octet but CR and LF, NUL first; a literal8 is the only way to APPEND it (RFC 3516 4.4).
BINARY_BODY = bytes(c for c in range(256) if c not in (10, 13)) * 2
BINARY_HEADERS = {
    "MIME-Version": "1.0",
    "Content-Type": "application/octet-stream",
    "Content-Transfer-Encoding": "binary",
}


def append_binary(imap: IMAPSessions, client: IMAPClient) -> Result:
    """APPEND of a single-part message with a binary body as a literal8 ``~{n}`` to a new mailbox,
    which is then selected. UNSUPPORTED without BINARY: IMAP4rev2 alone has no literal8 APPEND (9051 App. B)."""
    imap.require(client, "BINARY")
    box = imap.scratch(client, select=False)
    data, _ = make_message("binary append", BINARY_BODY, headers=BINARY_HEADERS)
    res = client.command("APPEND", wire.encode_mailbox(box), data, literal_plus=False, binary=True)
    if res.status == "NO" and res.tagged.code is not None and res.tagged.code.name == "UNKNOWN-CTE":
        unsupported(f"the mailbox does not store binary content (RFC 3516 4.4 allows NO [UNKNOWN-CTE]): {res}")
    if res.ok and not client.select(box).ok:
        unsupported(f"cannot SELECT the mailbox the binary message went to: {res}")
    return res


@case("imap.rfc3516.4.4.append-literal8-lossless", defect=srv.APPEND_LITERAL8_LOSSY)
def test_append_literal8_keeps_binary_data(imap: IMAPSessions) -> None:
    client = imap.login()
    res = append_binary(imap, client)
    check(res.ok, "APPEND of a message as a literal8 failed", expected="OK, or NO [UNKNOWN-CTE]", observed=str(res))
    fres, items = client.fetch("1", "(BINARY.PEEK[1])")
    got = corpus.as_bytes(items.get(1, {}).get("BINARY[1]"))
    check(
        fres.ok and got == BINARY_BODY,
        "BINARY[1] of a message appended as a literal8 is not the binary body appended",
        expected=f"{len(BINARY_BODY)} octets, NUL included",
        observed=str(fres) if got is None else f"{len(got)} octets, {got.count(0)} NUL",
    )


@case(
    "imap.rfc9051.4.3.1.binary-strings-encoded",
    "imap.rfc3501.4.3.1.binary-strings-encoded",
    defect=srv.APPEND_BINARY_RAW,
)
def test_body_of_binary_message_carries_no_nul(imap: IMAPSessions) -> None:
    client = imap.login()
    res = append_binary(imap, client)
    if not res.ok:
        unsupported(f"the literal8 APPEND failed, no binary message to fetch: {res}")
    req = imap.by_revision(
        client, "imap.rfc9051.4.3.1.binary-strings-encoded", "imap.rfc3501.4.3.1.binary-strings-encoded"
    )
    fres, items = client.fetch("1", "(BODY.PEEK[])")
    got = items.get(1, {}).get("BODY[]")
    if not fres.ok or not isinstance(got, bytes):
        unsupported(f"FETCH BODY.PEEK[] of the binary message gave no data: {fres}")
    # Only BINARY[] may answer with a literal8 or NUL octets; BODY[] re-encodes (base64) or replaces them.
    check(
        not isinstance(got, wire.Binary) and b"\x00" not in got,
        "BODY[] of a message with binary content was sent with NUL octets",
        req=req,
        expected="the body in a textual transfer encoding (e.g. base64), no NUL",
        observed=f"{'a literal8, ' if isinstance(got, wire.Binary) else ''}{got.count(0)} NUL in {len(got)} octets",
    )


@case("imap.rfc9051.6.3.12.append-flags", defect=srv.APPEND_DROPS_FLAGS)
def test_append_sets_flags(imap: IMAPSessions) -> None:
    client = imap.login()
    wanted = ("\\Flagged", "\\Draft", "\\Seen")
    imap.scratch(client, [make_message("flags")[0]], flags=wanted)
    _, items = client.fetch("1", "(FLAGS)")
    got = corpus.flag_set(items.get(1, {}).get("FLAGS"))
    check(
        got == set(wanted),
        "the flags given to APPEND are not the message's flags",
        expected=str(wanted),
        observed=str(sorted(got)),
    )


@case("imap.rfc9051.6.3.12.append-flags", defect=srv.APPEND_DEFAULT_SEEN)
def test_append_without_flags_has_none(imap: IMAPSessions) -> None:
    client = imap.selected(1)
    _, items = client.fetch("1", "(FLAGS)")
    got = corpus.flag_set(items.get(1, {}).get("FLAGS"))
    check(
        not got,
        "a message appended without a flag list has flags",
        expected="() (\\Recent aside)",
        observed=str(sorted(got)),
    )


@case("imap.rfc9051.2.3.2.keywords-preserved", defect=srv.APPEND_DROPS_KEYWORDS)
def test_append_keeps_registered_keywords(imap: IMAPSessions) -> None:
    client = imap.login()
    wanted = ("$Forwarded", "$MDNSent")
    imap.scratch(client, [make_message("keywords")[0]], flags=wanted)
    _, items = client.fetch("1", "(FLAGS)")
    got = corpus.flag_set(items.get(1, {}).get("FLAGS"))
    check(
        {f.lower() for f in wanted} <= {f.lower() for f in got},
        "APPEND did not keep the keywords",
        expected=str(wanted),
        observed=str(sorted(got)),
    )


@case("imap.rfc9051.6.3.12.append-date", defect=srv.APPEND_IGNORES_DATE)
def test_append_sets_internal_date(imap: IMAPSessions) -> None:
    client = imap.login()
    box = imap.scratch(client)
    given = "14-Jul-2021 02:44:25 -0700"
    res = client.append(box, make_message("dated")[0], date=given)
    check(res.ok, "APPEND with a date-time was refused", observed=str(res))
    client.noop()
    got = internaldate(client, 1)
    check(
        instant(got) == instant(given),
        "the internal date is not the date-time given to APPEND",
        expected=given,
        observed=got,
    )


@case("imap.rfc9051.9.date-time", defect=srv.APPEND_SPACE_DAY_BAD)
def test_append_accepts_space_padded_day(imap: IMAPSessions) -> None:
    client = imap.login()
    box = imap.scratch(client)
    given = " 4-Jul-2021 09:05:00 +0000"  # date-day-fixed = (SP DIGIT) / 2DIGIT
    res = client.append(box, make_message("space-padded day")[0], date=given)
    check(res.ok, "APPEND refused a date-time with a space-padded day", expected="OK", observed=str(res))
    client.noop()
    got = internaldate(client, 1)
    check(instant(got) == instant(given), "the internal date is not the date-time given", expected=given, observed=got)


@case("imap.rfc9051.6.3.12.append-date", defect=srv.APPEND_EPOCH_DATE)
def test_append_without_date_is_now(imap: IMAPSessions) -> None:
    client = imap.selected(1)
    got = internaldate(client, 1)
    when = instant(got)
    check(
        when is not None and abs(when - time.time()) < 3600,
        "the internal date of a message appended without a date-time is not the current time",
        expected=f"about {time.strftime('%d-%b-%Y %H:%M:%S +0000', time.gmtime())}",
        observed=got,
    )


@case("imap.rfc9051.9.date-time", defect=srv.INTERNALDATE_FORMAT)
def test_internaldate_follows_grammar(imap: IMAPSessions) -> None:
    client = imap.selected(1)
    _res, items = client.fetch("1", "(INTERNALDATE)")
    value = items.get(1, {}).get("INTERNALDATE")
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else repr(value)
    check(
        isinstance(value, bytes) and instant(text) is not None,
        "INTERNALDATE is not a quoted date-time (dd-Mon-yyyy hh:mm:ss +zzzz)",
        expected='"17-Jul-1996 02:44:25 -0700"',
        observed=text,
    )


@case("imap.rfc9051.6.3.12.append-atomic", defect=srv.APPEND_PARTIAL)
def test_failed_append_changes_nothing(imap: IMAPSessions) -> None:
    client = imap.login()
    box = imap.scratch(client, [make_message("one")[0]], select=False)
    # A synchronizing literal: the server may refuse the command before the message is sent.
    bad_date = "31-Foo-2021 25:61:61 +9999"
    res = client.command("APPEND", wire.encode_mailbox(box), bad_date, make_message("bad")[0], literal_plus=False)
    check(not res.ok, "APPEND with an invalid date-time succeeded", expected="BAD or NO", observed=str(res))
    n = count(imap, client, box)
    check(n == 1, "a failed APPEND left a message in the mailbox", expected="1 message", observed=f"{n} messages")


@case("imap.rfc9051.6.3.12.append-no-autocreate", defect=srv.APPEND_AUTOCREATE)
def test_append_to_missing_mailbox_fails(imap: IMAPSessions) -> None:
    client = imap.login()
    name = f"mailspec-missing-{uuid.uuid4().hex[:12]}"
    res = client.append(name, make_message("nowhere")[0])
    listed = client.command("LIST", "", wire.encode_mailbox(name))
    if res.ok or listed.named("LIST"):
        client.delete(name)
    check(
        res.status == "NO",
        "APPEND to a mailbox that does not exist did not fail with NO",
        expected="NO [TRYCREATE]",
        observed=str(res),
    )
    check(
        not listed.named("LIST"),
        "APPEND created the missing mailbox",
        expected="no such mailbox",
        observed=str(listed.named("LIST")),
    )


@case("imap.rfc9051.6.3.12.append-trycreate", defect=srv.APPEND_NO_TRYCREATE)
def test_append_to_missing_mailbox_says_trycreate(imap: IMAPSessions) -> None:
    client = imap.login()
    name = f"mailspec-missing-{uuid.uuid4().hex[:12]}"
    res = client.append(name, make_message("nowhere")[0])
    if res.ok:
        client.delete(name)
    check(
        res.status == "NO" and res.tagged.code is not None and res.tagged.code.name == "TRYCREATE",
        "APPEND to a missing mailbox was not refused with NO [TRYCREATE]",
        expected="NO [TRYCREATE] ...",
        observed=str(res),
    )


@case("imap.rfc9051.6.3.12.append-exists", defect=srv.APPEND_NO_EXISTS)
def test_append_to_selected_mailbox_sends_exists(imap: IMAPSessions) -> None:
    client = imap.login()
    box = imap.scratch(client, corpus.simple(1))
    res = client.append(box, make_message("while selected")[0])
    check(res.ok, "APPEND to the selected mailbox failed", observed=str(res))
    exists = [u.number for u in res.named("EXISTS")]
    check(
        exists and exists[-1] == 2,
        "no untagged EXISTS announced the appended message",
        expected="* 2 EXISTS",
        observed=str(exists),
    )


@case("imap.rfc4315.3.appenduid", defect=srv.APPEND_NO_APPENDUID)
def test_append_returns_appenduid(imap: IMAPSessions) -> None:
    client = imap.login()
    imap.require_uidplus(client)
    box = imap.scratch(client, select=False)
    res = client.append(box, make_message("appenduid")[0])
    check(res.ok, "APPEND failed", observed=str(res))
    check(
        code_arg(res, "APPENDUID") is not None,
        "the tagged OK to APPEND has no APPENDUID",
        expected="OK [APPENDUID v u]",
        observed=str(res),
    )


@case("imap.rfc4315.3.appenduid-values", defect=srv.APPENDUID_WRONG)
def test_appenduid_names_the_message(imap: IMAPSessions) -> None:
    client = imap.login()
    imap.require_uidplus(client)
    box = imap.scratch(client, [make_message("first")[0]], select=False)
    res = client.append(box, make_message("second")[0])
    arg = code_arg(res, "APPENDUID")
    if arg is None:
        unsupported(f"no APPENDUID to check: {res}")
    sel = client.select(box)
    uids = imap.uids(client)
    check(
        arg.split() == [code_arg(sel, "UIDVALIDITY") or "?", str(uids[-1] if uids else "?")],
        "APPENDUID does not give the mailbox's UIDVALIDITY and the new message's UID",
        expected=f"APPENDUID {code_arg(sel, 'UIDVALIDITY')} {uids[-1] if uids else '?'}",
        observed=f"APPENDUID {arg}",
    )


@case("imap.rfc3501.6.4.1.check", defect=srv.CHECK_BAD)
def test_check_in_selected_state(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev1")
    imap.scratch(client, corpus.simple(1))
    res = client.command("CHECK")
    check(res.ok, "CHECK in the selected state was not completed with OK", expected="OK", observed=str(res))
