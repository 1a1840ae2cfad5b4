"""RFC 9051 section 6.4.4 (and RFC 3501 where only IMAP4rev1 has the rule): what each SEARCH key matches.

Every case searches a scratch mailbox of its own whose messages differ in exactly what
the key looks at, and compares the whole answer with the numbers the key must select.
"""

import base64

from conformance.clients.imap import IMAPClient, IMAPSessions, Result
from conformance.context import make_message
from conformance.scenario import case
from conformance.servers.imap import search as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire

KEYWORD = "$MailspecKw"
# One message per system flag, one with a keyword, one with none: message n has FLAGGED_SET[n - 1].
FLAGGED_SET: list[tuple[str, ...]] = [
    ("\\Answered",),
    ("\\Deleted",),
    ("\\Draft",),
    ("\\Flagged",),
    ("\\Seen",),
    (KEYWORD,),
    (),
]

# Three messages that differ in every header and body text the string keys look at.
ADDRESSED = [
    make_message(
        "Quarterly Report zebra",
        b"The body mentions a giraffe.\r\n",
        headers={
            "From": "Alice Example <alice@mailspec.test>",
            "To": "Bob Example <bob@mailspec.test>",
            "Cc": "Carol <carol@mailspec.test>",
            "Bcc": "Dave <dave@mailspec.test>",
            "Date": "Sat, 01 Feb 2020 12:00:00 +0000",
        },
    )[0],
    make_message(
        "Lunch plans",
        b"Nothing special in here.\r\n",
        headers={
            "From": "Erin <erin@mailspec.test>",
            "To": "Frank <frank@mailspec.test>",
            "Cc": "Grace <grace@mailspec.test>",
            "X-Mailspec-Tag": "marker42 rest",
            # 23:30 at UTC-8 is already the next day in UTC: SENTON must use the date as written.
            "Date": "Mon, 15 Mar 2021 23:30:00 -0800",
        },
    )[0],
    make_message(
        "=?UTF-8?B?" + base64.b64encode("Grüße aus Köln".encode()).decode() + "?=",
        base64.encodebytes(b"An okapi lives in this encoded body.\r\n").replace(b"\n", b"\r\n"),
        headers={
            "From": "Heidi <heidi@mailspec.test>",
            "To": "Ivan <ivan@mailspec.test>",
            "MIME-Version": "1.0",
            "Content-Type": "text/plain; charset=us-ascii",
            "Content-Transfer-Encoding": "base64",
            "Date": "Mon, 20 Jun 2022 12:00:00 +0000",
        },
    )[0],
]
# Internal dates of ADDRESSED, at noon so that no time-zone reading moves them to another day.
INTERNAL_DATES = ["01-Feb-2020 12:00:00 +0000", "15-Mar-2021 12:00:00 +0000", "20-Jun-2022 12:00:00 +0000"]


def _mailbox(
    imap: IMAPSessions,
    messages: list[bytes],
    flags: list[tuple[str, ...]] | None = None,
    dates: list[str] | None = None,
    *,
    rev1: bool = False,
) -> IMAPClient:
    """A scratch mailbox holding ``messages`` (with per-message flags and internal dates), selected."""
    client = imap.login(rev="imap4rev1") if rev1 else imap.login()
    name = imap.scratch(client, select=False)
    for i, data in enumerate(messages):
        res = client.append(name, data, flags[i] if flags else None, dates[i] if dates else None)
        if not res.ok:
            unsupported(f"cannot APPEND the case's test message {i + 1}: {res}")
    res = client.select(name)
    if not res.ok:
        unsupported(f"cannot SELECT the case's scratch mailbox: {res}")
    return client


def _flagged(imap: IMAPSessions) -> IMAPClient:
    return _mailbox(imap, [make_message(f"flags {i + 1}")[0] for i in range(len(FLAGGED_SET))], FLAGGED_SET)


def _addressed(imap: IMAPSessions, *, rev1: bool = False) -> IMAPClient:
    return _mailbox(imap, ADDRESSED, dates=INTERNAL_DATES, rev1=rev1)


