"""RFC 1939 section 7: USER / PASS and APOP."""

import hashlib

from conformance.clients.pop3 import POP3Client, POP3Sessions
from conformance.scenario import case
from conformance.servers import pop3 as srv
from conformance.verdict import check, unsupported

WRONG = "mailspec-wrong-password"


def _after_user(pop3: POP3Sessions) -> POP3Client:
    """A session under TLS (when offered) after an accepted USER."""
    client = pop3.ready()
    pop3.secure(client)
    user, _ = pop3.ctx.credentials()
    resp = client.user(user)
    if not resp.ok:
        unsupported(f"USER was refused: {resp}")
    return client


def _timestamp(pop3: POP3Sessions) -> POP3Client:
    client = pop3.ready()
    if client.timestamp is None:
        unsupported("the greeting carries no APOP timestamp")
    return client


@case("pop3.rfc1939.7.pass-responses", defect=srv.PASS_ACCEPTS_ANY)
def test_wrong_password_refused(pop3: POP3Sessions) -> None:
    client = _after_user(pop3)
    resp = client.pass_(WRONG)
    check(resp.err, "PASS with a wrong password was not answered with -ERR", expected="-ERR", observed=str(resp))


@case("pop3.rfc1939.7.pass-responses", defect=srv.PASS_ACCEPTS_ANY)
def test_wrong_password_stays_in_authorization(pop3: POP3Sessions) -> None:
    client = _after_user(pop3)
    client.pass_(WRONG)
    resp = client.stat()
    check(
        resp.err,
        "after a refused PASS the session is not in AUTHORIZATION state (STAT answered)",
        expected="-ERR",
        observed=str(resp),
    )


@case("pop3.rfc1939.7.pass-after-user", defect=srv.PASS_WITHOUT_USER)
def test_pass_before_user(pop3: POP3Sessions) -> None:
    client = pop3.ready()
    pop3.secure(client)
    _, password = pop3.ctx.credentials()
    resp = client.pass_(password)
    check(resp.err, "PASS without a preceding USER was not answered with -ERR", expected="-ERR", observed=str(resp))


@case("pop3.rfc1939.7.pass-after-user", defect=srv.PASS_WITHOUT_USER)
def test_pass_after_failed_pass(pop3: POP3Sessions) -> None:
    client = _after_user(pop3)
    first = client.pass_(WRONG)
    if first.ok:
        unsupported("the wrong password was accepted")
    _, password = pop3.ctx.credentials()
    resp = client.pass_(password)
    check(resp.err, "a second PASS without a new USER was accepted", expected="-ERR", observed=str(resp))


@case("pop3.rfc1939.7.apop-timestamp-unique", defect=srv.APOP_SAME_TIMESTAMP)
def test_apop_timestamp_differs(pop3: POP3Sessions) -> None:
    first = _timestamp(pop3)
    second = pop3.ready()
    check(
        first.timestamp != second.timestamp,
        "two greetings carry the same APOP timestamp",
        expected="a different timestamp each time",
        observed=f"{first.timestamp} twice",
    )


@case("pop3.rfc1939.7.apop-digest", defect=srv.APOP_ACCEPTS_ANY)
def test_apop_wrong_digest_refused(pop3: POP3Sessions) -> None:
    client = _timestamp(pop3)
    user, _ = pop3.ctx.credentials()
    resp = client.apop(user, WRONG)
    check(resp.err, "APOP with a wrong digest was not answered with -ERR", expected="-ERR", observed=str(resp))


@case("pop3.rfc1939.7.apop-digest", defect=srv.APOP_ACCEPTS_ANY)
def test_apop_wrong_digest_stays_in_authorization(pop3: POP3Sessions) -> None:
    client = _timestamp(pop3)
    user, _ = pop3.ctx.credentials()
    digest = hashlib.md5(b"not the timestamp").hexdigest()
    client.command("APOP", user, digest)
    resp = client.stat()
    check(
        resp.err,
        "after a refused APOP the session is not in AUTHORIZATION state (STAT answered)",
        expected="-ERR",
        observed=str(resp),
    )
