"""RFC 9051 6.2.3 and 11.7: LOGIN with quoted strings and literals, and its failures."""

import re
import uuid

from conformance.clients.imap import IMAPClient, IMAPSessions, Result
from conformance.scenario import case
from conformance.servers.imap import auth as srv
from conformance.verdict import check, unsupported

WRONG = "not-the-password-mailspec"


def _login_ready(imap: IMAPSessions) -> IMAPClient:
    """Not authenticated, under TLS when offered, LOGIN allowed."""
    client = imap.ready()
    imap.secure(client)
    if "LOGINDISABLED" in imap.capabilities(client):
        unsupported("the server announces LOGINDISABLED even under TLS")
    return client


def _logged_in(client: IMAPClient, res: Result, how: str) -> None:
    check(res.ok, f"LOGIN with {how} and valid credentials failed", expected="OK", observed=str(res))
    after = client.command("EXAMINE", "INBOX")
    check(after.ok, f"the session is not in the authenticated state after LOGIN with {how}", observed=str(after))


def _failed_login(imap: IMAPSessions, user: str, password: str) -> Result:
    client = _login_ready(imap)
    client.transcript.add_secret(password)
    return client.command("LOGIN", user, password)


@case("imap.rfc9051.6.2.3.login-ok", defect=srv.LOGIN_NO_QUOTED)
def test_login_quoted_strings(imap: IMAPSessions) -> None:
    client = _login_ready(imap)
    user, password = imap.ctx.credentials()
    client.transcript.add_secret(password)
    _logged_in(client, client.command("LOGIN", user, password), "quoted strings")


@case("imap.rfc9051.6.2.3.login-ok", defect=srv.LOGIN_NO_LITERALS)
def test_login_synchronizing_literals(imap: IMAPSessions) -> None:
    client = _login_ready(imap)
    user, password = imap.ctx.credentials()
    client.transcript.add_secret(password)
    res = client.command("LOGIN", user.encode(), password.encode(), literal_plus=False)
    _logged_in(client, res, "synchronizing literals")


@case("imap.rfc9051.6.2.3.login-rejected-no", defect=srv.LOGIN_ACCEPTS_ANY)
def test_login_wrong_password_no(imap: IMAPSessions) -> None:
    res = _failed_login(imap, imap.ctx.credentials()[0], WRONG)
    check(res.status == "NO", "LOGIN with a wrong password was not answered with NO", expected="NO", observed=str(res))


@case("imap.rfc9051.6.2.3.login-rejected-no", defect=srv.LOGIN_ACCEPTS_ANY)
def test_login_wrong_password_not_authenticated(imap: IMAPSessions) -> None:
    client = _login_ready(imap)
    client.transcript.add_secret(WRONG)
    client.command("LOGIN", imap.ctx.credentials()[0], WRONG)
    after = client.command("EXAMINE", "INBOX")
    check(not after.ok, "the session is authenticated after LOGIN with a wrong password", observed=str(after))


@case("imap.rfc9051.6.2.3.login-rejected-no", defect=srv.LOGIN_ACCEPTS_ANY)
def test_login_unknown_user_no(imap: IMAPSessions) -> None:
    res = _failed_login(imap, f"nobody-{uuid.uuid4().hex[:10]}", WRONG)
    check(res.status == "NO", "LOGIN of an unknown user was not answered with NO", expected="NO", observed=str(res))
    check(
        res.tagged.code is None or res.tagged.code.name != "NONEXISTENT",
        "LOGIN of an unknown user was answered with NONEXISTENT, a code for mailboxes",
        observed=str(res),
    )


@case("imap.rfc9051.11.7.login-failure-no-detail", defect=srv.LOGIN_NAMES_USER)
def test_login_failure_does_not_name_the_user(imap: IMAPSessions) -> None:
    user = imap.ctx.credentials()[0]
    wrong_password = _failed_login(imap, user, WRONG)
    unknown = f"nobody-{uuid.uuid4().hex[:10]}"
    unknown_user = _failed_login(imap, unknown, WRONG)
    if wrong_password.status != "NO" or unknown_user.status != "NO":
        unsupported(f"both LOGINs should fail: {wrong_password} / {unknown_user}")

    names = (user, unknown)

    def shape(r: Result) -> tuple[str, str]:
        # The text may echo the name tried or carry a session id or a time: those say nothing
        # about which credential was wrong, so they are masked before comparing.
        text = r.tagged.text
        for n in names:
            text = text.replace(n, "<user>")
        return (r.tagged.code.name if r.tagged.code else "", re.sub(r"[0-9]+", "#", text))

    check(
        shape(wrong_password) == shape(unknown_user),
        "the failure of LOGIN for an unknown user differs from the one for a wrong password",
        expected=f"the same as for a wrong password: {wrong_password}",
        observed=str(unknown_user),
    )


@case("imap.rfc9051.7.1.authenticationfailed", defect=srv.AUTH_FAIL_NO_CODE)
def test_login_failure_code(imap: IMAPSessions) -> None:
    res = _failed_login(imap, imap.ctx.credentials()[0], WRONG)
    if res.status != "NO":
        unsupported(f"LOGIN with a wrong password was not refused with NO: {res}")
    check(
        res.tagged.code is not None and res.tagged.code.name == "AUTHENTICATIONFAILED",
        "LOGIN with a wrong password was refused without the AUTHENTICATIONFAILED response code",
        expected="NO [AUTHENTICATIONFAILED]",
        observed=str(res),
    )
