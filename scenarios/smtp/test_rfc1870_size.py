"""RFC 1870 3, 4, 6, 6.3, 7: the SIZE extension - the advertised limit, MAIL SIZE=, oversize data."""

from conformance.clients.smtp import ConnectionClosed, SMTPClient, SMTPSessions
from conformance.context import CaseContext, make_message
from conformance.delivery import start_transaction
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported
from conformance.wire.smtp import dot_stuff

LARGEST_TRANSFER = 64 * 1024 * 1024  # beyond this the oversize case is too slow to run


def _limit(smtp: SMTPSessions, client: SMTPClient) -> int:
    value = smtp.require(client, "SIZE")
    if not value.isdigit() or int(value) == 0:
        unsupported(f"no fixed maximum message size advertised (SIZE {value!r})")
    return int(value)


@case("smtp.rfc1870.3.size-parameter-number", defect=srv.SIZE_NO_VALUE)
def test_size_parameter_is_a_number(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    value = smtp.require(client, "SIZE")
    if not value:
        unsupported("SIZE advertised without a parameter (allowed: no limit information)")
    check(
        value.isdigit(),
        "the SIZE keyword's parameter is not a decimal number",
        expected="SIZE 1*DIGIT",
        observed=f"SIZE {value}",
    )


@case("smtp.rfc1870.7.declared-size-552", defect=srv.SIZE_NOT_ENFORCED)
def test_declared_size_over_limit_552(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    limit = _limit(smtp, client)
    reply = client.mail(case_context.sender, f"SIZE={limit + 1}")
    client.rset()
    check(
        reply.code == 552,
        "MAIL with a SIZE above the advertised limit was not refused with 552",
        expected="552",
        observed=str(reply),
    )


@case("smtp.rfc1870.3.limit-accepted", defect=srv.SIZE_OFF_BY_ONE)
def test_declared_size_at_limit_not_refused(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    limit = _limit(smtp, client)
    reply = client.mail(case_context.sender, f"SIZE={limit}")
    client.rset()
    check(
        reply.code == 250 or reply.klass == 4,
        "MAIL declaring exactly the advertised limit was refused",
        expected="250 (or a temporary 4xx)",
        observed=str(reply),
    )


@case("smtp.rfc1870.7.declared-size-552", defect=srv.MAIL_SPACE_COLON)
def test_extended_mail_accepted(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    smtp.require(client, "SIZE")
    reply = client.mail(case_context.sender, "SIZE=1000")
    client.rset()
    check(reply.code == 250, "MAIL with a small SIZE= parameter was refused", expected="250", observed=str(reply))


@case("smtp.rfc1870.4.oversize-rejected-552", defect=srv.SIZE_DATA_NOT_ENFORCED)
def test_oversize_message_refused_552(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    limit = _limit(smtp, client)
    if limit > LARGEST_TRANSFER:
        unsupported(f"the limit ({limit} octets) is too large to exceed in a quick case")
    line = b"x" * 76 + b"\r\n"
    message, _ = make_message("mailspec oversize", line * (limit // len(line) + 16))
    mail = start_transaction(client, case_context)  # no SIZE=: the server can only judge the data
    if mail.code != 250:
        unsupported(f"MAIL refused: {mail}")
    go = client.command("DATA")
    if go.code != 354:
        unsupported(f"DATA refused: {go}")
    try:
        client.send(dot_stuff(message))
        final = client.read_reply(timeout=case_context.timeout * 6)
    except ConnectionClosed:
        unsupported("the server closed the connection during the oversize transfer, without a reply to judge")
    check(
        final.code == 552,
        f"a message of {len(message)} octets, over the advertised {limit}, was not refused with 552",
        expected="552",
        observed=str(final),
    )


@case("smtp.rfc1870.6.size-not-end-of-data", defect=srv.SIZE_ENDS_DATA)
def test_declared_size_does_not_end_data(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    smtp.require(client, "SIZE")
    message, _ = make_message(
        "mailspec size is not the end",
        b"".join(b"line %d of a message longer than declared\r\n" % i for i in range(12)),
    )
    mail = start_transaction(client, case_context, "SIZE=64")
    if mail.code != 250:
        unsupported(f"MAIL with SIZE=64 refused: {mail}")
    replies = client.data(message)
    check(
        replies[-1].code in (250, 552) or replies[-1].klass == 4,
        "the message larger than declared got an unexpected reply",
        expected="250, 552 or 4xx",
        observed=str(replies[-1]),
    )
    extra = client.try_read_reply(1.0)
    check(
        extra is None,
        "the server ended the data after the declared SIZE and read the rest as commands",
        expected="one reply for the whole message",
        observed=f"{replies[-1]} | then {extra}",
    )
    after = client.noop()
    check(
        after.code == 250,
        "the session lost sync after a message larger than its declared SIZE",
        expected="NOOP 250",
        observed=str(after),
    )


@case("smtp.rfc1870.6.3.no-552-within-declared", defect=srv.SIZE_COUNTS_STUFFING)
def test_no_552_for_message_of_declared_size(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    smtp.require(client, "SIZE")
    message, _ = make_message("mailspec exact size", b"".join(b".dotted line %d\r\n" % i for i in range(10)))
    # RFC 1870 5: the size counts CRLFs but neither the stuffed dots nor the final dot.
    mail = start_transaction(client, case_context, f"SIZE={len(message)}")
    if mail.code != 250:
        unsupported(f"MAIL refused: {mail}")
    replies = client.data(message)
    check(
        replies[-1].code != 552,
        "a message of exactly the declared size was refused with 552 after the transfer (stuffed dots counted?)",
        expected="no 552",
        observed=str(replies[-1]),
    )