def _expect(client: IMAPClient, criteria: list[wire.Arg], expected: set[int], what: str) -> Result:
    """SEARCH ``criteria``: it must succeed and find exactly ``expected``."""
    res, found = client.search(*criteria)
    shown = " ".join(str(c) for c in criteria)
    check(res.ok, f"SEARCH {shown} was refused", expected="OK", observed=str(res))
    check(
        set(found) == expected,
        f"SEARCH {shown} did not find exactly {what}",
        expected=" ".join(map(str, sorted(expected))) or "(none)",
        observed=" ".join(map(str, sorted(found))) or "(none)",
    )
    return res


def _with_flag(flag: str, *, present: bool = True) -> set[int]:
    return {i + 1 for i, f in enumerate(FLAGGED_SET) if (flag in f) == present}


# --- flag keys ---------------------------------------------------------------


@case("imap.rfc9051.6.4.4.key-answered", defect=srv.KEY_ANSWERED)
def test_answered(imap: IMAPSessions) -> None:
    _expect(_flagged(imap), [wire.Atom("ANSWERED")], _with_flag("\\Answered"), "the message with \\Answered")


@case("imap.rfc9051.6.4.4.key-deleted", defect=srv.KEY_DELETED)
def test_deleted(imap: IMAPSessions) -> None:
    _expect(_flagged(imap), [wire.Atom("DELETED")], _with_flag("\\Deleted"), "the message with \\Deleted")


@case("imap.rfc9051.6.4.4.key-draft", defect=srv.KEY_DRAFT)
def test_draft(imap: IMAPSessions) -> None:
    _expect(_flagged(imap), [wire.Atom("DRAFT")], _with_flag("\\Draft"), "the message with \\Draft")


@case("imap.rfc9051.6.4.4.key-flagged", defect=srv.KEY_FLAGGED)
def test_flagged(imap: IMAPSessions) -> None:
    _expect(_flagged(imap), [wire.Atom("FLAGGED")], _with_flag("\\Flagged"), "the message with \\Flagged")


@case("imap.rfc9051.6.4.4.key-seen", defect=srv.KEY_SEEN)
def test_seen(imap: IMAPSessions) -> None:
    _expect(_flagged(imap), [wire.Atom("SEEN")], _with_flag("\\Seen"), "the message with \\Seen")


@case("imap.rfc9051.6.4.4.key-keyword", defect=srv.KEY_KEYWORD)
def test_keyword(imap: IMAPSessions) -> None:
    _expect(
        _flagged(imap), [wire.Atom("KEYWORD"), wire.Atom(KEYWORD)], _with_flag(KEYWORD), f"the message with {KEYWORD}"
    )


@case("imap.rfc9051.6.4.4.key-unanswered", defect=srv.KEY_UNANSWERED)
def test_unanswered(imap: IMAPSessions) -> None:
    want = _with_flag("\\Answered", present=False)
    _expect(_flagged(imap), [wire.Atom("UNANSWERED")], want, "the messages without \\Answered")


@case("imap.rfc9051.6.4.4.key-undeleted", defect=srv.KEY_UNDELETED)
def test_undeleted(imap: IMAPSessions) -> None:
    want = _with_flag("\\Deleted", present=False)
    _expect(_flagged(imap), [wire.Atom("UNDELETED")], want, "the messages without \\Deleted")


@case("imap.rfc9051.6.4.4.key-undraft", defect=srv.KEY_UNDRAFT)
def test_undraft(imap: IMAPSessions) -> None:
    _expect(
        _flagged(imap), [wire.Atom("UNDRAFT")], _with_flag("\\Draft", present=False), "the messages without \\Draft"
    )


@case("imap.rfc9051.6.4.4.key-unflagged", defect=srv.KEY_UNFLAGGED)
def test_unflagged(imap: IMAPSessions) -> None:
    want = _with_flag("\\Flagged", present=False)
    _expect(_flagged(imap), [wire.Atom("UNFLAGGED")], want, "the messages without \\Flagged")


