"""RFC 9051 7.5.2 BODY and BODYSTRUCTURE on the message corpus (fixtures/messages)."""

from conformance import corpus
from conformance.clients.imap import IMAPSessions
from conformance.scenario import case
from conformance.servers.imap import messages as srv
from conformance.verdict import check
from conformance.wire import imap as wire


def structure(imap: IMAPSessions, name: str, item: str = "BODYSTRUCTURE") -> wire.Value:
    """The raw BODY or BODYSTRUCTURE value of corpus message ``name``."""
    client = imap.login()
    imap.scratch(client, [corpus.message(name)])
    res, items = client.fetch("1", f"({item})")
    value = items.get(1, {}).get(item)
    check(res.ok and value is not None, f"FETCH {item} gave no {item}", observed=str(res))
    return value


def matches(imap: IMAPSessions, name: str, item: str = "BODYSTRUCTURE") -> None:
    value = structure(imap, name, item)
    want = corpus.EXPECTED_BODY[name]
    try:
        got = corpus.normalize_body(value)
    except ValueError as e:
        check(False, f"{item} does not follow the body grammar: {e}", observed=repr(value)[:300])
        return
    check(
        corpus.same_body(want, got),
        f"{item} of {name} does not describe its MIME structure",
        expected=corpus.show_body(want),
        observed=corpus.show_body(got),
    )


@case("imap.rfc9051.7.5.2.bodystructure", defect=srv.TEXT_LINES_WRONG)
def test_bodystructure_single_part(imap: IMAPSessions) -> None:
    matches(imap, "plain-7bit")


@case("imap.rfc9051.7.5.2.bodystructure", defect=srv.PARAMS_DROPPED)
def test_bodystructure_multipart_mixed(imap: IMAPSessions) -> None:
    matches(imap, "multipart-mixed")


@case("imap.rfc9051.7.5.2.bodystructure", defect=srv.MULTIPART_FLATTENED)
def test_bodystructure_nested_alternative(imap: IMAPSessions) -> None:
    matches(imap, "nested-alternative")


@case("imap.rfc9051.7.5.2.bodystructure", defect=srv.TEXT_LINES_WRONG)
def test_bodystructure_8bit(imap: IMAPSessions) -> None:
    matches(imap, "8bit-body")


@case("imap.rfc9051.7.5.2.bodystructure", defect=srv.NO_DEFAULT_TYPE)
def test_bodystructure_defaults_without_mime_headers(imap: IMAPSessions) -> None:
    matches(imap, "minimal-headers")


@case("imap.rfc9051.7.5.2.message-rfc822-fields", defect=srv.RFC822_PART_AS_LEAF)
def test_bodystructure_message_rfc822(imap: IMAPSessions) -> None:
    matches(imap, "rfc822-attached")


@case("imap.rfc9051.7.5.2.message-rfc822-fields", defect=srv.RFC822_PART_AS_LEAF)
def test_message_rfc822_part_envelope(imap: IMAPSessions) -> None:
    value = structure(imap, "rfc822-attached")
    part = value[1] if isinstance(value, list) and len(value) > 1 else None
    env = part[7] if isinstance(part, list) and len(part) > 9 else None
    try:
        got = corpus.normalize_envelope(env)
    except ValueError as e:
        check(False, f"the message/rfc822 part has no envelope after its basic fields: {e}", observed=repr(part)[:300])
        return
    check(
        got[1] == "original message" and got[9] == "<orig-1@example.com>",
        "the envelope of the message/rfc822 part is not the encapsulated message's",
        observed=repr(got),
    )


@case("imap.rfc9051.7.5.2.body-size-encoded", defect=srv.BODY_SIZE_DECODED)
def test_body_size_is_encoded_size(imap: IMAPSessions) -> None:
    value = structure(imap, "multipart-mixed", "BODY")
    part = value[1] if isinstance(value, list) and len(value) > 1 and isinstance(value[1], list) else []
    size = part[6] if len(part) > 6 else None
    check(
        size == "484",
        "the size of the base64 part is not its size in the transfer encoding",
        expected="484 (base64 text)",
        observed=repr(size),
    )


@case("imap.rfc9051.7.5.2.body-no-extension", defect=srv.BODY_WITH_EXTENSIONS)
def test_body_has_no_extension_data(imap: IMAPSessions) -> None:
    for name in ("multipart-mixed", "plain-7bit"):
        value = structure(imap, name, "BODY")
        extra = {path: ext for path, ext in corpus.extensions(value).items() if ext}
        check(
            not extra,
            f"FETCH BODY of {name} returned extension data",
            expected="basic fields only",
            observed=repr(extra)[:300],
        )


@case("imap.rfc9051.7.5.2.body-no-extension", defect=srv.BODY_WITH_EXTENSIONS)
def test_body_equals_bodystructure_without_extensions(imap: IMAPSessions) -> None:
    # Nested multiparts and an encapsulated message: BODY is BODYSTRUCTURE less its extension data.
    for name in ("nested-alternative", "rfc822-attached"):
        raw = structure(imap, name, "BODY")
        extra = {path: ext for path, ext in corpus.extensions(raw).items() if ext}
        check(not extra, f"FETCH BODY of {name} returned extension data", observed=repr(extra)[:300])
        body = corpus.normalize_body(raw)
        full = corpus.normalize_body(structure(imap, name, "BODYSTRUCTURE"))
        check(
            body == full,
            f"BODY and BODYSTRUCTURE of {name} differ in their basic fields",
            expected=corpus.show_body(full),
            observed=corpus.show_body(body),
        )


@case("imap.rfc9051.7.5.2.extension-order", defect=srv.EXTENSION_ORDER)
def test_bodystructure_extension_order(imap: IMAPSessions) -> None:
    ext = corpus.extensions(structure(imap, "multipart-mixed"))
    attachment = ext.get("2", [])
    # Non-multipart: body MD5, then body disposition ("attachment" ("filename" "report.bin")).
    if len(attachment) >= 2:
        disp = attachment[1]
        check(
            isinstance(disp, list) and isinstance(disp[0], bytes) and disp[0].lower() == b"attachment",
            "the second extension field of a part is not its disposition",
            expected='MD5, ("attachment" ("filename" "report.bin")), ...',
            observed=repr(attachment),
        )
    multipart = ext.get("multipart", [])
    # Multipart: body parameters first (the boundary), then the disposition.
    if multipart:
        params = multipart[0]
        check(
            isinstance(params, list) and any(isinstance(p, bytes) and p.lower() == b"boundary" for p in params),
            "the first extension field of a multipart is not its parameter list",
            expected='("boundary" "=_mailspec_mixed") ...',
            observed=repr(multipart),
        )
    check(
        len(attachment) >= 2 or not attachment,
        "the attachment's extension data stops after the MD5",
        observed=repr(attachment),
    )
