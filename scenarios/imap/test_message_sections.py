"""RFC 9051 6.4.5 / 6.4.5.1 BODY[section]<partial>, BODY.PEEK and \\Seen, and BINARY (RFC 9051, RFC 3516)."""

import base64
import re

from conformance import corpus
from conformance.clients.imap import IMAPClient, IMAPSessions, Result
from conformance.scenario import case
from conformance.servers.imap import messages as srv
from conformance.verdict import check
from conformance.wire import imap as wire

MIXED = corpus.message("multipart-mixed")
BLOB = bytes(range(256)) + b"\x00\x00mailspec\xff\xfe" * 8  # the attachment of multipart-mixed, decoded


def open_message(imap: IMAPSessions, name: str) -> IMAPClient:
    client = imap.login()
    imap.scratch(client, [corpus.message(name)])
    return client


def section(client: IMAPClient, spec: str, key: str | None = None) -> bytes:
    """The octets of ``BODY.PEEK[spec]`` for message 1 (``key``: the response item name when it differs)."""
    res, items = client.fetch("1", f"(BODY.PEEK[{spec}])")
    name = key or f"BODY[{spec.upper()}]"
    value = items.get(1, {}).get(name)
    check(
        res.ok and isinstance(value, bytes),
        f"FETCH BODY.PEEK[{spec}] returned no {name}",
        observed=f"{res}; items {sorted(items.get(1, {}))}",
    )
    assert isinstance(value, bytes)
    return value


def header_lines(header: bytes) -> list[bytes]:
    """The fields of a header block (folded lines kept with their field)."""
    return re.findall(rb"[^\r\n]+\r\n(?:[ \t][^\r\n]*\r\n)*", header.removesuffix(b"\r\n\r\n") + b"\r\n")


@case("imap.rfc9051.6.4.5.body-whole", defect=srv.APPEND_CRLF_TO_LF)
def test_body_is_the_whole_message(imap: IMAPSessions) -> None:
    for name in ("multipart-mixed", "8bit-body", "long-folded-headers"):
        client = open_message(imap, name)
        got = section(client, "")
        check(
            got == corpus.message(name),
            f"BODY[] is not the message as appended ({name})",
            expected=f"{len(corpus.message(name))} octets",
            observed=f"{len(got)} octets",
        )


@case("imap.rfc9051.6.4.5.1.header", defect=srv.HEADER_NO_BLANK_LINE)
def test_body_header(imap: IMAPSessions) -> None:
    client = open_message(imap, "multipart-mixed")
    got = section(client, "HEADER")
    want = corpus.split(MIXED)[0]
    check(got == want, "BODY[HEADER] is not the message's header", expected=repr(want[-60:]), observed=repr(got[-60:]))


@case("imap.rfc9051.6.4.5.1.header-blank-line", defect=srv.HEADER_NO_BLANK_LINE)
def test_header_fields_keep_the_blank_line(imap: IMAPSessions) -> None:
    client = open_message(imap, "plain-7bit")
    got = section(client, "HEADER.FIELDS (Subject)")
    check(
        got == b"Subject: afternoon meeting\r\n\r\n",
        "the header subset does not end with the blank line",
        expected=repr(b"Subject: afternoon meeting\r\n\r\n"),
        observed=repr(got),
    )


@case("imap.rfc9051.6.4.5.1.header-fields", defect=srv.HEADER_FIELDS_ALL)
def test_header_fields_subset(imap: IMAPSessions) -> None:
    client = open_message(imap, "multipart-mixed")
    got = section(client, "HEADER.FIELDS (From Subject)")
    want = b"From: Alice Example <alice@example.org>\r\nSubject: Report with attachment\r\n\r\n"
    check(
        got == want,
        "BODY[HEADER.FIELDS (From Subject)] is not exactly those fields",
        expected=repr(want),
        observed=repr(got),
    )


