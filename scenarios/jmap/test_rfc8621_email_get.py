"""RFC 8621 4.1 and 4.2: Email metadata, header field forms, body parts and values, Email/get arguments."""

import json
import unicodedata
from datetime import datetime
from typing import Any

from conformance.clients.jmap import JMAPSessions
from conformance.clients.jmap_mail import MailCase, message
from conformance.scenario import case
from conformance.servers.jmap import mail as srv
from conformance.verdict import check
from conformance.wire import jmap as wire

DEFAULT = [
    "id",
    "blobId",
    "threadId",
    "mailboxIds",
    "keywords",
    "size",
    "receivedAt",
    "messageId",
    "inReplyTo",
    "references",
    "sender",
    "from",
    "to",
    "cc",
    "bcc",
    "replyTo",
    "subject",
    "sentAt",
    "hasAttachment",
    "preview",
    "bodyValues",
    "textBody",
    "htmlBody",
    "attachments",
]

ALTERNATIVE = (
    b"--ALT\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlain version\r\n"
    b"--ALT\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>HTML version</p>\r\n--ALT--\r\n"
)
MIXED = (
    b"--MIX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attached file.\r\n"
    b"--MIX\r\nContent-Type: application/pdf; name=doc.pdf\r\nContent-Disposition: attachment; filename=doc.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcfsj6IK\r\n--MIX--\r\n"
)


def _multipart(kind: str, boundary: str, body: bytes, **kw: Any) -> bytes:
    return message(headers=[("Content-Type", f"multipart/{kind}; boundary={boundary}")], raw_body=b"\r\n" + body, **kw)


def _headers(jmap: JMAPSessions, headers: list[tuple[str, str]], props: list[str]) -> dict[str, Any]:
    m = MailCase(jmap)
    return m.get(m.email(data=message(headers=headers)), props)


def _show(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False)[:400]


# --- 4.1.1 metadata -----------------------------------------------------------------------


