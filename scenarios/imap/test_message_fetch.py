"""RFC 9051 6.4.5 / 7.5.2 FETCH of message attributes: FLAGS, RFC822.SIZE, ENVELOPE, the macros, UID,
and the IMAP4rev1-only items and flag of RFC 3501 (RFC822, RFC822.HEADER, RFC822.TEXT, \\Recent)."""

from conformance import corpus
from conformance.clients.imap import IMAPClient, IMAPSessions, fetch_items
from conformance.scenario import case
from conformance.servers.imap import messages as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire


def fetch_one(client: IMAPClient, items: str, seq: int = 1) -> dict[str, wire.Value]:
    res, got = client.fetch(str(seq), items)
    if not res.ok or seq not in got:
        check(False, f"FETCH {items} of message {seq} gave no data", observed=str(res))
    return got[seq]


def envelope(imap: IMAPSessions, name: str) -> tuple[object, ...]:
    """The normalized ENVELOPE of corpus message ``name``, in a scratch mailbox of its own."""
    client = imap.login()
    imap.scratch(client, [corpus.message(name)])
    value = fetch_one(client, "(ENVELOPE)").get("ENVELOPE")
    try:
        return corpus.normalize_envelope(value)
    except ValueError as e:
        check(False, f"ENVELOPE does not have the envelope structure: {e}", observed=repr(value)[:300])
        raise


@case("imap.rfc9051.7.5.2.flags", defect=srv.FETCH_FLAGS_MISSING)
def test_fetch_flags_after_store(imap: IMAPSessions) -> None:
    client = imap.selected(1)
    res = client.store("1", "FLAGS.SILENT", ("\\Answered", "\\Flagged"))
    if not res.ok:
        unsupported(f"STORE FLAGS failed: {res}")
    got = corpus.flag_set(fetch_one(client, "(FLAGS)").get("FLAGS"))
    check(
        got == {"\\Answered", "\\Flagged"},
        "FETCH FLAGS does not list the flags set",
        expected="(\\Answered \\Flagged)",
        observed=str(sorted(got)),
    )


@case("imap.rfc9051.2.3.4.rfc822-size", defect=srv.FETCH_SIZE_LF)
def test_rfc822_size_is_exact(imap: IMAPSessions) -> None:
    client = imap.login()
    names = corpus.names()
    imap.scratch(client, [corpus.message(n) for n in names])
    res, items = client.fetch("1:*", "(RFC822.SIZE)")
    check(res.ok, "FETCH RFC822.SIZE failed", observed=str(res))
    for seq, name in enumerate(names, 1):
        size = items.get(seq, {}).get("RFC822.SIZE")
        check(
            size == str(len(corpus.message(name))),
            f"RFC822.SIZE is not the octet count of the message ({name})",
            expected=str(len(corpus.message(name))),
            observed=repr(size),
        )


@case("imap.rfc9051.2.3.4.size-matches-body", defect=srv.FETCH_SIZE_LF)
def test_rfc822_size_matches_body(imap: IMAPSessions) -> None:
    client = imap.login()
    imap.scratch(client, [corpus.message("long-folded-headers")])
    got = fetch_one(client, "(RFC822.SIZE BODY.PEEK[])")
    body = corpus.as_bytes(got.get("BODY[]")) or b""
    check(
        got.get("RFC822.SIZE") == str(len(body)),
        "RFC822.SIZE differs from the size of BODY[]",
        expected=str(len(body)),
        observed=repr(got.get("RFC822.SIZE")),
    )


@case("imap.rfc9051.7.5.2.envelope-order", defect=srv.ENVELOPE_SWAPS_TO_CC)
def test_envelope_of_full_header(imap: IMAPSessions) -> None:
    got = envelope(imap, "multipart-mixed")
    want = corpus.EXPECTED_ENVELOPE["multipart-mixed"]
    check(got == want, "ENVELOPE fields are wrong or out of order", expected=repr(want), observed=repr(got))


@case("imap.rfc9051.7.5.2.envelope-order", defect=srv.ENVELOPE_SWAPS_TO_CC)
def test_envelope_of_simple_header(imap: IMAPSessions) -> None:
    got = envelope(imap, "plain-7bit")
    want = corpus.EXPECTED_ENVELOPE["plain-7bit"]
    check(got == want, "ENVELOPE fields are wrong or out of order", expected=repr(want), observed=repr(got))


