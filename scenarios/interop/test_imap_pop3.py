"""IMAP and POP3 on one mailbox: the same message octet for octet and the same size both ways; a
deletion over POP3 (DELE, QUIT) is seen over IMAP, an EXPUNGE over IMAP is seen over POP3, and a
POP3 session that ends without QUIT removes nothing."""

from conformance import corpus
from conformance import interop as io
from conformance.interop import Draft, Interop
from conformance.scenario import case
from conformance.servers import interop as srv
from conformance.servers import pop3 as pop3_srv
from conformance.verdict import check

BODY = "interop.rfc9051.7.5.2.body-is-the-message"
RETR = "interop.rfc1939.5.retr-is-the-message"


@case(RETR, BODY, defect=srv.POP3_DROPS_HEADER, protocols=("imap",))
def test_imap_and_pop3_give_the_same_message(interop: Interop) -> None:
    def run(d: Draft) -> None:
        data = d.message(io.new_token())
        token = io.token_of(data)
        interop.deliver(data, token)
        over_imap = interop.imap_message(token)
        over_pop3 = interop.pop3_message(token)
        check(over_pop3 is not None, "the message is in INBOX over IMAP but not in the maildrop over POP3")
        assert over_imap is not None and over_pop3 is not None
        check(
            over_pop3 == over_imap,
            "POP3 RETR and IMAP FETCH BODY[] give different octets for the same message",
            expected=f"{len(over_imap)} octets as over IMAP",
            observed=io.first_difference(over_imap, over_pop3),
        )

    io.explore(io.multipart_drafts(), run, examples=5)


@case(
    "interop.rfc1939.5.exact-size",
    "interop.rfc9051.2.3.4.size-is-octets",
    defect=srv.POP3_DROPS_HEADER,
    protocols=("imap",),
)
def test_imap_size_is_pop3_size(interop: Interop) -> None:
    tokens = []
    for name in ("multipart-mixed", "long-folded-headers", "plain-7bit"):
        token = io.new_token()
        interop.deliver(io.with_token(corpus.message(name), token), token)
        tokens.append(token)
    sizes: dict[str, str] = {}
    for token in tokens:
        uid = interop.find_uid(token, wait=0)
        assert uid is not None
        sizes[token] = str(interop.fetch(uid, "(RFC822.SIZE)").get("RFC822.SIZE"))
    _, c = interop.pop3_login()
    listing = c.scan_listing()
    for token in tokens:
        num = interop.pop3_number(c, token)
        check(num is not None, "a delivered message is not in the maildrop over POP3", req=RETR)
        assert num is not None
        check(
            str(listing.get(num)) == sizes[token],
            "POP3 LIST and IMAP RFC822.SIZE give different sizes for the same message (both are its octet count)",
            expected=f"RFC822.SIZE {sizes[token]}",
            observed=f"LIST {num}: {listing.get(num)}",
        )
    c.quit()


@case("interop.rfc1939.6.update-removes", defect=srv.EXPUNGE_KEEPS, protocols=("imap",))
def test_pop3_deletion_seen_over_imap(interop: Interop) -> None:
    data = Draft(body=b"delete me over POP3\r\n").message(io.new_token())
    token = io.token_of(data)
    interop.deliver(data, token)
    _, c = interop.pop3_login()
    num = interop.pop3_number(c, token)
    check(num is not None, "the delivered message is not in the maildrop over POP3", req=RETR)
    assert num is not None
    check(c.dele(num).ok, f"DELE {num} was refused")
    check(c.quit().ok, "QUIT after DELE was not answered +OK (the removal failed)")
    fresh = interop.fresh_imap()
    check(
        interop.find_uid(token, fresh, wait=0) is None,
        "a message deleted over POP3 (DELE, QUIT) is still in INBOX over IMAP",
        expected="not found by UID SEARCH HEADER",
        observed="still there",
    )


@case("interop.rfc1939.6.no-quit-no-removal", defect=pop3_srv.DELE_IMMEDIATE, protocols=("imap",))
def test_pop3_session_without_quit_removes_nothing(interop: Interop) -> None:
    data = Draft(body=b"marked over POP3, never removed\r\n").message(io.new_token())
    token = io.token_of(data)
    interop.deliver(data, token)
    _, c = interop.pop3_login()
    num = interop.pop3_number(c, token)
    check(num is not None, "the delivered message is not in the maildrop over POP3", req=RETR)
    assert num is not None
    check(c.dele(num).ok, f"DELE {num} was refused")
    c.close()  # the session ends without QUIT: no UPDATE state
    fresh = interop.fresh_imap()
    # The server notices the closed connection in its own time: poll a little before judging.
    check(
        interop.find_uid(token, fresh, wait=1.0) is not None,
        "a message marked as deleted in a POP3 session that ended without QUIT is gone from INBOX",
        expected="still in INBOX over IMAP",
        observed="removed",
    )


@case("interop.rfc9051.6.4.3.expunge-permanent", defect=srv.EXPUNGE_KEEPS, protocols=("imap",))
def test_imap_expunge_seen_over_pop3(interop: Interop) -> None:
    data = Draft(body=b"expunge me over IMAP\r\n").message(io.new_token())
    token = io.token_of(data)
    uid = interop.deliver(data, token)
    c = interop.imap_session()
    check(c.store(str(uid), "+FLAGS.SILENT", ("\\Deleted",), uid=True).ok, "UID STORE +FLAGS (\\Deleted) failed")
    res = c.command("EXPUNGE")
    check(res.ok, "EXPUNGE failed", observed=str(res))
    _, p = interop.pop3_login()
    num = interop.pop3_number(p, token)
    p.quit()
    check(
        num is None,
        "a message expunged over IMAP is still in the maildrop over POP3",
        expected="not in the maildrop",
        observed=f"message {num}",
    )
