"""Flags and keywords set over IMAP are permanent (RFC 9051 2.3.2): a concurrent session, a later
session and a session after a POP3 one all see them, and their removal."""

from conformance import corpus
from conformance import interop as io
from conformance.clients.imap import IMAPClient
from conformance.interop import Draft, Interop
from conformance.scenario import case
from conformance.servers import interop as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire

SHARED = "interop.rfc9051.2.3.2.permanent-flags-shared"
SYSTEM = ("\\Flagged", "\\Answered", "\\Draft")


def _flags(interop: Interop, client: IMAPClient, uid: int) -> set[str]:
    return corpus.flag_set(interop.fetch(uid, "(FLAGS)", client).get("FLAGS"))


def _message(interop: Interop) -> tuple[str, int]:
    data = Draft(body=b"flags\r\n").message(io.new_token())
    token = io.token_of(data)
    return token, interop.deliver(data, token)


def _store(client: IMAPClient, uid: int, op: str, flags: tuple[str, ...]) -> None:
    res = client.store(str(uid), op, flags, uid=True)
    if not res.ok:
        unsupported(f"UID STORE {op} {' '.join(flags)} was refused: {res}")


def _permanent(client: IMAPClient, wanted: tuple[str, ...]) -> None:
    """UNSUPPORTED when SELECT's PERMANENTFLAGS leaves out one of ``wanted`` (keywords: \\*)."""
    res = client.select("INBOX")
    responses: list[wire.Untagged | wire.Tagged] = [*res.untagged, res.tagged]
    codes = [r.code for r in responses if r.code is not None and r.code.name == "PERMANENTFLAGS"]
    if not codes:
        return  # "If this is missing, the client should assume that all flags can be changed permanently."
    have: set[str] = set()
    for a in codes[-1].args:
        have |= {str(x) for x in a} if isinstance(a, list) else {str(a)}
    for f in wanted:
        if f not in have and not (not f.startswith("\\") and "\\*" in have):
            unsupported(f"{f} is not in PERMANENTFLAGS ({' '.join(sorted(have))})")


@case(SHARED, defect=srv.FLAGS_LOST, protocols=("imap",))
def test_flags_seen_by_a_concurrent_session(interop: Interop) -> None:
    _token, uid = _message(interop)
    a = interop.imap_session()
    _permanent(a, SYSTEM)
    b = interop.fresh_imap()
    _store(a, uid, "+FLAGS.SILENT", SYSTEM)
    b.noop()
    got = _flags(interop, b, uid)
    check(
        set(SYSTEM) <= got,
        "flags set in one session are not seen by a concurrent session",
        expected=" ".join(SYSTEM),
        observed=" ".join(sorted(got)),
    )


@case(SHARED, defect=srv.FLAGS_LOST, protocols=("imap",))
def test_flags_seen_by_a_later_session(interop: Interop) -> None:
    _token, uid = _message(interop)
    a = interop.imap_session()
    _permanent(a, SYSTEM)
    _store(a, uid, "+FLAGS.SILENT", ("\\Flagged", "\\Answered"))
    a.logout()
    got = _flags(interop, interop.fresh_imap(), uid)
    check(
        {"\\Flagged", "\\Answered"} <= got,
        "flags set in a session that logged out are lost",
        expected="\\Answered \\Flagged",
        observed=" ".join(sorted(got)),
    )


@case(SHARED, defect=srv.KEYWORDS_LOST, protocols=("imap",))
def test_keywords_seen_by_a_later_session(interop: Interop) -> None:
    _token, uid = _message(interop)
    a = interop.imap_session()
    keywords = ("$Forwarded", "mailspec-interop")
    _permanent(a, keywords)
    _store(a, uid, "+FLAGS.SILENT", keywords)
    got = _flags(interop, interop.fresh_imap(), uid)
    check(
        set(keywords) <= got,
        "keywords set in one session are not seen by another",
        expected=" ".join(keywords),
        observed=" ".join(sorted(got)),
    )


@case(SHARED, defect=srv.FLAGS_LOST, protocols=("imap",))
def test_flag_removal_seen_by_another_session(interop: Interop) -> None:
    _token, uid = _message(interop)
    a = interop.imap_session()
    _permanent(a, ("\\Flagged",))
    _store(a, uid, "+FLAGS.SILENT", ("\\Flagged",))
    b = interop.fresh_imap()
    if "\\Flagged" not in _flags(interop, b, uid):
        check(False, "a flag set in one session is not seen by another")
    _store(a, uid, "-FLAGS.SILENT", ("\\Flagged",))
    b.noop()
    got = _flags(interop, b, uid)
    check(
        "\\Flagged" not in got,
        "a flag cleared in one session is still set in another",
        expected="no \\Flagged",
        observed=" ".join(sorted(got)),
    )


@case(SHARED, defect=srv.FLAGS_LOST, protocols=("imap",))
def test_flags_kept_across_a_pop3_session(interop: Interop) -> None:
    token, uid = _message(interop)
    a = interop.imap_session()
    _permanent(a, ("\\Flagged", "\\Answered"))
    _store(a, uid, "+FLAGS.SILENT", ("\\Flagged", "\\Answered"))
    a.logout()
    _, p = interop.pop3_login()
    num = interop.pop3_number(p, token)
    if num is not None:
        p.retr(num)
    p.quit()
    got = _flags(interop, interop.fresh_imap(), uid)
    check(
        {"\\Flagged", "\\Answered"} <= got,
        "flags set over IMAP are lost after a POP3 session read the message",
        expected="\\Answered \\Flagged",
        observed=" ".join(sorted(got)),
    )
