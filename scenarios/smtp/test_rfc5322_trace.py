"""RFC 5322 3.6.7 and RFC 5321 2.4 / 4.4: the receiver's Received line opens the header section (trace block),
and the rest of the message, folded header fields included, is passed on as it came."""

import pytest

from conformance.clients.smtp import SMTPSessions
from conformance.context import CaseContext, make_message
from conformance.delivery import fetch, has_probe, same_text
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported

# Header fields a final delivery agent may put above everything else (RFC 5321 4.4 return-path, common MDA fields).
DELIVERY_FIELDS = (b"return-path:", b"delivered-to:", b"x-original-to:", b"received:")


def _send(smtp: SMTPSessions, ctx: CaseContext, message: bytes, token: str) -> bytes:
    if not has_probe(ctx):
        unsupported("delivered mail cannot be read back")
    client = smtp.with_recipient()
    replies = client.data(message)
    if replies[-1].code != 250:
        unsupported(f"the message was not accepted: {replies[-1]}")
    got = fetch(ctx, token)
    check(got is not None, "the accepted message never reached the mailbox", req="smtp.rfc5321.4.4.received")
    assert got is not None
    return same_text(got)


@case("smtp.rfc5321.4.4.received-prepend", "smtp.rfc5322.3.6.7.trace-block", defect=srv.RECEIVED_APPENDED)
def test_received_above_message_fields(smtp: SMTPSessions, case_context: CaseContext) -> None:
    message, token = make_message("mailspec trace block")
    got = _send(smtp, case_context, message, token)
    head = got.partition(b"\n\n")[0]
    names = [ln.split(b":", 1)[0].lower() + b":" for ln in head.split(b"\n") if ln and ln[:1] not in b" \t"]
    first_own = names.index(b"from:") if b"from:" in names else len(names)
    check(
        b"received:" in names[:first_own] and all(n in DELIVERY_FIELDS for n in names[:first_own]),
        "the server's Received line is not in the trace block above the message's own header fields",
        req="smtp.rfc5321.4.4.received-prepend",
        observed=b" ".join(names[: first_own + 2]).decode(errors="replace"),
    )


FOLDED = {
    "subject-space": {"Subject": "mailspec folded subject\r\n continues here"},
    "subject-tab": {"Subject": "mailspec folded with a tab\r\n\tcontinues here"},
    "address-list": {"To": "one <one@mailspec.test>,\r\n two <two@mailspec.test>,\r\n  three <three@mailspec.test>"},
}


@pytest.mark.parametrize("headers", FOLDED.values(), ids=FOLDED.keys())
@case("smtp.rfc5321.2.4.relay-content-untouched", defect=srv.HEADER_UNFOLDS)
def test_folded_header_kept(smtp: SMTPSessions, case_context: CaseContext, headers: dict[str, str]) -> None:
    message, token = make_message(headers=headers)
    got = _send(smtp, case_context, message, token)
    for name, value in headers.items():
        folded = same_text(f"{name}: {value}\r\n".encode())
        check(
            folded in got,
            f"the folded {name} field was not delivered as sent (refolded or unfolded)",
            expected=folded.decode(),
            observed=got[:600].decode(errors="replace"),
        )