@case("imap.rfc9051.7.5.2.envelope-order", defect=srv.ENVELOPE_FOLDED_SUBJECT)
def test_envelope_subject_unfolded(imap: IMAPSessions) -> None:
    got = envelope(imap, "long-folded-headers")
    want = "This subject is deliberately long so that it has to be folded over more than one line, as RFC 5322 section 2.2.3 allows"
    check(
        got[1] == want,
        "the envelope subject is not the Subject field's unfolded value",
        expected=want,
        observed=repr(got[1]),
    )


@case("imap.rfc9051.7.5.2.address-group", defect=srv.ENVELOPE_NO_GROUPS)
def test_envelope_group_syntax(imap: IMAPSessions) -> None:
    got = envelope(imap, "long-folded-headers")
    check(
        got[6] == corpus.GROUP_CC,
        "groups in Cc are not given as group start/end address structures",
        expected=repr(corpus.GROUP_CC),
        observed=repr(got[6]),
    )


@case("imap.rfc9051.7.5.2.envelope-nil-strings", defect=srv.ENVELOPE_EMPTY_FOR_ABSENT)
def test_envelope_absent_strings_are_nil(imap: IMAPSessions) -> None:
    got = envelope(imap, "minimal-headers")
    check(
        got[0] is None and got[8] is None and got[9] is None,
        "absent Date, In-Reply-To or Message-ID is not NIL in the envelope",
        expected="date NIL, in-reply-to NIL, message-id NIL",
        observed=f"date {got[0]!r}, in-reply-to {got[8]!r}, message-id {got[9]!r}",
    )
    # Present but empty: the empty string (the RFC notes some servers say NIL; both are accepted).
    check(got[1] in ("", None), "an empty Subject is neither the empty string nor NIL", observed=repr(got[1]))


@case("imap.rfc9051.7.5.2.envelope-nil-addresses", defect=srv.ENVELOPE_EMPTY_LISTS)
def test_envelope_absent_addresses_are_nil(imap: IMAPSessions) -> None:
    got = envelope(imap, "minimal-headers")
    check(
        got[5] is None and got[6] is None and got[7] is None,
        "absent To, Cc or Bcc is not NIL in the envelope",
        expected="NIL NIL NIL",
        observed=repr(got[5:8]),
    )


@case("imap.rfc9051.7.5.2.envelope-sender-default", defect=srv.ENVELOPE_NO_SENDER_DEFAULT)
def test_envelope_sender_defaults_to_from(imap: IMAPSessions) -> None:
    got = envelope(imap, "minimal-headers")
    check(
        got[3] == got[2] and got[4] == got[2],
        "absent Sender or Reply-To is not set to the from member",
        expected=f"sender = reply-to = {got[2]!r}",
        observed=f"sender {got[3]!r}, reply-to {got[4]!r}",
    )


def _macro(imap: IMAPSessions, macro: str, want: set[str]) -> None:
    client = imap.login()
    imap.scratch(client, [corpus.message("plain-7bit")])
    got = set(fetch_one(client, macro))
    check(
        got == want,
        f"FETCH {macro} did not return exactly the items of the macro",
        expected=str(sorted(want)),
        observed=str(sorted(got)),
    )