@case("jmap.rfc8621.4.1.1.blob-id", defect=srv.EMAIL_BLOB_BODY_ONLY)
def test_blob_is_raw_message(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    data = message()
    rec = m.import_(data, m.mailbox())
    blob = m.get(rec["id"], ["blobId"]).get("blobId")
    check(wire.is_id(blob), "the Email has no blobId", observed=repr(blob))
    resp = jmap.main.download(m.acc, str(blob), "message.eml", "message/rfc822")
    check(
        resp.status_code == 200 and resp.content == data,
        "the Email's blob is not the raw message",
        expected=f"{len(data)} octets as imported",
        observed=f"HTTP {resp.status_code}, {len(resp.content)} octets",
    )


@case("jmap.rfc8621.4.1.1.size", defect=srv.SIZE_OFF)
def test_size_is_raw_octets(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    data = message(body="Line one.\r\nLine two.\r\n")
    size = m.get(m.import_(data, m.mailbox())["id"], ["size"]).get("size")
    check(
        size == len(data),
        "size is not the number of octets of the raw message",
        expected=str(len(data)),
        observed=repr(size),
    )


@case("jmap.rfc8621.4.1.1.received-at", defect=srv.RECEIVED_AT_OFFSET)
def test_received_at_as_imported(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    when = "2021-03-04T05:06:07Z"
    got = m.get(m.email(received_at=when), ["receivedAt"]).get("receivedAt")
    check(
        wire.is_utc_date(got) and str(got).startswith(when[:19]),
        "receivedAt is not the UTCDate given at import",
        expected=when,
        observed=repr(got),
    )


@case("jmap.rfc8621.4.1.1.mailbox-ids-true", defect=srv.MAILBOX_IDS_NAMES)
def test_mailbox_ids_true(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    a, b = m.mailbox(), m.mailbox()
    got = m.get(m.import_(message(), a, b)["id"], ["mailboxIds"]).get("mailboxIds")
    check(
        got == {a: True, b: True},
        "mailboxIds is not the set of the Email's mailboxes with true values",
        expected=_show({a: True, b: True}),
        observed=_show(got),
    )


@case("jmap.rfc8621.4.1.1.mailbox-ids-true", defect=srv.MAILBOX_PATCH_ADD_ONLY)
def test_move_with_mailbox_ids_patch(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    a, b = m.mailbox(), m.mailbox()
    eid = m.email(a)
    got = m.set_email(update={eid: {f"mailboxIds/{a}": None, f"mailboxIds/{b}": True}})
    check(eid in (got.get("updated") or {}), "the mailboxIds patch was not applied", observed=_show(got))
    now = m.get(eid, ["mailboxIds"]).get("mailboxIds")
    check(
        now == {b: True},
        "after moving, mailboxIds is not just the new mailbox",
        expected=_show({b: True}),
        observed=_show(now),
    )


@case("jmap.rfc8621.4.1.1.mailboxes-at-all-times", defect=srv.EMPTY_MAILBOX_IDS_OK)
def test_mailbox_ids_never_empty(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    eid = m.email(box)
    got = m.set_email(update={eid: {"mailboxIds": {}}})
    err = (got.get("notUpdated") or {}).get(eid)
    check(
        isinstance(err, dict) and err.get("type") == "invalidProperties",
        "an update to an empty mailboxIds was not rejected",
        observed=_show(got),
    )
    check(m.get(eid, ["mailboxIds"]).get("mailboxIds") == {box: True}, "the Email left its mailbox")


@case("jmap.rfc8621.4.1.1.keywords-lowercase", defect=srv.KEYWORDS_CASE_KEPT)
def test_keywords_lowercase(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    eid = m.email(keywords={"$MailSpecCase": True, "$Flagged": True})
    got = m.get(eid, ["keywords"]).get("keywords")
    check(
        got == {"$mailspeccase": True, "$flagged": True},
        "keywords are not returned in lower case",
        expected='{"$mailspeccase": true, "$flagged": true}',
        observed=_show(got),
    )


@case("jmap.rfc8621.4.1.1.keywords-true", defect=srv.KEYWORD_VALUE_STRING)
def test_keyword_patch(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    eid = m.email(keywords={"$seen": True})
    got = m.set_email(update={eid: {"keywords/$flagged": True, "keywords/$seen": None}})
    check(eid in (got.get("updated") or {}), "the keywords patch was not applied", observed=_show(got))
    now = m.get(eid, ["keywords"]).get("keywords")
    check(
        now == {"$flagged": True},
        "keywords is not the patched set with true values",
        expected='{"$flagged": true}',
        observed=_show(now),
    )


# --- 4.1.2 header forms and 4.1.3 header properties ---------------------------------------------


@case("jmap.rfc8621.4.1.2.1.raw-form", defect=srv.RAW_STRIPPED)
def test_raw_form(jmap: JMAPSessions) -> None:
    got = _headers(jmap, [("X-Mailspec-Raw", "two  spaces\r\n folded")], ["header:X-Mailspec-Raw"])
    check(
        got.get("header:X-Mailspec-Raw") == " two  spaces\r\n folded",
        "the Raw form is not the octets after the colon up to the final CRLF",
        expected=repr(" two  spaces\r\n folded"),
        observed=repr(got.get("header:X-Mailspec-Raw")),
    )


@case("jmap.rfc8621.4.1.2.2.text-form", defect=srv.TEXT_NOT_DECODED)
def test_text_form_decodes(jmap: JMAPSessions) -> None:
    got = _headers(
        jmap, [("X-Mailspec-Text", "=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus\r\n Berlin")], ["header:X-Mailspec-Text:asText"]
    )
    check(
        got.get("header:X-Mailspec-Text:asText") == "Grüße aus Berlin",
        "the Text form is not unfolded and decoded",
        expected="Grüße aus Berlin",
        observed=_show(got.get("header:X-Mailspec-Text:asText")),
    )


@case("jmap.rfc8621.4.1.2.3.addresses-decoded", defect=srv.ADDRESS_NAME_ENCODED)
def test_address_name_decoded(jmap: JMAPSessions) -> None:
    got = _headers(
        jmap, [("Reply-To", "=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <jm@example.com>")], ["header:Reply-To:asAddresses"]
    )
    want = [{"name": "Jörg Müller", "email": "jm@example.com"}]
    check(
        got.get("header:Reply-To:asAddresses") == want,
        "an encoded display-name is not decoded",
        expected=_show(want),
        observed=_show(got.get("header:Reply-To:asAddresses")),
    )


@case("jmap.rfc8621.4.1.2.3.address-name-quoted", defect=srv.NAME_QUOTES_KEPT)
def test_address_name_quoted_string(jmap: JMAPSessions) -> None:
    got = _headers(jmap, [("Reply-To", '"Doe, \\"JD\\" John" <jd@example.com>')], ["header:Reply-To:asAddresses"])
    want = [{"name": 'Doe, "JD" John', "email": "jd@example.com"}]
    check(
        got.get("header:Reply-To:asAddresses") == want,
        "a quoted display-name keeps its DQUOTEs or quoted-pairs",
        expected=_show(want),
        observed=_show(got.get("header:Reply-To:asAddresses")),
    )


@case("jmap.rfc8621.4.1.2.4.grouped-addresses", defect=srv.GROUPS_FLATTENED)
def test_grouped_addresses(jmap: JMAPSessions) -> None:
    got = _headers(
        jmap, [("Cc", "a@example.com, Team: b@example.com, c@example.com;")], ["header:Cc:asGroupedAddresses"]
    )
    want = [
        {"name": None, "addresses": [{"name": None, "email": "a@example.com"}]},
        {
            "name": "Team",
            "addresses": [{"name": None, "email": "b@example.com"}, {"name": None, "email": "c@example.com"}],
        },
    ]
    check(
        got.get("header:Cc:asGroupedAddresses") == want,
        "GroupedAddresses does not keep the group apart from the loose mailbox",
        expected=_show(want),
        observed=_show(got.get("header:Cc:asGroupedAddresses")),
    )


@case("jmap.rfc8621.4.1.2.5.message-ids", defect=srv.MSGIDS_BRACKETS)
def test_message_ids_form(jmap: JMAPSessions) -> None:
    got = _headers(
        jmap, [("References", "<a1@example.com>\r\n (comment) <b2@example.com>")], ["header:References:asMessageIds"]
    )
    want = ["a1@example.com", "b2@example.com"]
    check(
        got.get("header:References:asMessageIds") == want,
        "MessageIds keeps CFWS or angle brackets",
        expected=_show(want),
        observed=_show(got.get("header:References:asMessageIds")),
    )


@case("jmap.rfc8621.4.1.2.6.date-form", defect=srv.DATE_NO_OFFSET)
def test_date_form(jmap: JMAPSessions) -> None:
    got = _headers(jmap, [("Resent-Date", "Tue, 1 Jul 2003 10:52:37 +0200")], ["header:Resent-Date:asDate"])
    value = got.get("header:Resent-Date:asDate")
    check(wire.is_date(value), "the Date form is not an RFC 3339 date-time", observed=repr(value))
    same = datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() == 1057049557
    check(
        same,
        "the Date form is another instant than the header field",
        expected="2003-07-01T10:52:37+02:00",
        observed=repr(value),
    )


@case("jmap.rfc8621.4.1.2.7.urls-form", defect=srv.URLS_BRACKETS)
def test_urls_form(jmap: JMAPSessions) -> None:
    got = _headers(
        jmap,
        [("List-Unsubscribe", "<mailto:leave@example.com> (by mail),\r\n <https://example.com/leave>")],
        ["header:List-Unsubscribe:asURLs"],
    )
    want = ["mailto:leave@example.com", "https://example.com/leave"]
    check(
        got.get("header:List-Unsubscribe:asURLs") == want,
        "URLs keeps angle brackets or comments",
        expected=_show(want),
        observed=_show(got.get("header:List-Unsubscribe:asURLs")),
    )


MULTI = [("X-Mailspec-Multi", "first"), ("X-Mailspec-Multi", "second"), ("X-Mailspec-Multi", "third")]


@case("jmap.rfc8621.4.1.3.all-suffix", defect=srv.ALL_REVERSED)
def test_all_suffix(jmap: JMAPSessions) -> None:
    got = _headers(jmap, MULTI, ["header:X-Mailspec-Multi:asText:all"])
    want = ["first", "second", "third"]
    check(
        got.get("header:X-Mailspec-Multi:asText:all") == want,
        ":all does not list every instance in message order",
        expected=_show(want),
        observed=_show(got.get("header:X-Mailspec-Multi:asText:all")),
    )


@case("jmap.rfc8621.4.1.3.last-instance", defect=srv.FIRST_INSTANCE)
def test_last_instance(jmap: JMAPSessions) -> None:
    got = _headers(jmap, MULTI, ["header:X-Mailspec-Multi:asText"])
    check(
        got.get("header:X-Mailspec-Multi:asText") == "third",
        "without :all the value is not the last instance",
        expected="third",
        observed=_show(got.get("header:X-Mailspec-Multi:asText")),
    )


@case("jmap.rfc8621.4.1.3.header-missing", defect=srv.MISSING_EMPTY)
def test_header_missing(jmap: JMAPSessions) -> None:
    got = _headers(jmap, [], ["header:X-Mailspec-Absent", "header:X-Mailspec-Absent:all"])
    check(
        "header:X-Mailspec-Absent" in got
        and got["header:X-Mailspec-Absent"] is None
        and got.get("header:X-Mailspec-Absent:all") == [],
        "an absent header field is not null (single) and [] (:all)",
        observed=_show(got),
    )


@case("jmap.rfc8621.4.1.3.convenience-subject", defect=srv.SUBJECT_RAW)
def test_subject_is_text_form(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    eid = m.email(data=message("=?UTF-8?B?w5xiZXJzaWNodA==?= report"))
    got = m.get(eid, ["subject", "header:Subject:asText"])
    check(
        got.get("subject") == got.get("header:Subject:asText") == "Übersicht report",
        "subject is not header:Subject:asText",
        expected="Übersicht report",
        observed=_show(got),
    )


@case("jmap.rfc8621.4.1.3.convenience-message-id", defect=srv.MESSAGE_ID_BRACKETS)
def test_message_id_convenience(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    got = m.get(m.email(), ["messageId", "header:Message-ID:asMessageIds"])
    mid = got.get("messageId")
    check(
        isinstance(mid, list) and len(mid) == 1 and mid == got.get("header:Message-ID:asMessageIds"),
        "messageId is not header:Message-ID:asMessageIds",
        observed=_show(got),
    )


@case("jmap.rfc8621.4.2.forbidden-form", defect=srv.FORBIDDEN_FORM_OK)
def test_forbidden_form(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    eid = m.email()
    reply = m.call(("Email/get", {"ids": [eid], "properties": ["header:From:asDate"]}))
    check(
        reply.error_type("c0") == "invalidArguments",
        "fetching header:From:asDate was not rejected with invalidArguments",
        observed=reply.summary(400),
    )


@case("jmap.rfc8621.4.2.header-capitalization", defect=srv.HEADER_NAME_LOWERED)
def test_header_property_capitalization(jmap: JMAPSessions) -> None:
    got = _headers(jmap, [("X-Mailspec-Case", "value")], ["header:x-MailSpec-CASE:asText"])
    check(
        got.get("header:x-MailSpec-CASE:asText") == "value",
        "the header property is not named as requested",
        expected='"header:x-MailSpec-CASE:asText": "value"',
        observed=_show(got),
    )


@case("jmap.rfc8621.4.2.default-properties", defect=srv.DEFAULT_NO_PREVIEW)
def test_default_properties(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    got = m.get(m.email(), None)
    missing = [p for p in DEFAULT if p not in got]
    extra = sorted(set(got) - set(DEFAULT))
    check(
        not missing and not extra,
        "Email/get without properties does not return the default list",
        observed=f"missing {missing}, extra {extra}",
    )


# --- 4.1.4 body parts ----------------------------------------------------------------------------


@case("jmap.rfc8621.4.1.4.part-id-null", defect=srv.MULTIPART_PART_ID)
def test_multipart_part_id_null(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    got = m.get(m.email(data=_multipart("alternative", "ALT", ALTERNATIVE)), ["bodyStructure"])
    root = got.get("bodyStructure") or {}
    kids = root.get("subParts") or []
    check(
        root.get("type") == "multipart/alternative" and root.get("partId") is None,
        "a multipart part has a partId",
        observed=_show(root),
    )
    check(
        len(kids) == 2 and all(isinstance(k.get("partId"), str) for k in kids),
        "a leaf part has no partId",
        observed=_show(kids),
    )


@case("jmap.rfc8621.4.1.4.body-lists", defect=srv.TEXT_BODY_PREFERS_HTML)
def test_text_body_prefers_plain(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    got = m.get(m.email(data=_multipart("alternative", "ALT", ALTERNATIVE)), ["textBody"])
    types = [p.get("type") for p in got.get("textBody") or []]
    check(
        types == ["text/plain"],
        "textBody does not prefer the text/plain alternative",
        expected="['text/plain']",
        observed=repr(types),
    )


@case("jmap.rfc8621.4.1.4.html-body", defect=srv.HTML_BODY_PREFERS_TEXT)
def test_html_body_prefers_html(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    got = m.get(m.email(data=_multipart("alternative", "ALT", ALTERNATIVE)), ["htmlBody"])
    types = [p.get("type") for p in got.get("htmlBody") or []]
    check(
        types == ["text/html"],
        "htmlBody does not prefer the text/html alternative",
        expected="['text/html']",
        observed=repr(types),
    )


@case("jmap.rfc8621.4.1.4.attachments", defect=srv.ATTACHMENTS_INCLUDE_BODY)
def test_attachments_list(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    got = m.get(m.email(data=_multipart("mixed", "MIX", MIXED)), ["attachments", "textBody"])
    att = [(p.get("type"), p.get("name")) for p in got.get("attachments") or []]
    check(
        att == [("application/pdf", "doc.pdf")],
        "attachments is not exactly the attached file",
        expected="[('application/pdf', 'doc.pdf')]",
        observed=repr(att),
    )


@case("jmap.rfc8621.4.1.4.has-attachment", defect=srv.HAS_ATTACHMENT_FALSE)
def test_has_attachment(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    with_file = m.get(m.email(box, _multipart("mixed", "MIX", MIXED)), ["hasAttachment"]).get("hasAttachment")
    plain = m.get(m.email(box), ["hasAttachment"]).get("hasAttachment")
    check(
        with_file is True and plain is False,
        "hasAttachment does not tell the Email with an attachment from the one without",
        expected="true / false",
        observed=f"{with_file} / {plain}",
    )


@case("jmap.rfc8621.4.1.4.body-value", defect=srv.BODY_VALUE_CRLF)
def test_body_value_lf(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    got = m.get(m.email(data=message(body="one\r\ntwo\r\n")), ["bodyValues", "textBody"], fetchTextBodyValues=True)
    part = (got.get("textBody") or [{}])[0].get("partId")
    value = ((got.get("bodyValues") or {}).get(part) or {}).get("value")
    check(
        value == "one\ntwo\n",
        "the body value does not replace CRLF with LF",
        expected=repr("one\ntwo\n"),
        observed=repr(value),
    )


@case("jmap.rfc8621.4.1.4.body-value", defect=srv.BODY_VALUE_UNDECODED)
def test_body_value_decoded(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    data = message(
        content_type="text/plain; charset=iso-8859-1",
        headers=[("Content-Transfer-Encoding", "quoted-printable")],
        body="Gr=FC=DFe=\r\n aus K=F6ln\r\n",
    )
    got = m.get(m.email(data=data), ["bodyValues", "textBody"], fetchTextBodyValues=True)
    part = (got.get("textBody") or [{}])[0].get("partId")
    value = ((got.get("bodyValues") or {}).get(part) or {}).get("value")
    check(
        value == "Grüße aus Köln\n",
        "the body value is not decoded (quoted-printable, ISO-8859-1)",
        expected=repr("Grüße aus Köln\n"),
        observed=repr(value),
    )


@case("jmap.rfc8621.4.1.4.preview-length", defect=srv.PREVIEW_LONG)
def test_preview_length(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    body = " ".join(f"word{i}" for i in range(400)) + "\r\n"
    preview = m.get(m.email(data=message(body=body)), ["preview"]).get("preview")
    check(
        isinstance(preview, str) and len(preview) <= 256,
        "preview is longer than 256 characters",
        observed=f"{len(preview) if isinstance(preview, str) else preview!r}",
    )


# --- 4.2 body values --------------------------------------------------------------------------


def _text_value(jmap: JMAPSessions, body: str, **args: Any) -> dict[str, Any] | None:
    m = MailCase(jmap)
    got = m.get(m.email(data=message(body=body)), ["bodyValues", "textBody"], **args)
    part = (got.get("textBody") or [{}])[0].get("partId")
    value = (got.get("bodyValues") or {}).get(part)
    return value if isinstance(value, dict) else None


@case("jmap.rfc8621.4.2.max-body-value-bytes", defect=srv.TRUNCATE_IGNORED)
def test_max_body_value_bytes(jmap: JMAPSessions) -> None:
    value = _text_value(jmap, "0123456789abcdefghij\r\n", fetchTextBodyValues=True, maxBodyValueBytes=10)
    text = (value or {}).get("value")
    check(
        isinstance(text, str) and len(text.encode()) <= 10,
        "the body value exceeds maxBodyValueBytes",
        expected="at most 10 octets",
        observed=repr(text),
    )


@case("jmap.rfc8621.4.2.max-body-value-bytes", defect=srv.TRUNCATED_NO_FLAG)
def test_truncated_flag(jmap: JMAPSessions) -> None:
    value = _text_value(jmap, "0123456789abcdefghij\r\n", fetchTextBodyValues=True, maxBodyValueBytes=10) or {}
    check(
        value.get("isTruncated") is True and str(value.get("value")).startswith("0123456"),
        "a truncated body value is not marked isTruncated",
        observed=_show(value),
    )


@case("jmap.rfc8621.4.2.truncate-utf8", defect=srv.TRUNCATE_MID_CODEPOINT)
def test_truncate_utf8(jmap: JMAPSessions) -> None:
    full = "ééééééé"
    value = _text_value(jmap, full + "\r\n", fetchTextBodyValues=True, maxBodyValueBytes=5) or {}
    text = value.get("value")
    ok = (
        isinstance(text, str)
        and "\ufffd" not in text
        and len(text.encode()) <= 5
        and full.startswith(unicodedata.normalize("NFC", text))
    )
    check(ok, "truncation cut a UTF-8 sequence", expected="'éé' (4 octets)", observed=repr(text))


@case("jmap.rfc8621.4.2.fetch-text-body-values", defect=srv.BODY_VALUES_IGNORE_FETCH)
def test_fetch_text_body_values(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    eid = m.email(data=_multipart("alternative", "ALT", ALTERNATIVE))
    with_values = m.get(eid, ["bodyValues", "textBody"], fetchTextBodyValues=True)
    without = m.get(eid, ["bodyValues"])
    part = (with_values.get("textBody") or [{}])[0].get("partId")
    got = (with_values.get("bodyValues") or {}).get(part) or {}
    check(
        str(got.get("value", "")).startswith("Plain version"),
        "fetchTextBodyValues did not include the textBody part",
        observed=_show(with_values.get("bodyValues")),
    )
    check(
        without.get("bodyValues") == {},
        "bodyValues holds values that were not asked for",
        expected="{}",
        observed=_show(without.get("bodyValues")),
    )
