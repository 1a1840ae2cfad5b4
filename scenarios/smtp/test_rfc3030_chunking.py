"""RFC 3030: CHUNKING (BDAT of exact sizes, 250 per chunk, 503 for mixing and stray chunks) and BINARYMIME."""

import pytest

from conformance.clients.smtp import ConnectionClosed, SMTPClient, SMTPSessions
from conformance.context import CaseContext, make_message
from conformance.delivery import delivered_contains, fetch, has_probe, start_transaction
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported
from conformance.wire.smtp import Reply, bdat_chunk, bdat_chunks

CHUNK_250 = "smtp.rfc3030.2.chunk-250"
EXACT = "smtp.rfc3030.2.exact-octets"
DISCARD = "smtp.rfc3030.2.discard-failed-chunk"
DIGITS = "smtp.rfc3030.2.chunk-size-digits"


def _chunking(smtp: SMTPSessions) -> SMTPClient:
    client = smtp.ready()
    smtp.require(client, "CHUNKING")
    return client


def _send_chunks(client: SMTPClient, chunks: list[bytes]) -> list[Reply]:
    replies = []
    for c in chunks:
        client.send(c)
        replies.append(client.read_reply())
        if replies[-1].code != 250:
            break
    return replies


# How the message is cut: sizes of the leading chunks (the rest is the LAST chunk).
SPLITS = {
    "single-last": ([], False),
    "two-chunks": ([40], False),
    "crlf-split": ([41], False),  # the chunk ends between CR and LF of a header line
    "many-chunks": ([10, 10, 10], False),
    "zero-last": ([60], True),  # every chunk has data; BDAT 0 LAST ends the message
}


@pytest.mark.parametrize("sizes,empty_last", SPLITS.values(), ids=SPLITS.keys())
@case(CHUNK_250, EXACT, defect=srv.BDAT_OFF_BY_TWO)
def test_chunks_each_250(smtp: SMTPSessions, case_context: CaseContext, sizes: list[int], empty_last: bool) -> None:
    client = _chunking(smtp)
    message, token = make_message("mailspec BDAT", b"Sent in chunks.\r\n")
    if start_transaction(client, case_context).code != 250:
        unsupported("MAIL refused")
    chunks = bdat_chunks(message, sizes, empty_last=empty_last)
    replies = _send_chunks(client, chunks)
    check(
        len(replies) == len(chunks) and all(r.code == 250 for r in replies),
        "a BDAT chunk of the exact announced size was not answered 250",
        expected=f"{len(chunks)} x 250",
        observed=" | ".join(map(str, replies)),
    )
    after = client.noop()
    check(after.code == 250, "the session lost sync after the BDAT chunks", req=EXACT, observed=str(after))
    if has_probe(case_context):
        got = fetch(case_context, token)
        check(
            got is not None and delivered_contains(got, message),
            "the chunked message was not delivered intact",
            req=EXACT,
        )


@case(EXACT, "smtp.rfc3030.2.chunk-250", defect=srv.BDAT_UNSTUFFS)
def test_bdat_data_not_unstuffed(smtp: SMTPSessions, case_context: CaseContext) -> None:
    if not has_probe(case_context):
        unsupported("delivered mail cannot be read back")
    client = _chunking(smtp)
    body = b"..two dots stay two\r\n.\r\n.one dot stays one\r\n"
    message, token = make_message("mailspec BDAT dots", body)
    if start_transaction(client, case_context).code != 250:
        unsupported("MAIL refused")
    replies = _send_chunks(client, [bdat_chunk(message, last=True)])
    if replies[-1].code != 250:
        unsupported(f"the message was refused: {replies[-1]}")
    got = fetch(case_context, token)
    check(got is not None and delivered_contains(got, body), "BDAT data was changed (dot transparency applied)")


