"""RFC 8621 4.4: Email/query filter conditions, sorts and collapseThreads, on Emails imported for the case."""

import time
from typing import Any

from conformance.clients.jmap import JMAPSessions
from conformance.clients.jmap_mail import MailCase, message, token
from conformance.scenario import case
from conformance.servers.jmap import mail as srv
from conformance.verdict import check, unsupported

ATTACHED = (
    b"\r\n--MIX\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
    b"--MIX\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=a.bin\r\n\r\n"
    b"xyz\r\n--MIX--\r\n"
)


def _in(box: str, **cond: Any) -> dict[str, Any]:
    """A condition AND inMailbox: the case's own Emails only."""
    return {"operator": "AND", "conditions": [{"inMailbox": box}, cond]}


def _search(m: MailCase, box: str, want: set[str], **cond: Any) -> list[str]:
    """Full-text queries: servers may index new mail a moment late, so ask again for up to 5 s."""
    ids = m.query(_in(box, **cond))
    deadline = time.monotonic() + 5
    while set(ids) != want and time.monotonic() < deadline:
        time.sleep(0.5)
        ids = m.query(_in(box, **cond))
    return ids


@case("jmap.rfc8621.4.4.1.in-mailbox", defect=srv.IN_MAILBOX_IGNORED)
def test_in_mailbox(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box, other = m.mailbox(), m.mailbox()
    mine = {m.email(box), m.email(box)}
    m.email(other)
    ids = m.query({"inMailbox": box})
    check(
        set(ids) == mine,
        "inMailbox does not give exactly the mailbox's Emails",
        expected=repr(sorted(mine)),
        observed=repr(ids),
    )


@case("jmap.rfc8621.4.4.1.in-mailbox-other-than", defect=srv.OTHER_THAN_AS_NOT_IN)
def test_in_mailbox_other_than(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    a, b = m.mailbox(), m.mailbox()
    m.import_(message(), a)
    both = m.import_(message(), a, b)["id"]
    ids = m.query(_in(a, inMailboxOtherThan=[a]))
    check(
        ids == [both],
        "inMailboxOtherThan does not match an Email that is also in another mailbox",
        expected=repr([both]),
        observed=repr(ids),
    )


@case("jmap.rfc8621.4.4.1.before-after", defect=srv.BEFORE_INCLUSIVE)
def test_before_after(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    e = {y: m.email(box, received_at=f"{y}-06-01T12:00:00Z") for y in (2001, 2002, 2003)}
    before = m.query(_in(box, before="2002-06-01T12:00:00Z"))
    after = m.query(_in(box, after="2002-06-01T12:00:00Z"))
    check(
        set(before) == {e[2001]},
        "before does not match strictly earlier receivedAt",
        expected=e[2001],
        observed=repr(before),
    )
    check(set(after) == {e[2002], e[2003]}, "after does not match the same or later receivedAt", observed=repr(after))


@case("jmap.rfc8621.4.4.1.min-max-size", defect=srv.MAX_SIZE_INCLUSIVE)
def test_min_max_size(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    small, big = m.import_(message(body="x\r\n"), box), m.import_(message(body="y" * 500 + "\r\n"), box)
    at_least = m.query(_in(box, minSize=big["size"]))
    below = m.query(_in(box, maxSize=big["size"]))
    check(at_least == [big["id"]], "minSize does not match sizes equal to or greater than it", observed=repr(at_least))
    check(
        below == [small["id"]],
        "maxSize does not match only sizes less than it",
        expected=small["id"],
        observed=repr(below),
    )


@case("jmap.rfc8621.4.4.1.has-keyword", defect=srv.NOT_KEYWORD_IGNORED)
def test_has_not_keyword(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    flagged, plain = m.email(box, keywords={"$flagged": True}), m.email(box)
    has = m.query(_in(box, hasKeyword="$flagged"))
    has_not = m.query(_in(box, notKeyword="$flagged"))
    check(has == [flagged], "hasKeyword does not match only the flagged Email", observed=repr(has))
    check(
        has_not == [plain],
        "notKeyword does not match only the Email without the keyword",
        expected=plain,
        observed=repr(has_not),
    )


@case("jmap.rfc8621.4.4.1.has-attachment-filter", defect=srv.HAS_ATTACHMENT_FILTER_INVERTED)
def test_has_attachment_filter(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    with_file = m.email(box, message(headers=[("Content-Type", "multipart/mixed; boundary=MIX")], raw_body=ATTACHED))
    m.email(box)
    got = m.get(with_file, ["hasAttachment"]).get("hasAttachment")
    if got is not True:
        unsupported(f"the server does not say hasAttachment true for an attached file ({got!r})")
    ids = m.query(_in(box, hasAttachment=True))
    check(
        ids == [with_file],
        "hasAttachment true does not match the Emails whose hasAttachment is true",
        observed=repr(ids),
    )


@case("jmap.rfc8621.4.4.1.text-headers", defect=srv.TEXT_BODY_ONLY)
def test_text_in_headers(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    word = token()
    in_to = m.email(box, message(headers=[("Cc", f"{word} <cc@example.com>")]))
    in_subject = m.email(box, message(f"about {word}"))
    m.email(box)
    ids = _search(m, box, {in_to, in_subject}, text=word)
    check(
        set(ids) == {in_to, in_subject},
        "text does not find the word in the Cc and Subject header fields",
        observed=repr(ids),
    )


@case("jmap.rfc8621.4.4.1.from-filter", defect=srv.FROM_FILTER_TO)
def test_from_filter(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    word = token()
    sender = m.email(box, message(headers=[("Reply-To", "r@example.com")]).replace(b"Mailspec Sender", word.encode()))
    m.email(box, message().replace(b"To: Alice", f"To: {word}".encode()))
    ids = _search(m, box, {sender}, **{"from": word})
    check(ids == [sender], "from does not look only in the From header field", expected=sender, observed=repr(ids))


@case("jmap.rfc8621.4.4.1.subject-filter", defect=srv.SUBJECT_FILTER_BODY)
def test_subject_filter(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    word = token()
    subj = m.email(box, message(f"hello {word}"))
    m.email(box, message(body=f"body {word}\r\n"))
    ids = _search(m, box, {subj}, subject=word)
    check(ids == [subj], "subject does not look only in the Subject header field", expected=subj, observed=repr(ids))


@case("jmap.rfc8621.4.4.1.header-filter", defect=srv.HEADER_FILTER_NAME_ONLY)
def test_header_filter(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    word = token()
    match = m.email(box, message(headers=[("X-Mailspec-Tag", f"{word}")]))
    other = m.email(box, message(headers=[("X-Mailspec-Tag", "something else")]))
    m.email(box)
    named = m.query(_in(box, header=["X-Mailspec-Tag"]))
    valued = _search(m, box, {match}, header=["X-Mailspec-Tag", word])
    check(
        set(named) == {match, other},
        "header [name] does not match the Emails that have the field",
        observed=repr(named),
    )
    check(valued == [match], "header [name, value] does not match on the value", expected=match, observed=repr(valued))


@case("jmap.rfc8621.4.4.1.case-insensitive", defect=srv.TEXT_CASE_SENSITIVE)
def test_text_case_insensitive(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    word = token()
    eid = m.email(box, message(f"about {word}"))
    ids = _search(m, box, {eid}, subject=word.upper())
    check(ids == [eid], "the subject filter in upper case does not find the lower-case subject", observed=repr(ids))


def _dated(m: MailCase) -> tuple[str, list[str]]:
    box = m.mailbox()
    ids = [
        m.email(box, message(body="x" * n + "\r\n"), received_at=f"2010-0{i + 1}-01T00:00:00Z")
        for i, n in enumerate((300, 10, 150))
    ]
    return box, ids


@case("jmap.rfc8621.4.4.2.sort-received-at", defect=srv.RECEIVED_AT_SORT_REVERSED)
def test_sort_received_at(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box, ids = _dated(m)
    asc = m.query({"inMailbox": box}, [{"property": "receivedAt", "isAscending": True}])
    desc = m.query({"inMailbox": box}, [{"property": "receivedAt", "isAscending": False}])
    check(
        asc == ids and desc == ids[::-1],
        "sorting by receivedAt does not follow the dates",
        expected=repr(ids),
        observed=f"asc {asc}, desc {desc}",
    )


@case("jmap.rfc8621.4.4.2.sort-should", defect=srv.SIZE_SORT_REVERSED)
def test_sort_size(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box, ids = _dated(m)
    got = m.query({"inMailbox": box}, [{"property": "size", "isAscending": True}])
    check(
        got == [ids[1], ids[2], ids[0]],
        "sorting by size does not follow the sizes",
        expected=repr([ids[1], ids[2], ids[0]]),
        observed=repr(got),
    )


@case("jmap.rfc8621.4.4.2.sort-has-keyword", defect=srv.HAS_KEYWORD_SORT_INVERTED)
def test_sort_has_keyword(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box, ids = _dated(m)
    m.set_email(update={ids[1]: {"keywords/$flagged": True}})
    sort = [{"property": "hasKeyword", "keyword": "$flagged", "isAscending": False}, {"property": "receivedAt"}]
    reply = m.call(("Email/query", {"filter": {"inMailbox": box}, "sort": sort}))
    if reply.error_type("c0") == "unsupportedSort":
        unsupported("the server does not sort by hasKeyword (a SHOULD)")
    got = m.must(reply, "c0", "Email/query", "sorting by hasKeyword").get("ids")
    want = [ids[1], ids[0], ids[2]]
    check(
        got == want,
        "sorting by hasKeyword does not put the Email with the keyword first (descending)",
        expected=repr(want),
        observed=repr(got),
    )


@case("jmap.rfc8621.4.4.collapse-threads", defect=srv.COLLAPSE_IGNORED)
def test_collapse_threads(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    subject = f"thread {token()}"
    first = message(subject)
    mid = first.split(b"Message-ID: ")[1].split(b"\r\n")[0].decode()
    a = m.import_(first, box, received_at="2011-01-01T00:00:00Z")
    b = m.import_(
        message(f"Re: {subject}", headers=[("In-Reply-To", mid), ("References", mid)]),
        box,
        received_at="2011-01-02T00:00:00Z",
    )
    c = m.import_(message(), box, received_at="2011-01-03T00:00:00Z")
    if a["threadId"] != b["threadId"]:
        unsupported("the server did not put the reply in the thread of its parent (threading is its choice)")
    ids = m.query({"inMailbox": box}, [{"property": "receivedAt", "isAscending": False}], collapseThreads=True)
    check(
        ids == [c["id"], b["id"]],
        "collapseThreads did not keep only the first Email of each Thread",
        expected=repr([c["id"], b["id"]]),
        observed=repr(ids),
    )