@case("imap.rfc9051.6.4.5.macro-all", defect=srv.MACRO_ALL_NO_ENVELOPE)
def test_fetch_all_macro(imap: IMAPSessions) -> None:
    _macro(imap, "ALL", {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"})


@case("imap.rfc9051.6.4.5.macro-fast", defect=srv.MACRO_FAST_EXTRA)
def test_fetch_fast_macro(imap: IMAPSessions) -> None:
    _macro(imap, "FAST", {"FLAGS", "INTERNALDATE", "RFC822.SIZE"})


@case("imap.rfc9051.6.4.5.macro-full", defect=srv.MACRO_FULL_BODYSTRUCTURE)
def test_fetch_full_macro(imap: IMAPSessions) -> None:
    _macro(imap, "FULL", {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"})


@case("imap.rfc3501.6.4.5.rfc822", defect=srv.RFC822_AS_BODY)
def test_fetch_rfc822(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev1")
    data = corpus.message("multipart-mixed")
    imap.scratch(client, [data])
    got = fetch_one(client, "(RFC822)")
    check(
        got.get("RFC822") == data,
        "FETCH RFC822 did not return the whole message as RFC822",
        expected=f"RFC822 {{{len(data)}}}",
        observed=str(sorted(got)),
    )


@case("imap.rfc3501.6.4.5.rfc822-header", defect=srv.RFC822_HEADER_SETS_SEEN)
def test_fetch_rfc822_header(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev1")
    data = corpus.message("multipart-mixed")
    imap.scratch(client, [data])
    got = fetch_one(client, "(RFC822.HEADER)")
    check(
        got.get("RFC822.HEADER") == corpus.split(data)[0],
        "RFC822.HEADER is not the header with its blank line",
        observed=repr(got.get("RFC822.HEADER"))[:200],
    )
    flags = corpus.flag_set(fetch_one(client, "(FLAGS)").get("FLAGS"))
    check(
        "\\Seen" not in flags,
        "RFC822.HEADER set \\Seen (it is the same as BODY.PEEK[HEADER])",
        observed=str(sorted(flags)),
    )


@case("imap.rfc3501.6.4.5.rfc822-text", defect=srv.RFC822_TEXT_WITH_HEADER)
def test_fetch_rfc822_text(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev1")
    data = corpus.message("plain-7bit")
    imap.scratch(client, [data])
    got = fetch_one(client, "(RFC822.TEXT)")
    check(
        got.get("RFC822.TEXT") == corpus.split(data)[1],
        "RFC822.TEXT is not the body of the message",
        expected=repr(corpus.split(data)[1]),
        observed=repr(got.get("RFC822.TEXT")),
    )


def _has_recent(client: IMAPClient) -> bool:
    flags = fetch_one(client, "(FLAGS)").get("FLAGS")
    return isinstance(flags, list) and any(str(f).lower() == "\\recent" for f in flags)


@case("imap.rfc3501.2.3.2.recent-first-session", defect=srv.RECENT_EVERY_SESSION)
def test_recent_only_in_first_session(imap: IMAPSessions) -> None:
    a = imap.login(rev="imap4rev1")
    box = imap.scratch(a, corpus.simple(1), select=False)
    check(a.select(box).ok, "SELECT failed")
    check(
        _has_recent(a),
        "a new message is not \\Recent in the first session to select its mailbox",
        expected="FLAGS (\\Recent)",
    )
    b = imap.login(rev="imap4rev1")
    check(b.select(box).ok, "SELECT in a second session failed")
    check(not _has_recent(b), "a later session also sees \\Recent set", expected="no \\Recent in the second session")


@case("imap.rfc3501.2.3.2.recent-not-storable", defect=srv.RECENT_STORABLE)
def test_recent_cannot_be_stored(imap: IMAPSessions) -> None:
    client = imap.login(rev="imap4rev1")
    box = imap.scratch(client, corpus.simple(1), select=False)
    other = imap.login(rev="imap4rev1")
    other.select(box)  # this session takes \Recent, so the message is not recent for `client`
    client.select(box)
    if _has_recent(client):
        unsupported("the message is \\Recent in both sessions: cannot tell a stored \\Recent apart")
    client.store("1", "+FLAGS", ("\\Recent",))
    check(
        not _has_recent(client),
        "STORE +FLAGS (\\Recent) set \\Recent",
        expected="\\Recent unchanged (or the STORE refused)",
    )


@case("imap.rfc9051.6.4.9.uid-in-fetch", defect=srv.UID_FETCH_NO_UID)
def test_uid_fetch_includes_uid(imap: IMAPSessions) -> None:
    client = imap.selected(2)
    res, items = client.fetch("1:*", "(FLAGS)", uid=True)
    check(res.ok and len(items) == 2, "UID FETCH 1:* did not return both messages", observed=str(res))
    missing = [n for n, v in items.items() if "UID" not in v]
    check(
        not missing,
        "UID FETCH responses without the UID item",
        expected="UID in every FETCH response",
        observed=f"messages {missing}",
    )


@case("imap.rfc9051.6.4.9.uid-in-fetch", defect=srv.UID_STORE_NO_UID)
def test_uid_store_includes_uid(imap: IMAPSessions) -> None:
    client = imap.selected(1)
    uids = imap.uids(client)
    res = client.store(str(uids[0]), "+FLAGS", ("\\Flagged",), uid=True)
    check(res.ok, "UID STORE failed", observed=str(res))
    fetches = res.named("FETCH")
    check(fetches, "UID STORE sent no FETCH response with the new flags", observed=str(res))
    check(
        all("UID" in fetch_items(u) for u in fetches),
        "the FETCH response to UID STORE has no UID item",
        observed=repr([u.raw for u in fetches]),
    )
