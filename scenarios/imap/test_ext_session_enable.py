"""RFC 9051 6.3.1 / RFC 5161 (cited for IMAP4rev1): ENABLE and ENABLED; RFC 6855: ENABLE UTF8=ACCEPT and UTF-8 quoted strings."""

import uuid

from conformance.clients.imap import IMAPClient, IMAPSessions, Result
from conformance.scenario import case
from conformance.servers.imap import auth as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire

UNKNOWN = "X-MAILSPEC-UNKNOWN"
# Extensions ENABLE can turn on (RFC 9051 6.3.1, RFC 6855, RFC 7162), in order of preference.
ENABLEABLE = ("UTF8=ACCEPT", "CONDSTORE", "QRESYNC", "IMAP4REV2")
# Announced extensions that ENABLE does not apply to.
NOT_ENABLEABLE = ("IDLE", "NAMESPACE", "UNSELECT", "SASL-IR", "ID", "LITERAL+", "LITERAL-", "ENABLE")


def _req(imap: IMAPSessions, client: IMAPClient, rfc9051: str, rfc5161: str) -> str:
    """The rule's RFC 5161 id when the run holds the server to IMAP4rev1, else its RFC 9051 6.3.1 id."""
    return rfc5161 if imap.profile(client) == "imap4rev1" else rfc9051


def _enable_ready(imap: IMAPSessions) -> IMAPClient:
    """Authenticated (nothing ENABLEd by the fixture), ENABLE announced."""
    client = imap.login(profile=False)
    caps = imap.capabilities(client)
    if "ENABLE" not in caps and "IMAP4REV2" not in caps:
        unsupported("the server announces neither ENABLE nor IMAP4rev2")
    return client


def _enable(client: IMAPClient, *names: str) -> tuple[Result, set[str] | None]:
    """ENABLE ``names``: the result and what its ENABLED responses list (None: no ENABLED response)."""
    res = client.command("ENABLE", *(wire.Atom(n) for n in names))
    responses = res.named("ENABLED")
    if not responses:
        return res, None
    return res, {str(v).upper() for u in responses for v in u.values}


def _enableable(imap: IMAPSessions, client: IMAPClient) -> str:
    """An announced extension ENABLE can turn on (UNSUPPORTED when there is none)."""
    caps = imap.capabilities(client)
    name = next((n for n in ENABLEABLE if n in caps and (n != "IMAP4REV2" or "IMAP4REV1" in caps)), None)
    if name is None:
        unsupported(f"the server announces none of {', '.join(ENABLEABLE)}")
    return name


@case("imap.rfc9051.6.3.1.enabled-response", "imap.rfc5161.3.1.enabled-response", defect=srv.ENABLE_NO_ENABLED)
def test_enabled_response_even_when_nothing_enabled(imap: IMAPSessions) -> None:
    client = _enable_ready(imap)
    req = _req(imap, client, "imap.rfc9051.6.3.1.enabled-response", "imap.rfc5161.3.1.enabled-response")
    res, enabled = _enable(client, UNKNOWN)
    check(res.ok, "ENABLE of an unknown extension was not completed with OK", req=req, expected="OK", observed=str(res))
    check(
        enabled is not None,
        "a successful ENABLE that enabled nothing sent no untagged ENABLED response",
        req=req,
        expected="* ENABLED",
        observed=str(res),
    )


@case("imap.rfc9051.6.3.1.enabled-response", "imap.rfc5161.3.2.enabled-lists", defect=srv.ENABLE_NOT_LISTED)
def test_enabled_response_lists_the_enabled(imap: IMAPSessions) -> None:
    client = _enable_ready(imap)
    req = _req(imap, client, "imap.rfc9051.6.3.1.enabled-response", "imap.rfc5161.3.2.enabled-lists")
    name = _enableable(imap, client)
    res, enabled = _enable(client, name)
    check(
        res.ok and enabled is not None and name in enabled,
        f"ENABLE {name} was not answered with an ENABLED response listing it",
        req=req,
        expected=f"* ENABLED {name}",
        observed=str(res) if enabled is None else " ".join(sorted(enabled)),
    )


@case("imap.rfc9051.6.3.1.enables-supported", "imap.rfc5161.3.1.enables-supported", defect=srv.ENABLE_IGNORED)
def test_enable_turns_on_a_supported_extension(imap: IMAPSessions) -> None:
    client = _enable_ready(imap)
    req = _req(imap, client, "imap.rfc9051.6.3.1.enables-supported", "imap.rfc5161.3.1.enables-supported")
    name = _enableable(imap, client)
    _, enabled = _enable(client, UNKNOWN, name)
    check(
        enabled is not None and name in enabled,
        f"ENABLE did not enable {name}, which the server announces",
        req=req,
        expected=name,
        observed=" ".join(sorted(enabled or ())),
    )


@case("imap.rfc9051.6.3.1.unknown-ignored", "imap.rfc5161.3.1.unknown-ignored", defect=srv.ENABLE_UNKNOWN_LISTED)
def test_enable_unknown_extension_ignored(imap: IMAPSessions) -> None:
    client = _enable_ready(imap)
    req = _req(imap, client, "imap.rfc9051.6.3.1.unknown-ignored", "imap.rfc5161.3.1.unknown-ignored")
    res, enabled = _enable(client, UNKNOWN)
    check(
        res.ok,
        "ENABLE of an unknown extension was refused instead of ignored",
        req=req,
        expected="OK",
        observed=str(res),
    )
    check(
        UNKNOWN not in (enabled or set()),
        "ENABLED lists an extension the server does not know",
        req=req,
        expected="no X-MAILSPEC-UNKNOWN",
        observed=" ".join(sorted(enabled or ())),
    )