@case("imap.rfc9051.6.4.5.1.header-fields", defect=srv.HEADER_FIELDS_NOT_IGNORED)
def test_header_fields_not(imap: IMAPSessions) -> None:
    client = open_message(imap, "plain-7bit")
    got = section(client, "HEADER.FIELDS.NOT (Subject Date)")
    head = corpus.split(corpus.message("plain-7bit"))[0]
    want = b"".join(ln for ln in header_lines(head) if not ln.lower().startswith((b"subject:", b"date:"))) + b"\r\n"
    check(
        got == want,
        "BODY[HEADER.FIELDS.NOT (Subject Date)] is not the header without those fields",
        expected=repr(want),
        observed=repr(got),
    )


@case("imap.rfc9051.6.4.5.1.header-fields", defect=srv.HEADER_FIELDS_FIRST_LINE)
def test_header_fields_keep_folded_lines(imap: IMAPSessions) -> None:
    client = open_message(imap, "long-folded-headers")
    got = section(client, "HEADER.FIELDS (References)")
    head = corpus.split(corpus.message("long-folded-headers"))[0]
    want = b"".join(ln for ln in header_lines(head) if ln.lower().startswith(b"references:")) + b"\r\n"
    check(got == want, "a folded field is not returned whole by HEADER.FIELDS", expected=repr(want), observed=repr(got))


@case("imap.rfc9051.6.4.5.1.field-match-case", defect=srv.HEADER_FIELDS_CASE)
def test_header_fields_match_case_insensitively(imap: IMAPSessions) -> None:
    client = open_message(imap, "plain-7bit")
    got = section(client, "HEADER.FIELDS (sUbJeCt mESSAGE-id)")
    want = b"Subject: afternoon meeting\r\nMessage-ID: <B27397-0100000@blurdybloop.example>\r\n\r\n"
    check(got == want, "HEADER.FIELDS matching is not case-insensitive", expected=repr(want), observed=repr(got))


@case("imap.rfc9051.6.4.5.1.field-match-case", defect=srv.HEADER_FIELDS_PREFIX)
def test_header_fields_match_exactly(imap: IMAPSessions) -> None:
    client = open_message(imap, "plain-7bit")
    got = section(client, "HEADER.FIELDS (Subj Message)")
    check(
        got == b"\r\n",
        "HEADER.FIELDS matched fields whose names only begin with a listed name",
        expected=repr(b"\r\n"),
        observed=repr(got),
    )


@case("imap.rfc9051.6.4.5.1.text", defect=srv.TEXT_WITH_BLANK_LINE)
def test_body_text(imap: IMAPSessions) -> None:
    client = open_message(imap, "multipart-mixed")
    got = section(client, "TEXT")
    want = corpus.split(MIXED)[1]
    check(
        got == want,
        "BODY[TEXT] is not the message body without the header",
        expected=repr(want[:60]),
        observed=repr(got[:60]),
    )


@case("imap.rfc9051.6.4.5.1.part-one", defect=srv.PART_ONE_WHOLE)
def test_part_one_of_a_single_part_message(imap: IMAPSessions) -> None:
    client = open_message(imap, "plain-7bit")
    got = section(client, "1")
    want = corpus.split(corpus.message("plain-7bit"))[1]
    check(got == want, "BODY[1] of a non-multipart message is not its body", expected=repr(want), observed=repr(got))


@case("imap.rfc9051.6.4.5.1.part-numbers", defect=srv.PART_NUMBERS_FROM_ZERO)
def test_parts_of_a_multipart(imap: IMAPSessions) -> None:
    client = open_message(imap, "multipart-mixed")
    first = section(client, "1")
    check(
        first == b"Please find the report attached.\r\nIt has three lines.\r\nRegards, Alice",
        "BODY[1] is not the first part's content",
        observed=repr(first),
    )
    second = section(client, "2")
    check(
        base64.b64decode(second) == BLOB,
        "BODY[2] is not the second part's (base64) content",
        observed=repr(second[:60]),
    )