@case("smtp.rfc3030.2.bdat-after-last-503", defect=srv.BDAT_AFTER_LAST_OK)
def test_bdat_after_last_503(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _chunking(smtp)
    message, _ = make_message("mailspec BDAT after LAST")
    if start_transaction(client, case_context).code != 250:
        unsupported("MAIL refused")
    first = _send_chunks(client, [bdat_chunk(message, last=True)])
    if first[-1].code != 250:
        unsupported(f"the message was refused: {first[-1]}")
    client.send(bdat_chunk(b"more data\r\n", last=True))
    reply = client.read_reply()
    check(reply.code == 503, "a BDAT after BDAT LAST was not refused with 503", expected="503", observed=str(reply))


@case("smtp.rfc3030.2.data-after-bdat-503", defect=srv.BDAT_THEN_DATA_OK)
def test_data_after_bdat_503(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _chunking(smtp)
    if start_transaction(client, case_context).code != 250:
        unsupported("MAIL refused")
    first = _send_chunks(client, [bdat_chunk(b"Subject: mailspec mixed\r\n")])
    if first[-1].code != 250:
        unsupported(f"the chunk was refused: {first[-1]}")
    reply = client.command("DATA")
    if reply.code == 354:
        client.send(b".\r\n")
        client.read_reply()
    check(
        reply.code == 503,
        "DATA after BDAT in one transaction was not refused with 503",
        expected="503",
        observed=str(reply),
    )


STRAY = {"no-mail": False, "no-rcpt": True}


@pytest.mark.parametrize("with_mail", STRAY.values(), ids=STRAY.keys())
@case(DISCARD, defect=srv.BDAT_FAIL_NO_DISCARD)
def test_refused_chunk_discarded(smtp: SMTPSessions, case_context: CaseContext, with_mail: bool) -> None:
    client = _chunking(smtp)
    if with_mail and client.mail(case_context.sender).code != 250:
        unsupported("MAIL refused")
    client.send(bdat_chunk(b"NOOP\r\nNOOP\r\n", last=True))
    reply = client.read_reply()
    check(
        reply.klass in (4, 5),
        "BDAT outside a transaction with recipients was accepted",
        expected="503",
        observed=str(reply),
    )
    follow = client.noop()
    extra = client.try_read_reply(1.0)
    check(
        follow.code == 250 and extra is None,
        "the refused chunk's octets were read as commands",
        expected="one 250 for our NOOP",
        observed=f"{follow} / {extra}",
    )


@case("smtp.rfc3030.2.discard-pipelined-chunks", DISCARD, defect=srv.BDAT_FAIL_NO_DISCARD)
def test_pipelined_chunks_after_failure(smtp: SMTPSessions) -> None:
    client = _chunking(smtp)
    smtp.require(client, "PIPELINING")
    client.send(bdat_chunk(b"RSET\r\n") + bdat_chunk(b"QUIT\r\n", last=True) + b"NOOP\r\n")
    replies = client.read_replies(3)
    check(
        [r.klass for r in replies] in ([5, 5, 2], [4, 4, 2], [5, 4, 2], [4, 5, 2]),
        "pipelined chunks after a failed BDAT were not discarded",
        expected="error, error, 250 (NOOP)",
        observed=" | ".join(map(str, replies)),
    )


@case("smtp.rfc3030.2.rset-clears-chunks", defect=srv.BDAT_RSET_KEEPS)
def test_rset_clears_chunks(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _chunking(smtp)
    if start_transaction(client, case_context).code != 250:
        unsupported("MAIL refused")
    first = _send_chunks(client, [bdat_chunk(b"Subject: mailspec reset\r\n")])
    if first[-1].code != 250:
        unsupported(f"the chunk was refused: {first[-1]}")
    if client.rset().code != 250:
        unsupported("RSET refused")
    client.send(bdat_chunk(b"\r\nbody\r\n", last=True))
    reply = client.read_reply()
    check(
        reply.code != 250, "the transaction survived RSET: BDAT LAST completed it", expected="503", observed=str(reply)
    )


@case("smtp.rfc3030.2.data-still-supported", defect=srv.CHUNKING_NO_DATA)
def test_data_still_supported(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _chunking(smtp)
    if start_transaction(client, case_context).code != 250:
        unsupported("MAIL refused")
    message, _ = make_message("mailspec DATA with CHUNKING")
    replies = client.data(message)
    check(
        replies[0].code == 354 and replies[-1].code == 250,
        "DATA was refused where CHUNKING is offered",
        observed=" | ".join(map(str, replies)),
    )


def _binarymime(smtp: SMTPSessions) -> SMTPClient:
    client = _chunking(smtp)
    smtp.require(client, "BINARYMIME")
    return client


@case("smtp.rfc3030.3.binarymime-data-503", defect=srv.BINARYMIME_DATA_OK)
def test_binarymime_with_data_503(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = _binarymime(smtp)
    if start_transaction(client, case_context, "BODY=BINARYMIME").code != 250:
        unsupported("MAIL BODY=BINARYMIME refused")
    reply = client.command("DATA")
    if reply.code == 354:
        client.send(b".\r\n")
        client.read_reply()
    check(reply.code == 503, "DATA after BODY=BINARYMIME was not refused with 503", expected="503", observed=str(reply))


@case("smtp.rfc3030.3.preserve-binary", defect=srv.BDAT_BINARY_MANGLED)
def test_binary_preserved(smtp: SMTPSessions, case_context: CaseContext) -> None:
    if not has_probe(case_context):
        unsupported("delivered mail cannot be read back")
    client = _binarymime(smtp)
    payload = bytes([0, 1, 2, 10, 65, 10, 13, 66, 0, 255, 128]) + b"\r\n"
    message, token = make_message(
        "mailspec binary", payload, headers={"MIME-Version": "1.0", "Content-Transfer-Encoding": "binary"}
    )
    if start_transaction(client, case_context, "BODY=BINARYMIME").code != 250:
        unsupported("MAIL BODY=BINARYMIME refused")
    replies = _send_chunks(client, [bdat_chunk(message, last=True)])
    if replies[-1].code != 250:
        unsupported(f"the binary message was refused: {replies[-1]}")
    got = fetch(case_context, token)
    check(got is not None and payload in got, "binary octets were changed on delivery", observed=repr(got)[-120:])


# A BDAT whose size is not 1*DIGIT (RFC 3030 2) is not a chunk: refused at once, nothing read as its data.
# An all-digit size, however huge, is grammatical, and RFC 3030 2 has the server read and discard the
# octets of a chunk it refuses; so waiting after "BDAT 999...9" is conformant and is not judged here.
MALFORMED = {
    "non-numeric": "BDAT ten",
    "negative": "BDAT -5",
    "missing": "BDAT",
    "missing-with-last": "BDAT LAST",
    "hex": "BDAT 0x10",
    "decimal-point": "BDAT 1.5 LAST",
}


def _malformed_bdat(smtp: SMTPSessions, ctx: CaseContext, line: str) -> Reply:
    client = _chunking(smtp)
    if start_transaction(client, ctx).code != 250:
        unsupported("MAIL refused")
    client.send(f"{line}\r\n".encode())
    try:
        reply = client.try_read_reply(ctx.timeout)
    except ConnectionClosed:
        reply = None
        check(False, "the server closed the connection without answering the malformed BDAT", req=DIGITS)
    check(
        reply is not None,
        "a BDAT with a malformed chunk size got no reply: the server waits for chunk data",
        req=DIGITS,
        expected="501 at once",
        observed=f"no reply within {ctx.timeout:g} s",
    )
    assert reply is not None
    check(
        reply.klass in (4, 5),
        "a BDAT with a malformed chunk size was accepted",
        req=DIGITS,
        expected="501",
        observed=str(reply),
    )
    # RFC 3030 2 calls the state after a failed BDAT indeterminate: a server that refuses and then
    # closes (Postfix: 521) has read nothing as chunk data; only a session kept open must stay in step.
    try:
        follow: Reply | str = client.noop()
    except ConnectionClosed:
        follow = "connection closed after the refusal"
    check(
        isinstance(follow, str) or follow.code == 250,
        "after the refused BDAT the session is out of step (input was taken as chunk data)",
        req=DIGITS,
        expected="250 for NOOP",
        observed=str(follow),
    )
    return reply


@pytest.mark.parametrize("line", MALFORMED.values(), ids=MALFORMED.keys())
@case(DIGITS, defect=srv.BDAT_BAD_SIZE_WAITS)
def test_malformed_chunk_size_refused(smtp: SMTPSessions, case_context: CaseContext, line: str) -> None:
    _malformed_bdat(smtp, case_context, line)


@pytest.mark.parametrize("line", MALFORMED.values(), ids=MALFORMED.keys())
@case("smtp.rfc5321.4.2.2.syntax-501", DIGITS, defect=srv.BDAT_BAD_SIZE_500)
def test_malformed_chunk_size_501(smtp: SMTPSessions, case_context: CaseContext, line: str) -> None:
    reply = _malformed_bdat(smtp, case_context, line)
    check(reply.code == 501, "a malformed BDAT chunk size was not answered 501", expected="501", observed=str(reply))
