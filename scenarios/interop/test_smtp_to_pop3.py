"""A message put in over SMTP (or LMTP) is the message POP3 RETR gives back, octet for octet, apart
from trace fields added on top; LIST gives its exact size, TOP its header; UTF-8 mode (RFC 6856)."""

import pytest

from conformance import corpus
from conformance import interop as io
from conformance.clients.pop3 import POP3Client
from conformance.interop import Draft, Interop
from conformance.scenario import case
from conformance.servers import interop as srv
from conformance.servers import pop3 as pop3_srv
from conformance.verdict import check, unsupported

RETR = "interop.rfc1939.5.retr-is-the-message"
TRACE = "interop.rfc5321.4.4.trace-on-top-only"


@pytest.mark.parametrize("name", corpus.names())
@case(RETR, TRACE, defect=srv.ALTERS_BODY_BYTE, protocols=("imap",))
def test_corpus_message_over_pop3(interop: Interop, name: str) -> None:
    interop.via_pop3(io.with_token(corpus.message(name), io.new_token()))


@case(RETR, TRACE, defect=srv.POP3_DROPS_HEADER, protocols=("imap",))
def test_text_messages_over_pop3(interop: Interop) -> None:
    io.explore(io.plain_drafts(), lambda d: interop.via_pop3(d.message(io.new_token())), examples=5)


@case("interop.rfc5321.4.5.2.dot-transparency", RETR, defect=srv.DOT_LINES, protocols=("imap",))
def test_dot_leading_lines_over_pop3(interop: Interop) -> None:
    io.explore(io.dot_drafts(), lambda d: interop.via_pop3(d.message(io.new_token())), examples=5)


@case("interop.rfc5322.2.2.3.folding", RETR, defect=srv.UNFOLDS, protocols=("imap",))
def test_folded_and_long_lines_over_pop3(interop: Interop) -> None:
    io.explore(io.folded_drafts(), lambda d: interop.via_pop3(d.message(io.new_token())), examples=4)


@case("interop.rfc6152.3.eight-bits-preserved", RETR, defect=srv.HIGH_BIT, protocols=("imap",))
def test_8bit_bodies_over_pop3(interop: Interop) -> None:
    interop.require_in("8BITMIME")
    io.explore(io.eightbit_drafts(), lambda d: interop.via_pop3(d.message(io.new_token())), examples=4)


@case(RETR, TRACE, defect=srv.POP3_DROPS_HEADER, protocols=("imap",))
def test_nested_multipart_over_pop3(interop: Interop) -> None:
    io.explore(io.multipart_drafts(), lambda d: interop.via_pop3(d.message(io.new_token())), examples=5)


@case("interop.rfc5321.4.5.3.1.7.large-content", RETR, defect=srv.TRUNCATES, protocols=("imap",))
def test_large_attachment_over_pop3(interop: Interop) -> None:
    interop.via_pop3(io.large_draft().message(io.new_token()))


def _utf8_ready(interop: Interop) -> None:
    interop.require_in("SMTPUTF8", "8BITMIME")


@case("interop.rfc6856.2.1.utf8-mode-as-is", RETR, defect=srv.HIGH_BIT, protocols=("imap",))
def test_utf8_header_fields_in_utf8_mode(interop: Interop) -> None:
    _utf8_ready(interop)
    _sessions, c = interop.pop3_login(utf8=True)  # UNSUPPORTED before anything is sent without CAPA UTF8
    c.quit()
    io.explore(
        io.utf8_drafts(),
        lambda d: interop.via_pop3(d.message(io.new_token()), req="interop.rfc6856.2.1.utf8-mode-as-is"),
        examples=4,
    )