@case("imap.rfc9051.6.4.5.1.nested-parts", defect=srv.MULTIPART_FLATTENED)
def test_parts_of_a_nested_multipart(imap: IMAPSessions) -> None:
    client = open_message(imap, "nested-alternative")
    checks = {
        "1.1": b"Plain version: caf=C3=A9 and cr=C3=A8me.",
        "1.2": b"<html><body><p>HTML version</p></body></html>",
        "2": b"a,b,c\r\n1,2,3",
    }
    for spec, want in checks.items():
        got = section(client, spec)
        check(
            got == want,
            f"BODY[{spec}] of mixed(alternative(plain, html), csv) is not that part",
            expected=repr(want),
            observed=repr(got),
        )


@case("imap.rfc9051.6.4.5.1.message-parts", defect=srv.RFC822_PART_AS_LEAF)
def test_parts_of_an_encapsulated_message(imap: IMAPSessions) -> None:
    client = open_message(imap, "rfc822-attached")
    got = section(client, "2.1")
    check(
        got == b"Original text part.",
        "BODY[2.1] is not the first part of the attached message",
        expected=repr(b"Original text part."),
        observed=repr(got),
    )
    got = section(client, "2.2")
    check(
        got == b"bWFpbHNwZWMgbmVzdGVkIGF0dGFjaG1lbnQ=",
        "BODY[2.2] is not the second part of the attached message",
        observed=repr(got),
    )


@case("imap.rfc9051.6.4.5.1.header", defect=srv.RFC822_PART_AS_LEAF)
def test_header_of_an_encapsulated_message(imap: IMAPSessions) -> None:
    client = open_message(imap, "rfc822-attached")
    got = section(client, "2.HEADER")
    check(
        got.startswith(b"Date: Wed, 15 Jul 2020 09:00:00 +0000\r\n")
        and got.endswith(b'boundary="orig-boundary"\r\n\r\n'),
        "BODY[2.HEADER] is not the header of the attached message",
        observed=repr(got[:80]) + " ... " + repr(got[-40:]),
    )


@case("imap.rfc9051.6.4.5.1.mime-header", defect=srv.MIME_WITHOUT_BLANK_LINE)
def test_mime_header_of_a_part(imap: IMAPSessions) -> None:
    client = open_message(imap, "multipart-mixed")
    got = section(client, "2.MIME")
    want = (
        b'Content-Type: application/octet-stream; name="report.bin"\r\nContent-Transfer-Encoding: base64\r\n'
        b'Content-Disposition: attachment; filename="report.bin"\r\nContent-ID: <report-bin@example.org>\r\n'
        b"Content-Description: Binary report\r\n\r\n"
    )
    check(
        got == want, "BODY[2.MIME] is not the part's MIME header", expected=repr(want[-50:]), observed=repr(got[-50:])
    )


def partial(client: IMAPClient, spec: str) -> tuple[Result, dict[str, wire.Value]]:
    res, items = client.fetch("1", f"(BODY.PEEK[]{spec})")
    return res, items.get(1, {})


@case("imap.rfc9051.6.4.5.partial-truncated", defect=srv.PARTIAL_IGNORED)
def test_partial_from_zero(imap: IMAPSessions) -> None:
    client = open_message(imap, "plain-7bit")
    _res, got = partial(client, "<0.10>")
    check(
        got.get("BODY[]<0>") == corpus.message("plain-7bit")[:10],
        "BODY[]<0.10> did not return the first 10 octets as BODY[]<0>",
        expected=repr(corpus.message("plain-7bit")[:10]),
        observed=repr(got),
    )


@case("imap.rfc9051.6.4.5.partial-truncated", defect=srv.PARTIAL_ORIGIN_DROPPED)
def test_partial_beyond_end_is_truncated(imap: IMAPSessions) -> None:
    client = open_message(imap, "plain-7bit")
    _res, got = partial(client, "<0.100000>")
    check(
        got.get("BODY[]<0>") == corpus.message("plain-7bit"),
        "a partial fetch past the end is not the truncated text under BODY[]<0>",
        expected="BODY[]<0> {325}",
        observed=repr(sorted(got)),
    )