@case("imap.rfc9051.6.4.4.key-unseen", defect=srv.KEY_UNSEEN)
def test_unseen(imap: IMAPSessions) -> None:
    _expect(_flagged(imap), [wire.Atom("UNSEEN")], _with_flag("\\Seen", present=False), "the messages without \\Seen")


@case("imap.rfc9051.6.4.4.key-unkeyword", defect=srv.KEY_UNKEYWORD)
def test_unkeyword(imap: IMAPSessions) -> None:
    want = _with_flag(KEYWORD, present=False)
    _expect(_flagged(imap), [wire.Atom("UNKEYWORD"), wire.Atom(KEYWORD)], want, f"the messages without {KEYWORD}")


# --- sets, ALL, logic ----------------------------------------------------------


@case("imap.rfc9051.6.4.4.key-all", defect=srv.KEY_ALL)
def test_all(imap: IMAPSessions) -> None:
    _expect(_flagged(imap), [wire.Atom("ALL")], set(range(1, len(FLAGGED_SET) + 1)), "every message")


@case("imap.rfc9051.6.4.4.key-sequence-set", defect=srv.KEY_SEQUENCE_SET)
def test_sequence_set(imap: IMAPSessions) -> None:
    last = len(FLAGGED_SET)
    _expect(_flagged(imap), [wire.Atom("2,4:5,7:*")], {2, 4, 5, last}, "messages 2, 4, 5 and the last")


@case("imap.rfc9051.6.4.4.key-uid", defect=srv.KEY_UID)
def test_uid_key(imap: IMAPSessions) -> None:
    client = _flagged(imap)
    uids = imap.uids(client)
    if len(uids) < 4:
        unsupported(f"FETCH UID did not give the UIDs of the case's messages: {uids}")
    _expect(client, [wire.Atom("UID"), wire.Atom(f"{uids[1]}:{uids[2]},{uids[3]}")], {2, 3, 4}, "messages 2 to 4")


@case("imap.rfc9051.6.4.4.key-not", defect=srv.KEY_NOT)
def test_not(imap: IMAPSessions) -> None:
    want = _with_flag("\\Flagged", present=False)
    _expect(_flagged(imap), [wire.Atom("NOT"), wire.Atom("FLAGGED")], want, "the messages without \\Flagged")


@case("imap.rfc9051.6.4.4.key-or", defect=srv.KEY_OR)
def test_or(imap: IMAPSessions) -> None:
    want = _with_flag("\\Seen") | _with_flag("\\Draft")
    _expect(
        _flagged(imap), [wire.Atom("OR"), wire.Atom("SEEN"), wire.Atom("DRAFT")], want, "the \\Seen or \\Draft ones"
    )


@case("imap.rfc9051.6.4.4.and-intersection", defect=srv.AND_IS_OR)
def test_juxtaposed_keys_are_anded(imap: IMAPSessions) -> None:
    # 1:5 and UNFLAGGED and UNSEEN: messages 1, 2, 3 (4 is \Flagged, 5 \Seen, 6 and 7 out of the set).
    _expect(
        _flagged(imap),
        [wire.Atom("1:5"), wire.Atom("UNFLAGGED"), wire.Atom("UNSEEN")],
        {1, 2, 3},
        "the messages matching all three keys",
    )


@case("imap.rfc9051.6.4.4.parenthesized-key", defect=srv.PAREN_FIRST_ONLY)
def test_parenthesized_keys(imap: IMAPSessions) -> None:
    # NOT (UNSEEN UNDRAFT) = \Seen or \Draft; a group read as its first key alone would give NOT UNSEEN.
    want = _with_flag("\\Seen") | _with_flag("\\Draft")
    _expect(
        _flagged(imap),
        [wire.Atom("NOT"), [wire.Atom("UNSEEN"), wire.Atom("UNDRAFT")]],
        want,
        "the messages matching NOT of the whole group",
    )


# --- sizes -----------------------------------------------------------------------