@case("interop.rfc6856.2.1.surrogate-or-err", defect=pop3_srv.UTF8_AS_IS, protocols=("imap",))
def test_utf8_message_outside_utf8_mode(interop: Interop) -> None:
    _utf8_ready(interop)
    data = Draft(
        fields=("X-Mailspec-Name: J\u00fcrgen <j@mailspec.test>\r\n".encode(),),
        mime=(b"Content-Type: text/plain; charset=utf-8\r\n", b"Content-Transfer-Encoding: 8bit\r\n"),
        body="Gr\u00fc\u00dfe\r\n".encode(),
        subject="caf\u00e9 \u2603".encode(),
    ).message(io.new_token())
    token = io.token_of(data)
    interop.tokens.append(token)
    interop.send(data)
    if interop.find_uid(token) is None:
        # A relay that took SMTPUTF8 bounces the message when the next hop (LMTP) does not (RFC 6531 3.2).
        unsupported("the UTF-8 message accepted over SMTP never reached the mailbox (a later hop lacks SMTPUTF8)")
    _, c = interop.pop3_login()
    num = _number_of(c, token)
    resp = c.retr(num)
    c.quit()
    if not resp.ok:
        return  # "or fail the request with an -ERR response"
    head = io.header_of(resp.body)
    check(
        head.isascii(),
        "a UTF-8 message was sent as is outside UTF-8 mode (neither a surrogate nor -ERR)",
        expected="-ERR, or a surrogate whose header is ASCII",
        observed=repr(next(ln for ln in head.split(b"\r\n") if not ln.isascii())[:120]),
    )


def _number_of(c: POP3Client, token: str) -> int:
    """The message-number of the newest message whose TOP has the token, else the newest one."""
    listing = c.scan_listing()
    if not listing:
        unsupported("the maildrop is empty over POP3 though the message is in INBOX over IMAP")
    for num in sorted(listing, reverse=True):
        top = c.top(num, 0)
        if top.ok and token.encode() in top.body:
            return num
        if not top.ok:
            break
    return max(listing)


@case("interop.rfc1939.5.exact-size", defect=pop3_srv.SIZE_LF, protocols=("imap",))
def test_list_size_is_octets_of_delivered_message(interop: Interop) -> None:
    data = Draft(body=b"one\r\ntwo\r\n.three\r\n\r\n").message(io.new_token())
    token = io.token_of(data)
    interop.deliver(data, token)
    _, c = interop.pop3_login()
    num = interop.pop3_number(c, token)
    check(num is not None, "the delivered message is not in the maildrop over POP3", req=RETR)
    assert num is not None
    size = c.scan_listing().get(num)
    body = c.retr(num).body
    c.quit()
    prefix = io.expect_same(data, body, "over POP3 (RETR)", req=RETR)
    check(
        size == len(prefix) + len(data),
        "the scan listing's size is not the exact octet count of the delivered message",
        expected=str(len(prefix) + len(data)),
        observed=str(size),
    )


@case("interop.rfc1939.7.top-headers", defect=srv.POP3_DROPS_HEADER, protocols=("imap",))
def test_top_header_is_imap_header(interop: Interop) -> None:
    data = Draft(fields=(b"X-Folded: a\r\n\tb\r\n",), body=b"body line\r\n").message(io.new_token())
    token = io.token_of(data)
    uid = interop.deliver(data, token)
    header = corpus.as_bytes(interop.fetch(uid, "(BODY.PEEK[HEADER])").get("BODY[HEADER]")) or b""
    _, c = interop.pop3_login()
    if not c.has("TOP"):
        unsupported("the server does not announce TOP")
    num = interop.pop3_number(c, token)
    check(num is not None, "the delivered message is not in the maildrop over POP3", req=RETR)
    assert num is not None
    top = c.top(num, 0)
    c.quit()
    check(top.ok, f"TOP {num} 0 was refused", observed=str(top))
    check(
        top.body == header,
        "TOP n 0 does not give the header section IMAP gives (BODY[HEADER]) for the same message",
        expected=repr(header[-200:]),
        observed=io.first_difference(header, top.body),
    )