@case("imap.rfc9051.6.4.5.partial-truncated", defect=srv.PARTIAL_OFF_BY_ONE)
def test_partial_in_the_middle(imap: IMAPSessions) -> None:
    client = open_message(imap, "plain-7bit")
    _res, got = partial(client, "<5.10>")
    check(
        got.get("BODY[]<5>") == corpus.message("plain-7bit")[5:15],
        "BODY[]<5.10> is not octets 5 to 14",
        expected=repr(corpus.message("plain-7bit")[5:15]),
        observed=repr(got),
    )


@case("imap.rfc9051.6.4.5.partial-past-end", defect=srv.PARTIAL_PAST_END_NIL)
def test_partial_origin_past_the_end(imap: IMAPSessions) -> None:
    client = open_message(imap, "plain-7bit")
    res, got = partial(client, "<100000.10>")
    check(
        res.ok and got.get("BODY[]<100000>") == b"",
        "a partial fetch starting past the end did not return an empty string",
        expected='BODY[]<100000> ""',
        observed=f"{res}; {got!r}",
    )


@case("imap.rfc9051.7.5.2.origin-only-when-asked", defect=srv.ORIGIN_ALWAYS)
def test_no_origin_without_partial(imap: IMAPSessions) -> None:
    client = open_message(imap, "plain-7bit")
    _res, items = client.fetch("1", "(BODY.PEEK[] BODY.PEEK[TEXT])")
    keys = sorted(items.get(1, {}))
    check(
        "BODY[]" in keys and "BODY[TEXT]" in keys and not any("<" in k for k in keys),
        "a FETCH response has an origin octet nobody asked for",
        expected="BODY[] and BODY[TEXT]",
        observed=str(keys),
    )


def flags(client: IMAPClient) -> set[str]:
    _, items = client.fetch("1", "(FLAGS)")
    return corpus.flag_set(items.get(1, {}).get("FLAGS"))


@case("imap.rfc9051.6.4.5.sets-seen", defect=srv.BODY_NO_SEEN)
def test_body_sets_seen(imap: IMAPSessions) -> None:
    client = open_message(imap, "plain-7bit")
    res, _ = client.fetch("1", "(BODY[TEXT])")
    check(res.ok, "FETCH BODY[TEXT] failed", observed=str(res))
    check(
        "\\Seen" in flags(client),
        "FETCH BODY[TEXT] did not set \\Seen",
        expected="\\Seen set",
        observed=str(sorted(flags(client))),
    )


@case("imap.rfc9051.6.4.5.sets-seen", defect=srv.BODY_NO_SEEN)
def test_body_part_sets_seen(imap: IMAPSessions) -> None:
    client = open_message(imap, "multipart-mixed")
    client.fetch("1", "(BODY[1])")
    check("\\Seen" in flags(client), "FETCH BODY[1] did not set \\Seen", observed=str(sorted(flags(client))))


@case("imap.rfc9051.6.4.5.seen-reported", defect=srv.SEEN_NOT_REPORTED)
def test_body_reports_the_new_seen_flag(imap: IMAPSessions) -> None:
    client = open_message(imap, "plain-7bit")
    _res, items = client.fetch("1", "(BODY[])")
    got = items.get(1, {})
    check(
        "FLAGS" in got and "\\Seen" in corpus.flag_set(got["FLAGS"]),
        "the FETCH responses do not include the flags \\Seen changed",
        expected="FLAGS (\\Seen) with BODY[]",
        observed=str(sorted(got)),
    )


@case("imap.rfc9051.6.4.5.peek", defect=srv.PEEK_SETS_SEEN)
def test_peek_does_not_set_seen(imap: IMAPSessions) -> None:
    client = open_message(imap, "plain-7bit")
    client.fetch("1", "(BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[1])")
    check(
        "\\Seen" not in flags(client), "BODY.PEEK set \\Seen", expected="no \\Seen", observed=str(sorted(flags(client)))
    )


