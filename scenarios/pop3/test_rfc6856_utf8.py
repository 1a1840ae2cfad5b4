"""RFC 6856 sections 2 and 5: the UTF8 capability and command, UTF-8 mode and the UTF8 response code."""

from conformance.clients.pop3 import POP3Client, POP3Sessions
from conformance.scenario import case
from conformance.servers import pop3 as srv
from conformance.verdict import check, unsupported
from conformance.wire import pop3 as wire

SUBJECT = "Grüße aus München"


def _utf8_message(pop3: POP3Sessions, *, utf8_mode: bool) -> tuple[POP3Client, int]:
    """A session (UTF8 sent first when ``utf8_mode``) and the number of a message with a UTF-8 Subject."""
    (token,) = pop3.seed(1, headers={"Subject": SUBJECT})

    def attempt() -> tuple[POP3Client, wire.Response]:
        client = pop3.ready()
        pop3.secure(client)  # STLS must come before UTF8 (RFC 6856 2.1)
        pop3.require(client, "UTF8")
        if utf8_mode:
            resp = client.command("UTF8")
            if not resp.ok:
                unsupported(f"the UTF8 command was refused: {resp}")
        return client, pop3.attempt_login(client)

    client, resp = pop3.until_unlocked(attempt)
    if not resp.ok:
        unsupported(f"could not log in: {resp}")
    for num in sorted(client.scan_listing(), reverse=True):
        top = client.top(num, 0) if utf8_mode else client.retr(num)
        if top.ok and token.encode() in top.body:
            return client, num
        if top.err:
            # Ours may be refused (outside UTF-8 mode): the newest refused message is a UTF-8 test message.
            return client, num
    unsupported("the delivered UTF-8 test message did not show up")


def _ascii(data: bytes) -> bool:
    return all(b < 0x80 for b in data)


@case("pop3.rfc6856.2.1.surrogate-or-err", defect=srv.UTF8_AS_IS)
def test_retr_utf8_message_without_utf8_mode(pop3: POP3Sessions) -> None:
    client, num = _utf8_message(pop3, utf8_mode=False)
    resp = client.retr(num)
    check(
        resp.err or _ascii(resp.body),
        "a message with UTF-8 header fields was sent as is to a client not in UTF-8 mode",
        expected="-ERR or an ASCII surrogate",
        observed=repr(resp.body[:200]) if resp.ok else str(resp),
    )


@case("pop3.rfc6856.2.1.surrogate-or-err", defect=srv.UTF8_AS_IS)
def test_top_utf8_message_without_utf8_mode(pop3: POP3Sessions) -> None:
    client, num = _utf8_message(pop3, utf8_mode=False)
    resp = client.top(num, 0)
    check(
        resp.err or _ascii(resp.body),
        "TOP sent UTF-8 header fields as is to a client not in UTF-8 mode",
        expected="-ERR or an ASCII surrogate",
        observed=repr(resp.body[:200]) if resp.ok else str(resp),
    )


@case("pop3.rfc6856.5.utf8-code", defect=srv.UTF8_NO_CODE)
def test_refusal_carries_utf8_code(pop3: POP3Sessions) -> None:
    client, num = _utf8_message(pop3, utf8_mode=False)
    pop3.require(client, "RESP-CODES")
    resp = client.retr(num)
    if resp.ok:
        unsupported("the server sends a surrogate message instead of refusing")
    check(
        resp.code == "UTF8",
        "the refusal of a UTF-8 message outside UTF-8 mode carries no [UTF8] response code",
        expected="-ERR [UTF8] ...",
        observed=str(resp),
    )


@case("pop3.rfc6856.2.1.utf8-mode-as-is", defect=srv.UTF8_MODE_REFUSES)
def test_utf8_mode_sends_message_as_is(pop3: POP3Sessions) -> None:
    client, num = _utf8_message(pop3, utf8_mode=True)
    resp = client.retr(num)
    check(
        resp.ok and SUBJECT.encode() in resp.body,
        "in UTF-8 mode the UTF-8 message was not sent as is",
        expected=f"Subject: {SUBJECT}",
        observed=str(resp),
    )


@case("pop3.rfc6856.2.1.list-size", defect=srv.UTF8_SIZE_CHARS)
def test_list_size_of_utf8_message(pop3: POP3Sessions) -> None:
    client, num = _utf8_message(pop3, utf8_mode=True)
    listed = client.scan_listing().get(num)
    resp = client.retr(num)
    if not resp.ok:
        unsupported(f"RETR in UTF-8 mode was refused: {resp}")
    check(
        listed == len(resp.body),
        "the LIST size of a UTF-8 message is not the number of octets RETR sends",
        expected=str(len(resp.body)),
        observed=str(listed),
    )


@case("pop3.rfc6856.2.1.stls-after-utf8", defect=srv.UTF8_STLS_OK)
def test_stls_after_utf8_refused(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    if client.conn.is_tls:
        unsupported("the session is already under TLS (implicit TLS)")
    pop3.require(client, "UTF8")
    pop3.require(client, "STLS")
    if not client.command("UTF8").ok:
        unsupported("the UTF8 command was refused")
    resp = client.command("STLS")
    check(resp.err, "STLS after UTF8 was accepted", expected="-ERR (optional)", observed=str(resp))
