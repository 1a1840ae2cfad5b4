"""RFC 2971: the ID command and the server's ID response."""

from conformance.clients.imap import IMAPClient, IMAPSessions
from conformance.scenario import case
from conformance.servers.imap import auth as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire

CLIENT_ID: list[wire.Arg] = ["name", "mailspec", "version", "1"]


def _id(imap: IMAPSessions, client: IMAPClient, arg: wire.Arg) -> list[wire.Value] | None:
    """ID with ``arg``: the server's field/value list (None for NIL); the response must be there."""
    imap.require(client, "ID")
    res = client.command("ID", arg)
    check(res.ok, "ID was not completed with OK", expected="OK", observed=str(res))
    responses = res.named("ID")
    check(
        len(responses) == 1 and len(responses[0].values) == 1,
        "ID was not answered with one untagged ID response (a list or NIL)",
        expected="* ID (...) or * ID NIL",
        observed=" | ".join(u.raw.decode("utf-8", "replace").strip() for u in responses) or "none",
    )
    value = responses[0].values[0]
    check(
        value is None or isinstance(value, list),
        "the ID response is neither NIL nor a parenthesised list",
        observed=responses[0].raw.decode("utf-8", "replace").strip(),
    )
    return value if isinstance(value, list) else None


def _fields(imap: IMAPSessions) -> list[bytes]:
    client = imap.ready()
    pairs = _id(imap, client, [*CLIENT_ID])
    if pairs is None:
        unsupported("the server answers ID with NIL: no fields to check")
    check(len(pairs) % 2 == 0, "the ID response list is not field/value pairs", observed=repr(pairs)[:200])
    return [f if isinstance(f, bytes) else str(f).encode() for f in pairs[0::2]]


@case("imap.rfc2971.3.2.id-response", defect=srv.ID_NO_RESPONSE)
def test_id_nil_answered(imap: IMAPSessions) -> None:
    _id(imap, imap.login(), None)


@case("imap.rfc2971.3.2.id-response", defect=srv.ID_NO_RESPONSE)
def test_id_with_fields_answered(imap: IMAPSessions) -> None:
    _id(imap, imap.login(), [*CLIENT_ID])


@case("imap.rfc2971.3.1.any-state", defect=srv.ID_AUTH_ONLY)
def test_id_before_login(imap: IMAPSessions) -> None:
    _id(imap, imap.ready(), [*CLIENT_ID])


@case("imap.rfc2971.3.3.field-limits", defect=srv.ID_LONG_FIELD)
def test_id_field_limits(imap: IMAPSessions) -> None:
    client = imap.ready()
    pairs = _id(imap, client, None)
    if pairs is None:
        unsupported("the server answers ID with NIL: no fields to check")
    fields = [f for f in pairs[0::2] if isinstance(f, bytes)]
    values = [v for v in pairs[1::2] if isinstance(v, bytes)]
    long_fields = [f for f in fields if len(f) > 30]
    long_values = [v for v in values if len(v) > 1024]
    check(
        not long_fields and not long_values and len(pairs) // 2 <= 30,
        "the ID response breaks the limits on field names (30), values (1024) or pairs (30)",
        expected="fields <= 30 octets, values <= 1024 octets, <= 30 pairs",
        observed=f"{len(pairs) // 2} pairs; long fields {long_fields!r}; {len(long_values)} long values",
    )


@case("imap.rfc2971.3.3.no-repeated-field", defect=srv.ID_REPEATED_FIELD)
def test_id_field_names_unique(imap: IMAPSessions) -> None:
    fields = [f.lower() for f in _fields(imap)]
    repeated = sorted({f for f in fields if fields.count(f) > 1})
    check(
        not repeated,
        "the ID response sends a field name more than once",
        expected="each field once",
        observed=repr(repeated),
    )