def binary(imap: IMAPSessions, name: str) -> IMAPClient:
    client = imap.login()
    if imap.profile(client) != "imap4rev2":
        imap.require(client, "BINARY")
    imap.scratch(client, [corpus.message(name)])
    return client


def binary_item(client: IMAPClient, item: str, key: str) -> tuple[Result, wire.Value]:
    res, items = client.fetch("1", f"({item})")
    return res, items.get(1, {}).get(key)


@case("imap.rfc9051.6.4.5.binary-decodes", defect=srv.BINARY_NOT_DECODED)
def test_binary_decodes_base64(imap: IMAPSessions) -> None:
    client = binary(imap, "multipart-mixed")
    res, got = binary_item(client, "BINARY.PEEK[2]", "BINARY[2]")
    check(
        res.ok and got == BLOB,
        "BINARY[2] is not the decoded base64 attachment",
        expected=f"{len(BLOB)} decoded octets",
        observed=f"{res}; {len(got) if isinstance(got, bytes) else got!r} octets",
    )


@case("imap.rfc9051.6.4.5.binary-decodes", defect=srv.BINARY_NOT_DECODED)
def test_binary_decodes_quoted_printable(imap: IMAPSessions) -> None:
    client = binary(imap, "nested-alternative")
    res, got = binary_item(client, "BINARY.PEEK[1.1]", "BINARY[1.1]")
    want = "Plain version: café and crème.".encode()
    check(
        res.ok and got == want,
        "BINARY[1.1] is not the decoded quoted-printable text",
        expected=repr(want),
        observed=repr(got),
    )


@case("imap.rfc9051.6.4.5.binary-partial", defect=srv.BINARY_PARTIAL_ENCODED)
def test_binary_partial_counts_decoded_octets(imap: IMAPSessions) -> None:
    client = binary(imap, "multipart-mixed")
    res, got = binary_item(client, "BINARY.PEEK[2]<4.16>", "BINARY[2]<4>")
    check(
        res.ok and got == BLOB[4:20],
        "BINARY[2]<4.16> is not decoded octets 4 to 19",
        expected=repr(BLOB[4:20]),
        observed=repr(got),
    )


@case("imap.rfc9051.7.5.2.binary-size", defect=srv.BINARY_SIZE_ENCODED)
def test_binary_size_matches_binary(imap: IMAPSessions) -> None:
    client = binary(imap, "multipart-mixed")
    res, got = binary_item(client, "BINARY.SIZE[2]", "BINARY.SIZE[2]")
    check(
        res.ok and got == str(len(BLOB)),
        "BINARY.SIZE[2] is not the size BINARY[2] returns",
        expected=str(len(BLOB)),
        observed=f"{res}; {got!r}",
    )


def unknown_cte(res: Result) -> bool:
    return res.status == "NO" and res.tagged.code is not None and res.tagged.code.name == "UNKNOWN-CTE"


@case("imap.rfc9051.7.5.2.unknown-cte", defect=srv.UNKNOWN_CTE_RAW)
def test_binary_of_unknown_encoding_fails(imap: IMAPSessions) -> None:
    client = binary(imap, "unknown-cte")
    res, _got = binary_item(client, "BINARY.PEEK[2]", "BINARY[2]")
    check(
        unknown_cte(res),
        "BINARY of a part in an unknown transfer encoding did not fail with NO [UNKNOWN-CTE]",
        expected="NO [UNKNOWN-CTE]",
        observed=str(res),
    )


@case("imap.rfc9051.7.5.2.unknown-cte", defect=srv.UNKNOWN_CTE_RAW)
def test_binary_size_of_unknown_encoding_fails(imap: IMAPSessions) -> None:
    client = binary(imap, "unknown-cte")
    res, _got = binary_item(client, "BINARY.SIZE[2]", "BINARY.SIZE[2]")
    check(
        unknown_cte(res),
        "BINARY.SIZE of a part in an unknown transfer encoding did not fail with NO [UNKNOWN-CTE]",
        expected="NO [UNKNOWN-CTE]",
        observed=str(res),
    )