def _sized(imap: IMAPSessions) -> tuple[IMAPClient, dict[int, int]]:
    """Three messages of growing size, and RFC822.SIZE by message number."""
    client = _mailbox(imap, [make_message(f"size {i}", b"x" * (200 * i) + b"\r\n")[0] for i in range(1, 4)])
    res, items = client.fetch("1:*", "(RFC822.SIZE)")
    sizes = {n: int(str(v["RFC822.SIZE"])) for n, v in items.items() if "RFC822.SIZE" in v}
    if not res.ok or len(sizes) != 3:
        unsupported(f"FETCH RFC822.SIZE did not give the sizes of the case's messages: {res}")
    return client, sizes


@case("imap.rfc9051.6.4.4.key-larger", defect=srv.KEY_LARGER)
def test_larger(imap: IMAPSessions) -> None:
    client, sizes = _sized(imap)
    # Strictly larger: the middle message's own size does not match.
    _expect(client, [wire.Atom("LARGER"), wire.Atom(str(sizes[2]))], {3}, f"the messages larger than {sizes[2]}")


@case("imap.rfc9051.6.4.4.key-smaller", defect=srv.KEY_SMALLER)
def test_smaller(imap: IMAPSessions) -> None:
    client, sizes = _sized(imap)
    _expect(client, [wire.Atom("SMALLER"), wire.Atom(str(sizes[2]))], {1}, f"the messages smaller than {sizes[2]}")


# --- dates -----------------------------------------------------------------------


@case("imap.rfc9051.6.4.4.key-before", defect=srv.KEY_BEFORE)
def test_before(imap: IMAPSessions) -> None:
    # The internal date of message 2 is 15-Mar-2021 (at noon): BEFORE that day excludes it.
    _expect(_addressed(imap), [wire.Atom("BEFORE"), wire.Atom("15-Mar-2021")], {1}, "the message of an earlier day")


@case("imap.rfc9051.6.4.4.key-on", defect=srv.KEY_ON)
def test_on(imap: IMAPSessions) -> None:
    _expect(_addressed(imap), [wire.Atom("ON"), wire.Atom("15-Mar-2021")], {2}, "the message of that day, any time")


@case("imap.rfc9051.6.4.4.key-since", defect=srv.KEY_SINCE)
def test_since(imap: IMAPSessions) -> None:
    _expect(
        _addressed(imap), [wire.Atom("SINCE"), wire.Atom("15-Mar-2021")], {2, 3}, "the messages of that day or later"
    )


@case("imap.rfc9051.6.4.4.key-sentbefore", defect=srv.KEY_SENTBEFORE)
def test_sentbefore(imap: IMAPSessions) -> None:
    want = "the message whose Date: is an earlier day"
    _expect(_addressed(imap), [wire.Atom("SENTBEFORE"), wire.Atom("15-Mar-2021")], {1}, want)


@case("imap.rfc9051.6.4.4.key-senton", defect=srv.SENT_DATE_UTC)
def test_senton_ignores_timezone(imap: IMAPSessions) -> None:
    # Message 2's Date: is 15 Mar 2021 23:30 -0800 (16 Mar in UTC): the date as written counts.
    want = "the message whose Date: is that day in its own time zone"
    _expect(_addressed(imap), [wire.Atom("SENTON"), wire.Atom("15-Mar-2021")], {2}, want)


@case("imap.rfc9051.6.4.4.key-senton", defect=srv.KEY_SENTON)
def test_senton(imap: IMAPSessions) -> None:
    _expect(_addressed(imap), [wire.Atom("SENTON"), wire.Atom("20-Jun-2022")], {3}, "the message sent on that day")


@case("imap.rfc9051.6.4.4.key-sentsince", defect=srv.KEY_SENTSINCE)
def test_sentsince(imap: IMAPSessions) -> None:
    want = "the messages whose Date: is that day or later"
    _expect(_addressed(imap), [wire.Atom("SENTSINCE"), wire.Atom("15-Mar-2021")], {2, 3}, want)


# --- strings ---------------------------------------------------------------------


@case("imap.rfc9051.6.4.4.key-from", defect=srv.KEY_FROM)
def test_from(imap: IMAPSessions) -> None:
    _expect(_addressed(imap), [wire.Atom("FROM"), "alice@mailspec.test"], {1}, "the message from alice")


