"""A message put in over SMTP (or LMTP) is the message IMAP FETCH BODY[] gives back, octet for octet,
apart from trace fields added on top (RFC 5321 4.4): the fixed corpus and generated messages."""

import pytest

from conformance import corpus
from conformance import interop as io
from conformance.interop import Draft, Interop
from conformance.scenario import case
from conformance.servers import interop as srv
from conformance.servers.imap import messages as imap_srv
from conformance.verdict import check

BODY = "interop.rfc9051.7.5.2.body-is-the-message"
TRACE = "interop.rfc5321.4.4.trace-on-top-only"


@pytest.mark.parametrize("name", corpus.names())
@case(BODY, TRACE, defect=srv.ALTERS_BODY_BYTE, protocols=("imap",))
def test_corpus_message_over_imap(interop: Interop, name: str) -> None:
    interop.via_imap(io.with_token(corpus.message(name), io.new_token()))


@case(BODY, TRACE, defect=srv.ALTERS_BODY_BYTE, protocols=("imap",))
def test_text_messages_over_imap(interop: Interop) -> None:
    io.explore(io.plain_drafts(), lambda d: interop.via_imap(d.message(io.new_token())), examples=8)


@case("interop.rfc5321.4.5.2.dot-transparency", BODY, defect=srv.DOT_LINES, protocols=("imap",))
def test_dot_leading_lines_over_imap(interop: Interop) -> None:
    io.explore(io.dot_drafts(), lambda d: interop.via_imap(d.message(io.new_token())), examples=6)


@case("interop.rfc5322.2.2.3.folding", BODY, defect=srv.UNFOLDS, protocols=("imap",))
def test_folded_and_long_lines_over_imap(interop: Interop) -> None:
    io.explore(io.folded_drafts(), lambda d: interop.via_imap(d.message(io.new_token())), examples=6)


@case("interop.rfc6152.3.eight-bits-preserved", BODY, defect=srv.HIGH_BIT, protocols=("imap",))
def test_8bit_bodies_over_imap(interop: Interop) -> None:
    interop.require_in("8BITMIME")
    io.explore(io.eightbit_drafts(), lambda d: interop.via_imap(d.message(io.new_token())), examples=6)


@case("interop.rfc3030.3.binary-preserved", BODY, defect=srv.HIGH_BIT, protocols=("imap",))
def test_binary_bodies_over_imap(interop: Interop) -> None:
    interop.require_in("CHUNKING", "BINARYMIME")
    io.explore(io.binary_drafts(), lambda d: interop.via_imap(d.message(io.new_token()), binary=True), examples=4)


@case(BODY, TRACE, defect=srv.ALTERS_BODY_BYTE, protocols=("imap",))
def test_nested_multipart_over_imap(interop: Interop) -> None:
    io.explore(io.multipart_drafts(), lambda d: interop.via_imap(d.message(io.new_token())), examples=8)


@case(BODY, defect=srv.HIGH_BIT, protocols=("imap",))
def test_utf8_header_fields_over_imap(interop: Interop) -> None:
    interop.require_in("SMTPUTF8", "8BITMIME")
    interop.imap_session(utf8=True)  # UNSUPPORTED before anything is sent when UTF8=ACCEPT is not offered
    io.explore(io.utf8_drafts(), lambda d: interop.via_imap(d.message(io.new_token())), examples=5)


@case("interop.rfc5321.4.5.3.1.7.large-content", BODY, defect=srv.TRUNCATES, protocols=("imap",))
def test_large_attachment_over_imap(interop: Interop) -> None:
    interop.via_imap(io.large_draft().message(io.new_token()))


@case("interop.rfc5321.4.5.2.all-characters-delivered", defect=srv.CONTROL, protocols=("imap",))
def test_control_characters_over_imap(interop: Interop) -> None:
    body = b"tab\there, vertical tab\x0bthere, form feed\x0c, bell\x07, escape\x1b[0m, DEL\x7f, and  spaces  \r\n"
    draft = Draft(body=body + b"\x01\x02\x03\x1f ctrl\r\n")
    interop.via_imap(draft.message(io.new_token()), req="interop.rfc5321.4.5.2.all-characters-delivered")


@case("interop.rfc5321.4.1.1.4.no-extra-crlf", defect=srv.EXTRA_CRLF, protocols=("imap",))
def test_no_empty_line_added_over_imap(interop: Interop) -> None:
    for body in (b"no empty line at the end\r\n", b"", b"two lines\r\nand the last\r\n"):
        data = Draft(body=body).message(io.new_token())
        interop.via_imap(data, req="interop.rfc5321.4.1.1.4.no-extra-crlf")


RECEIVED = (
    b"Received: from relay2.example.org (relay2.example.org [192.0.2.2])\r\n"
    b"\tby relay1.example.org with ESMTP id 4Xy2; Mon, 1 Jan 2024 10:00:02 +0000\r\n"
    b"Received: from client.example.org ([192.0.2.9]) by relay2.example.org\r\n"
    b"  with ESMTPSA id 77ab; Mon, 1 Jan 2024 10:00:01 +0000\r\n"
)


@case("interop.rfc5321.4.4.received-kept", defect=srv.DROPS_RECEIVED, protocols=("imap",))
def test_received_fields_kept_over_imap(interop: Interop) -> None:
    token = io.new_token()
    data = RECEIVED + Draft().message(token)
    interop.via_imap(data, req="interop.rfc5321.4.4.received-kept")


@case(TRACE, defect=srv.REORDERS, protocols=("imap",))
def test_header_order_kept_over_imap(interop: Interop) -> None:
    fields = (b"Zzz-Last: 1\r\n", b"Aaa-First: 2\r\n", b"X-Middle: 3\r\n", b"Comments: 4\r\n", b"Keywords: 5\r\n")
    data = Draft(fields=fields).message(io.new_token())
    interop.via_imap(data, req=TRACE)


@case("interop.rfc9051.2.3.4.size-is-octets", defect=imap_srv.FETCH_SIZE_LF, protocols=("imap",))
def test_size_is_octets_of_delivered_message(interop: Interop) -> None:
    data = Draft(fields=(b"X-Folded: a\r\n b\r\n",), body=b"line one\r\nline two\r\n\r\n").message(io.new_token())
    token = io.token_of(data)
    uid = interop.deliver(data, token)
    got = interop.fetch(uid, "(RFC822.SIZE BODY.PEEK[])")
    body = corpus.as_bytes(got.get("BODY[]")) or b""
    prefix = io.expect_same(data, body, "over IMAP (FETCH BODY[])", req=BODY)
    check(
        got.get("RFC822.SIZE") == str(len(prefix) + len(data)),
        "RFC822.SIZE is not the octet count of the delivered message (with the fields added on top)",
        expected=str(len(prefix) + len(data)),
        observed=repr(got.get("RFC822.SIZE")),
    )
