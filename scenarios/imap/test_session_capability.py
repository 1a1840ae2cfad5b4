"""RFC 9051 6.1.1 and 7.2.2 (RFC 3501 6.1.1 and 7.2.1): CAPABILITY, the response code, what must be listed."""

from conformance.clients.imap import IMAPClient, IMAPSessions, Result
from conformance.scenario import case
from conformance.servers.imap import auth as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire


def _listing(u: wire.Untagged | wire.Tagged | None) -> set[str]:
    """The capability names of a CAPABILITY response or response code, upper-cased."""
    if u is None:
        return set()
    if isinstance(u, wire.Untagged) and u.name == "CAPABILITY":
        return {str(v).upper() for v in u.values}
    if u.code is not None and u.code.name == "CAPABILITY":
        return {str(a).upper() for a in u.code.args}
    return set()


def _single_untagged(res: Result, atom: str, state: str) -> None:
    """One untagged CAPABILITY before the tagged OK, listing ``atom``."""
    check(res.ok, f"CAPABILITY in the {state} state was not completed with OK", expected="OK", observed=str(res))
    caps = res.named("CAPABILITY")
    check(
        len(caps) == 1,
        f"CAPABILITY in the {state} state did not send a single untagged CAPABILITY response",
        expected="exactly one * CAPABILITY",
        observed=f"{len(caps)}: " + " | ".join(u.raw.decode("utf-8", "replace").strip() for u in caps),
    )
    check(
        atom.upper() in _listing(caps[0]),
        f'the untagged CAPABILITY response does not list "{atom}"',
        expected=atom,
        observed=caps[0].raw.decode("utf-8", "replace").strip(),
    )


def _rev2_server(imap: IMAPSessions, client: IMAPClient) -> None:
    """RFC 9051's CAPABILITY rules hold for a server that announces IMAP4rev2 (a server announcing
    both revisions lists both: each revision's rule is met by the same response)."""
    if imap.profile(client) != "imap4rev2":
        unsupported("the server does not announce IMAP4rev2 (or --profile imap4rev1)")


def _rev1_server(imap: IMAPSessions, client: IMAPClient) -> None:
    """RFC 3501's rules hold for a server that announces IMAP4rev1, or does not announce IMAP4rev2."""
    caps = imap.capabilities(client) | _listing(client.greeting)
    if "IMAP4REV2" in caps and "IMAP4REV1" not in caps:
        unsupported("an IMAP4rev2-only server: RFC 3501's CAPABILITY rules do not apply")


@case("imap.rfc3501.6.1.1.capability-imap4rev1", defect=srv.CAPABILITY_SPLIT)
def test_capability_imap4rev1_not_authenticated(imap: IMAPSessions) -> None:
    client = imap.ready()
    _rev1_server(imap, client)
    _single_untagged(client.capability(), "IMAP4rev1", "not authenticated")


@case("imap.rfc3501.6.1.1.capability-imap4rev1", defect=srv.NO_REVISION)
def test_capability_imap4rev1_authenticated(imap: IMAPSessions) -> None:
    client = imap.login(profile=False)
    _rev1_server(imap, client)
    _single_untagged(client.capability(), "IMAP4rev1", "authenticated")


@case("imap.rfc3501.7.2.1.capability-imap4rev1", defect=srv.NO_REVISION)
def test_greeting_capability_code_lists_imap4rev1(imap: IMAPSessions) -> None:
    client = imap.ready()
    _rev1_server(imap, client)
    code = _listing(client.greeting)
    if not code:
        unsupported("the greeting carries no CAPABILITY response code")
    check(
        "IMAP4REV1" in code,
        'the CAPABILITY response code of the greeting does not list "IMAP4rev1"',
        expected="IMAP4rev1",
        observed=" ".join(sorted(code)),
    )


@case("imap.rfc9051.6.1.1.capability-imap4rev2", defect=srv.CAPABILITY_SPLIT)
def test_capability_imap4rev2_not_authenticated(imap: IMAPSessions) -> None:
    client = imap.ready()
    _rev2_server(imap, client)
    _single_untagged(client.capability(), "IMAP4rev2", "not authenticated")


@case("imap.rfc9051.6.1.1.capability-imap4rev2", defect=srv.CAPABILITY_SPLIT)
def test_capability_imap4rev2_selected(imap: IMAPSessions) -> None:
    client = imap.selected()
    _rev2_server(imap, client)
    _single_untagged(client.capability(), "IMAP4rev2", "selected")


