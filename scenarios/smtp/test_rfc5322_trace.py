"""RFC 5322 3.6.7 and RFC 5321 2.4 / 4.4: the receiver's Received line opens the header section (trace block),
and the rest of the message, folded header fields included, is passed on as it came; the final delivery
adds a Return-Path with the reverse-path as given (local-part case kept), and Received has its FROM clause."""

import re

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


# --- RFC 5321 4.4 return-path and FROM clause, 2.4 local-part case --------------------

RETURN_PATH = "smtp.rfc5321.4.4.return-path"


def _deliver_from(smtp: SMTPSessions, ctx: CaseContext, sender: str, subject: str) -> bytes:
    """A message sent with reverse-path ``sender``, as delivered (header section only, LF line ends)."""
    if not has_probe(ctx):
        unsupported("delivered mail cannot be read back")
    client = smtp.in_transaction(sender)
    rcpt = client.rcpt(ctx.recipient)
    if rcpt.code not in (250, 251):
        unsupported(f"the recipient {ctx.recipient} was refused: {rcpt}")
    message, token = make_message(subject)
    replies = client.data(message)
    if replies[-1].code != 250:
        unsupported(f"the message was not accepted: {replies[-1]}")
    got = fetch(ctx, token)
    check(got is not None, "the accepted message never reached the mailbox", req="smtp.rfc5321.4.4.received")
    assert got is not None
    return same_text(got).partition(b"\n\n")[0]


def _fields(head: bytes) -> list[bytes]:
    """Header fields, unfolded (a continuation line joins its field with one space)."""
    out: list[bytes] = []
    for ln in head.split(b"\n"):
        if ln[:1] in (b" ", b"\t") and out:
            out[-1] += b" " + ln.strip()
        elif ln:
            out.append(ln)
    return out


def _return_paths(head: bytes) -> list[bytes]:
    """The values of the Return-Path fields in the trace block (above the message's own From:)."""
    fields = _fields(head)
    own = next((i for i, f in enumerate(fields) if f.lower().startswith(b"from:")), len(fields))
    return [f.split(b":", 1)[1].strip() for f in fields[:own] if f.lower().startswith(b"return-path:")]


SENDERS = {"mailbox": False, "null": True}


@pytest.mark.parametrize("null", SENDERS.values(), ids=SENDERS.keys())
@case(RETURN_PATH, defect=srv.NO_RETURN_PATH, protocols=("smtp",))
def test_return_path_on_final_delivery(smtp: SMTPSessions, case_context: CaseContext, null: bool) -> None:
    """The delivered copy starts with a Return-Path holding the reverse-path of MAIL (<> for a null one)."""
    sender = "" if null else case_context.sender
    head = _deliver_from(smtp, case_context, sender, "mailspec return-path")
    paths = _return_paths(head)
    check(
        len(paths) >= 1,
        "the delivered message has no Return-Path line above its header fields",
        expected=f"Return-Path: <{sender}>",
        observed=head[:400].decode(errors="replace"),
    )
    wanted = f"<{sender}>".lower().encode()
    check(
        paths[0].lower() == wanted,
        "the Return-Path does not hold the reverse-path given in MAIL",
        expected=f"<{sender}>",
        observed=paths[0].decode(errors="replace"),
    )


@case("smtp.rfc5321.2.4.local-part-case-preserved", RETURN_PATH, defect=srv.RETURN_PATH_LOWERCASE, protocols=("smtp",))
def test_local_part_case_preserved(smtp: SMTPSessions, case_context: CaseContext) -> None:
    """MAIL FROM:<MiXeD.Case-Sender@...>: the Return-Path keeps the local-part's case exactly."""
    sender = f"MiXeD.Case-Sender@{case_context.sender.rpartition('@')[2]}"
    head = _deliver_from(smtp, case_context, sender, "mailspec local-part case")
    paths = _return_paths(head)
    if not paths:
        unsupported("no Return-Path on the delivered copy to see the local-part in (see the return-path case)")
    local = paths[0].strip(b"<>").rpartition(b"@")[0]
    check(
        local == b"MiXeD.Case-Sender",
        "the case of the sender's local-part was not preserved",
        expected="MiXeD.Case-Sender",
        observed=paths[0].decode(errors="replace"),
    )


def _stamps(head: bytes) -> list[bytes]:
    return [f for f in _fields(head) if f.lower().startswith(b"received:")]


@case("smtp.rfc5321.4.4.received-from-clause", defect=srv.RECEIVED_NO_FROM, protocols=("smtp",))
def test_received_has_from_clause(smtp: SMTPSessions, case_context: CaseContext) -> None:
    """The message arrives with no Received line of its own; the server's line opens with a FROM clause."""
    head = _deliver_from(smtp, case_context, case_context.sender, "mailspec Received FROM")
    stamps = _stamps(head)
    if not stamps:
        unsupported("the delivered message has no Received line at all (judged by smtp.rfc5321.4.4.received)")
    check(
        any(re.match(rb"received:\s*from\s", s, re.I) for s in stamps),
        "no Received line the server added has a FROM clause",
        expected="Received: from <EHLO name> ([IP]) by ...",
        observed=" / ".join(s.decode(errors="replace") for s in stamps)[:600],
    )


@case("smtp.rfc5321.4.4.received-from-contents", defect=srv.RECEIVED_NO_LITERAL, protocols=("smtp",))
def test_received_from_names_ehlo_and_address(smtp: SMTPSessions, case_context: CaseContext) -> None:
    """The FROM clause names the EHLO argument (client.mailspec.test) and the client's address as a literal."""
    head = _deliver_from(smtp, case_context, case_context.sender, "mailspec Received FROM contents")
    stamps = [s for s in _stamps(head) if re.match(rb"received:\s*from\s", s, re.I)]
    if not stamps:
        unsupported("no Received line with a FROM clause (see received-from-clause)")
    # The line of the SMTP hop: the one naming our EHLO argument, else the last (oldest) one.
    ours = next((s for s in stamps if b"client.mailspec.test" in s.lower()), stamps[-1])
    check(
        b"client.mailspec.test" in ours.lower(),
        "the Received FROM clause does not give the name presented in EHLO",
        expected="client.mailspec.test",
        observed=ours.decode(errors="replace")[:300],
    )
    check(
        re.search(rb"\[(IPv6:)?[0-9A-Fa-f:.]+\]", ours) is not None,
        "the Received FROM clause has no address literal of the client's IP address",
        expected="[127.0.0.1]",
        observed=ours.decode(errors="replace")[:300],
    )