@case("imap.rfc9051.6.4.4.key-to", defect=srv.KEY_TO)
def test_to(imap: IMAPSessions) -> None:
    _expect(_addressed(imap), [wire.Atom("TO"), "frank@mailspec.test"], {2}, "the message to frank")


@case("imap.rfc9051.6.4.4.key-cc", defect=srv.KEY_CC)
def test_cc(imap: IMAPSessions) -> None:
    _expect(_addressed(imap), [wire.Atom("CC"), "carol@mailspec.test"], {1}, "the message copied to carol")


@case("imap.rfc9051.6.4.4.key-bcc", defect=srv.KEY_BCC)
def test_bcc(imap: IMAPSessions) -> None:
    _expect(_addressed(imap), [wire.Atom("BCC"), "dave@mailspec.test"], {1}, "the message blind-copied to dave")


@case("imap.rfc9051.6.4.4.key-subject", defect=srv.KEY_SUBJECT)
def test_subject(imap: IMAPSessions) -> None:
    _expect(_addressed(imap), [wire.Atom("SUBJECT"), "Lunch plans"], {2}, "the message with that subject")


@case("imap.rfc9051.6.4.4.key-header", defect=srv.KEY_HEADER)
def test_header(imap: IMAPSessions) -> None:
    criteria: list[wire.Arg] = [wire.Atom("HEADER"), "X-Mailspec-Tag", "marker42"]
    _expect(_addressed(imap), criteria, {2}, "the message whose X-Mailspec-Tag contains marker42")


@case("imap.rfc9051.6.4.4.header-empty-string", defect=srv.HEADER_EMPTY_NONE)
def test_header_empty_string_tests_presence(imap: IMAPSessions) -> None:
    _expect(_addressed(imap), [wire.Atom("HEADER"), "X-Mailspec-Tag", ""], {2}, "the message that has the field")


@case("imap.rfc9051.6.4.4.key-body", defect=srv.BODY_MATCHES_HEADER)
def test_body_skips_header(imap: IMAPSessions) -> None:
    client = _addressed(imap)
    _expect(client, [wire.Atom("BODY"), "giraffe"], {1}, "the message whose body has the word")
    _expect(client, [wire.Atom("BODY"), "zebra"], set(), "no message (the word is only in a Subject: field)")


@case("imap.rfc9051.6.4.4.key-text", defect=srv.KEY_TEXT)
def test_text_searches_header_and_body(imap: IMAPSessions) -> None:
    client = _addressed(imap)
    _expect(client, [wire.Atom("TEXT"), "zebra"], {1}, "the message whose header has the word")
    _expect(client, [wire.Atom("TEXT"), "giraffe"], {1}, "the message whose body has the word")


@case("imap.rfc9051.6.4.4.substring", defect=srv.WHOLE_WORDS)
def test_substring_match(imap: IMAPSessions) -> None:
    _expect(_addressed(imap), [wire.Atom("SUBJECT"), "arterly Rep"], {1}, "the message whose subject contains it")


@case("imap.rfc9051.6.4.4.case-insensitive", defect=srv.CASE_SENSITIVE)
def test_case_insensitive(imap: IMAPSessions) -> None:
    client = _addressed(imap)
    _expect(client, [wire.Atom("SUBJECT"), "qUARTERLY rEPORT"], {1}, "the message whatever the case")
    _expect(client, [wire.Atom("FROM"), "ALICE@MAILSPEC.TEST"], {1}, "the message whatever the case")


@case("imap.rfc3501.6.4.4.case-insensitive", defect=srv.CASE_SENSITIVE)
def test_case_insensitive_rev1(imap: IMAPSessions) -> None:
    client = _addressed(imap, rev1=True)
    _expect(client, [wire.Atom("BODY"), "GIRAFFE"], {1}, "the message whatever the case")