@case(
    "imap.rfc9051.6.3.1.not-enableable-ignored",
    "imap.rfc5161.3.1.not-enableable-ignored",
    defect=srv.ENABLE_KNOWN_LISTED,
)
def test_enable_of_announced_extension_ignored(imap: IMAPSessions) -> None:
    client = _enable_ready(imap)
    req = _req(imap, client, "imap.rfc9051.6.3.1.not-enableable-ignored", "imap.rfc5161.3.1.not-enableable-ignored")
    caps = imap.capabilities(client)
    name = next((n for n in NOT_ENABLEABLE if n in caps), None)
    if name is None:
        unsupported(f"the server announces none of {', '.join(NOT_ENABLEABLE)}")
    res, enabled = _enable(client, name)
    check(
        res.ok and name not in (enabled or set()),
        f"ENABLE {name} (an extension that is not enabled with ENABLE) was not ignored",
        req=req,
        expected=f"OK, and no {name} in ENABLED",
        observed=f"{res}; ENABLED {' '.join(sorted(enabled or ()))}",
    )


@case("imap.rfc9051.6.3.1.enabled-only-new", "imap.rfc5161.3.1.enabled-only-new", defect=srv.ENABLE_CUMULATIVE)
def test_second_enable_lists_only_its_own(imap: IMAPSessions) -> None:
    client = _enable_ready(imap)
    req = _req(imap, client, "imap.rfc9051.6.3.1.enabled-only-new", "imap.rfc5161.3.1.enabled-only-new")
    name = _enableable(imap, client)
    _enable(client, name)
    _, enabled = _enable(client, UNKNOWN)
    check(
        name not in (enabled or set()),
        "the ENABLED response to a second ENABLE lists an extension the first one enabled",
        req=req,
        expected="* ENABLED (nothing new)",
        observed=" ".join(sorted(enabled or ())),
    )


@case(
    "imap.rfc9051.6.3.1.capability-unchanged",
    "imap.rfc5161.3.1.capability-unchanged",
    defect=srv.ENABLE_CHANGES_CAPS,
)
def test_capability_unchanged_by_enable(imap: IMAPSessions) -> None:
    client = _enable_ready(imap)
    req = _req(imap, client, "imap.rfc9051.6.3.1.capability-unchanged", "imap.rfc5161.3.1.capability-unchanged")
    name = _enableable(imap, client)
    client.capability()
    before = set(client.capabilities)
    _enable(client, name)
    client.capability()
    check(
        client.capabilities == before,
        "CAPABILITY lists other capabilities after ENABLE than before",
        req=req,
        expected=" ".join(sorted(before)),
        observed=" ".join(sorted(client.capabilities)),
    )


@case("imap.rfc5161.4.case-insensitive", defect=srv.ENABLE_CASE_SENSITIVE)
def test_enable_case_insensitive(imap: IMAPSessions) -> None:
    client = _enable_ready(imap)
    name = _enableable(imap, client)
    res, enabled = _enable(client, name.lower())
    check(
        enabled is not None and name in enabled,
        f"ENABLE {name.lower()} (lower case) did not enable {name}",
        expected=f"* ENABLED {name}",
        observed=str(res) if enabled is None else " ".join(sorted(enabled)),
    )


# --- UTF8=ACCEPT (RFC 6855 section 3) ------------------------------------------------------------


def _utf8_enabled(imap: IMAPSessions) -> IMAPClient:
    client = _enable_ready(imap)
    imap.require(client, "UTF8=ACCEPT")
    _, enabled = _enable(client, "UTF8=ACCEPT")
    if "UTF8=ACCEPT" not in (enabled or set()):
        unsupported("ENABLE UTF8=ACCEPT did not enable it")
    return client


def _create_raw(client: IMAPClient, name: bytes) -> Result:
    """CREATE with the name as a quoted string of raw octets (UTF-8 or not)."""
    tag = client.next_tag()
    client.send(tag.encode() + b' CREATE "' + name + b'"\r\n')
    return client.collect(tag)


def _delete_raw(client: IMAPClient, name: bytes) -> None:
    tag = client.next_tag()
    client.send(tag.encode() + b' DELETE "' + name + b'"\r\n')
    client.collect(tag)


@case("imap.rfc6855.3.utf8-quoted", defect=srv.UTF8_QUOTED_BAD)
def test_utf8_quoted_mailbox_name(imap: IMAPSessions) -> None:
    client = _utf8_enabled(imap)
    name = f"mailspec-\u00fcn\u00efc\u00f8d\u00e9-{uuid.uuid4().hex[:8]}".encode()
    res = _create_raw(client, name)
    if res.ok:
        _delete_raw(client, name)
    check(
        res.ok,
        "CREATE with a UTF-8 quoted mailbox name failed after ENABLE UTF8=ACCEPT",
        expected="OK",
        observed=str(res),
    )


@case("imap.rfc6855.3.invalid-utf8-bad", defect=srv.UTF8_INVALID_ACCEPTED)
def test_invalid_utf8_quoted_bad(imap: IMAPSessions) -> None:
    client = _utf8_enabled(imap)
    name = b"mailspec-\xff\xfe-" + uuid.uuid4().hex[:8].encode()
    res = _create_raw(client, name)
    if res.ok:
        _delete_raw(client, name)
    check(
        res.status == "BAD",
        "a quoted string with octets that are not UTF-8 was not rejected with BAD after ENABLE UTF8=ACCEPT",
        expected="BAD",
        observed=str(res),
    )