@case("imap.rfc9051.7.2.2.capability-imap4rev2", defect=srv.REV2_DROPPED)
def test_imap4rev2_still_listed_after_login(imap: IMAPSessions) -> None:
    client = imap.ready()
    _rev2_server(imap, client)
    imap.login(client, profile=False)
    res = client.capability()
    listed = set().union(*(_listing(u) for u in res.named("CAPABILITY")))
    check(
        "IMAP4REV2" in listed,
        'CAPABILITY after login does not list "IMAP4rev2", which the server announced before',
        expected="IMAP4rev2",
        observed=" ".join(sorted(listed)),
    )


# --- the CAPABILITY response code ----------------------------------------------------------------


def _same_as_command(client: IMAPClient, code: set[str], where: str) -> None:
    res = client.capability()
    listed = set().union(*(_listing(u) for u in res.named("CAPABILITY")))
    check(
        code == listed,
        f"the CAPABILITY response code of {where} differs from what CAPABILITY lists right after",
        expected=" ".join(sorted(listed)),
        observed=" ".join(sorted(code)),
    )


@case("imap.rfc9051.7.2.2.capability-code-current", defect=srv.GREETING_CAPS_STALE)
def test_greeting_capability_code_current(imap: IMAPSessions) -> None:
    client = imap.ready()
    code = _listing(client.greeting)
    if not code:
        unsupported("the greeting carries no CAPABILITY response code")
    _same_as_command(client, code, "the greeting")


@case("imap.rfc9051.7.2.2.capability-code-current", defect=srv.LOGIN_CAPS_STALE)
def test_login_capability_code_current(imap: IMAPSessions) -> None:
    client = imap.ready()
    imap.secure(client)
    res = imap.attempt_login(client)
    if not res.ok:
        unsupported(f"could not log in: {res}")
    code = _listing(res.tagged)
    if not code:
        unsupported("the tagged OK of the login carries no CAPABILITY response code")
    _same_as_command(client, code, "the login's tagged OK")


# --- what must be announced ------------------------------------------------------------------------


@case("imap.rfc9051.6.1.1.starttls-cleartext", defect=srv.NO_STARTTLS)
def test_starttls_announced_on_cleartext_port(imap: IMAPSessions) -> None:
    client = imap.ready()
    if client.conn.is_tls:
        unsupported("an Implicit TLS port: STARTTLS is for cleartext ports")
    client.capability()
    check(
        client.has("STARTTLS"),
        "CAPABILITY on a cleartext port does not announce STARTTLS",
        expected="STARTTLS",
        observed=" ".join(sorted(client.capabilities)),
    )


@case("imap.rfc9051.6.1.1.auth-plain", defect=srv.NO_AUTH_PLAIN)
def test_auth_plain_announced_under_tls(imap: IMAPSessions) -> None:
    client = imap.ready()
    imap.secure(client)
    if not client.conn.is_tls:
        unsupported("no TLS: AUTH=PLAIN may rightly be hidden on a cleartext connection")
    client.capability()
    check(
        client.has("AUTH=PLAIN"),
        "CAPABILITY under TLS does not announce AUTH=PLAIN",
        expected="AUTH=PLAIN",
        observed=" ".join(sorted(client.capabilities)),
    )


@case("imap.rfc9051.6.2.2.mechanisms-listed", defect=srv.NO_AUTH_PLAIN)
def test_mechanisms_listed(imap: IMAPSessions) -> None:
    client = imap.ready()
    imap.secure(client)
    client.capability()
    check(
        any(c.startswith("AUTH=") for c in client.capabilities),
        "CAPABILITY before login lists no AUTH= mechanism",
        expected="AUTH=PLAIN (or other AUTH= names)",
        observed=" ".join(sorted(client.capabilities)),
    )


@case("imap.rfc7888.5.not-both", defect=srv.LITERAL_BOTH)
def test_literal_plus_and_minus_not_both(imap: IMAPSessions) -> None:
    client = imap.login(profile=False)
    client.capability()
    check(
        not (client.has("LITERAL+") and client.has("LITERAL-")),
        "CAPABILITY announces both LITERAL+ and LITERAL-",
        expected="one of them at most",
        observed=" ".join(sorted(client.capabilities)),
    )