@case("imap.rfc9051.6.4.4.charset-utf8", defect=srv.NO_UTF8)
def test_charset_utf8(imap: IMAPSessions) -> None:
    client = _addressed(imap)
    _expect(client, [wire.Atom("CHARSET"), wire.Atom("UTF-8"), wire.Atom("FROM"), "heidi"], {3}, "the message")


@case("imap.rfc9051.6.4.4.decode-before-compare", defect=srv.NO_DECODE)
def test_encoded_word_decoded(imap: IMAPSessions) -> None:
    # The subject is a base64 encoded-word; searched as UTF-8 text (a literal).
    criteria: list[wire.Arg] = [wire.Atom("CHARSET"), wire.Atom("UTF-8"), wire.Atom("SUBJECT"), "Grüße"]
    _expect(_addressed(imap), criteria, {3}, "the message whose decoded subject contains it")


@case("imap.rfc9051.6.4.4.decode-before-compare", defect=srv.NO_DECODE)
def test_transfer_encoding_decoded(imap: IMAPSessions) -> None:
    _expect(_addressed(imap), [wire.Atom("BODY"), "okapi"], {3}, "the message whose base64 body has the word")


def _unknown_charset(imap: IMAPSessions) -> Result:
    client = _addressed(imap)
    return client.command("SEARCH", wire.Atom("CHARSET"), wire.Atom("X-MAILSPEC-NO-SUCH-CHARSET"), wire.Atom("ALL"))


@case("imap.rfc9051.6.4.4.unknown-charset-no", defect=srv.BADCHARSET_BAD)
def test_unknown_charset_no(imap: IMAPSessions) -> None:
    res = _unknown_charset(imap)
    check(res.status == "NO", "SEARCH with an unknown CHARSET did not end in NO", expected="NO", observed=str(res))


@case("imap.rfc9051.6.4.4.badcharset-code", defect=srv.NO_BADCHARSET_CODE)
def test_unknown_charset_badcharset_code(imap: IMAPSessions) -> None:
    res = _unknown_charset(imap)
    if res.status != "NO":
        unsupported(f"the unknown CHARSET was not refused with NO: {res}")
    code = res.tagged.code.name if res.tagged.code else ""
    check(
        code == "BADCHARSET",
        "the NO has no BADCHARSET response code",
        expected="NO [BADCHARSET ...]",
        observed=str(res),
    )


# --- IMAP4rev1 only: \Recent ------------------------------------------------------


def _recent_box(imap: IMAPSessions) -> IMAPClient:
    """Three messages appended to an unselected scratch mailbox, \\Seen on message 3, then selected."""
    client = imap.login(rev="imap4rev1")
    name = imap.scratch(client, select=False)
    for i in range(3):
        res = client.append(name, make_message(f"recent {i + 1}")[0], ("\\Seen",) if i == 2 else None)
        if not res.ok:
            unsupported(f"cannot APPEND the case's test message: {res}")
    # Another session looks first: messages it was told about are no longer \Recent for the next one.
    other = imap.login(rev="imap4rev1")
    if not other.select(name).ok:
        unsupported("cannot SELECT the case's scratch mailbox")
    other.logout()
    for i in range(2):
        client.append(name, make_message(f"recent {i + 4}")[0], ("\\Seen",) if i == 1 else None)
    if not client.select(name).ok:
        unsupported("cannot SELECT the case's scratch mailbox")
    return client


@case("imap.rfc3501.6.4.4.key-recent", defect=srv.KEY_RECENT)
def test_recent_rev1(imap: IMAPSessions) -> None:
    _expect(_recent_box(imap), [wire.Atom("RECENT")], {4, 5}, "the messages this session is the first to see")


@case("imap.rfc3501.6.4.4.key-new", defect=srv.KEY_NEW)
def test_new_rev1(imap: IMAPSessions) -> None:
    _expect(_recent_box(imap), [wire.Atom("NEW")], {4}, "the recent message without \\Seen")


@case("imap.rfc3501.6.4.4.key-old", defect=srv.KEY_OLD)
def test_old_rev1(imap: IMAPSessions) -> None:
    _expect(_recent_box(imap), [wire.Atom("OLD")], {1, 2, 3}, "the messages another session saw first")
