"""RFC 8621 4.6, 4.8, 4.9 and 5: Email/set create, Email/import, Email/parse and SearchSnippet/get."""

import json
import re
from typing import Any

from conformance.clients.jmap import JMAPSessions
from conformance.clients.jmap_mail import MailCase, message, token
from conformance.scenario import case
from conformance.servers.jmap import mail as srv
from conformance.verdict import check, unsupported
from conformance.wire import jmap as wire


def _draft(box: str, **extra: Any) -> dict[str, Any]:
    """An Email/set create object: a text/plain draft."""
    return {
        "mailboxIds": {box: True},
        "from": [{"name": "Mailspec", "email": "alice@mailspec.test"}],
        "to": [{"name": None, "email": "bob@mailspec.test"}],
        "subject": f"draft {token()}",
        "bodyValues": {"b": {"value": "Draft body.\n"}},
        "textBody": [{"partId": "b", "type": "text/plain"}],
        **extra,
    }


def _created(got: dict[str, Any], key: str = "k") -> dict[str, Any] | None:
    rec = (got.get("created") or {}).get(key)
    return rec if isinstance(rec, dict) else None


def _set_error(got: dict[str, Any], key: str = "k", where: str = "notCreated") -> dict[str, Any]:
    err = (got.get(where) or {}).get(key)
    return err if isinstance(err, dict) else {}


# --- 4.6 Email/set --------------------------------------------------------------------------


@case("jmap.rfc8621.2.email-in-mailbox", defect=srv.CREATE_NO_MAILBOX_OK)
def test_create_needs_mailbox(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    got = m.set_email(create={"k": {**_draft(m.mailbox()), "mailboxIds": {}}})
    check(
        _created(got) is None and _set_error(got).get("type") == "invalidProperties",
        "an Email with no mailbox was created",
        expected="notCreated: invalidProperties",
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8621.4.6.created-properties", defect=srv.CREATED_ONLY_ID)
def test_created_properties(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    got = m.set_email(create={"k": _draft(m.mailbox())})
    rec = _created(got) or {}
    check(
        wire.is_id(rec.get("id"))
        and wire.is_id(rec.get("blobId"))
        and wire.is_id(rec.get("threadId"))
        and wire.is_unsigned_int(rec.get("size")),
        "created lacks id, blobId, threadId or size",
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8621.4.6.generate-message-id", defect=srv.NO_GENERATED_IDS)
def test_generates_message_id_and_date(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    rec = _created(m.set_email(create={"k": _draft(m.mailbox())}))
    if rec is None:
        unsupported("Email/set did not create the draft")
    got = m.get(rec["id"], ["messageId", "sentAt", "header:Date", "header:Message-ID"])
    check(
        got.get("header:Message-ID") is not None and got.get("messageId"),
        "the server set no Message-ID header field",
        observed=json.dumps(got)[:300],
    )
    check(
        got.get("header:Date") is not None and wire.is_date(got.get("sentAt")),
        "the server set no Date header field",
        observed=json.dumps(got)[:300],
    )


@case("jmap.rfc8621.4.6.create-invalid", defect=srv.CREATE_HTML_AS_TEXT)
def test_text_body_must_be_plain(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    got = m.set_email(create={"k": _draft(m.mailbox(), textBody=[{"partId": "b", "type": "text/html"}])})
    rec = _created(got)
    if rec is None:
        check(
            _set_error(got).get("type") == "invalidProperties",
            "the invalid textBody was rejected with another error",
            observed=json.dumps(got)[:300],
        )
        return
    # A server MAY repair the Email instead: then textBody must be text/plain.
    types = [p.get("type") for p in m.get(rec["id"], ["textBody"]).get("textBody") or []]
    check(
        types == ["text/plain"],
        "a text/html part given as textBody was neither rejected nor repaired",
        observed=repr(types),
    )


@case("jmap.rfc8621.4.6.blob-not-found", defect=srv.BLOB_NOT_FOUND_NO_LIST)
def test_blob_not_found(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    missing = "Gmailspecnosuchblob0000"
    got = m.set_email(
        create={
            "k": _draft(
                m.mailbox(), attachments=[{"blobId": missing, "type": "application/octet-stream", "name": "x.bin"}]
            )
        }
    )
    err = _set_error(got)
    check(
        err.get("type") == "blobNotFound" and err.get("notFound") == [missing],
        "an unknown attachment blob did not give blobNotFound with notFound",
        expected=f'{{"type": "blobNotFound", "notFound": ["{missing}"]}}',
        observed=json.dumps(got)[:400],
    )


# --- 4.8 Email/import -----------------------------------------------------------------------


def _import(m: MailCase, imp: dict[str, Any]) -> dict[str, Any]:
    got = m.must(m.call(("Email/import", {"emails": {"i": imp}})), "c0", "Email/import", "Email/import")
    rec = (got.get("created") or {}).get("i")
    if isinstance(rec, dict) and isinstance(rec.get("id"), str):
        m.jmap.track("Email", m.acc, rec["id"])
    return got


@case("jmap.rfc8621.4.8.import-created", defect=srv.IMPORT_CREATED_ONLY_ID)
def test_import_created(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    data = message()
    got = _import(m, {"blobId": m.upload(data), "mailboxIds": {m.mailbox(): True}})
    rec = (got.get("created") or {}).get("i") or {}
    check(
        wire.is_id(rec.get("id"))
        and wire.is_id(rec.get("blobId"))
        and wire.is_id(rec.get("threadId"))
        and rec.get("size") == len(data),
        "created lacks id, blobId, threadId or the size of the message",
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8621.4.8.import-mailbox-required", defect=srv.IMPORT_NO_MAILBOX_OK)
def test_import_needs_mailbox(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    got = _import(m, {"blobId": m.upload(message()), "mailboxIds": {}})
    err = _set_error(got, "i")
    check(
        not got.get("created") and err.get("type") == "invalidProperties",
        "an import with no mailbox was not rejected with invalidProperties",
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8621.4.8.import-invalid", defect=srv.IMPORT_BAD_MAILBOX_OK)
def test_import_unknown_mailbox(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    got = _import(m, {"blobId": m.upload(message()), "mailboxIds": {"Mmailspec-no-such-mailbox": True}})
    err = _set_error(got, "i")
    check(
        not got.get("created") and err.get("type") == "invalidProperties",
        "an import into an unknown mailbox was not rejected with invalidProperties",
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8621.4.8.import-invalid", defect=srv.IMPORT_MISSING_BLOB_WRONG)
def test_import_unknown_blob(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    got = _import(m, {"blobId": "Gmailspecnosuchblob0000", "mailboxIds": {m.mailbox(): True}})
    err = _set_error(got, "i")
    check(
        not got.get("created") and err.get("type") == "invalidProperties",
        "an import of an unknown blob was not rejected with invalidProperties",
        expected="invalidProperties",
        observed=json.dumps(got)[:400],
    )


def _twice(m: MailCase) -> tuple[str, dict[str, Any]]:
    box = m.mailbox()
    blob = m.upload(message())
    first = (_import(m, {"blobId": blob, "mailboxIds": {box: True}}).get("created") or {}).get("i")
    if not isinstance(first, dict):
        unsupported("the first import failed")
    return str(first["id"]), _import(m, {"blobId": blob, "mailboxIds": {box: True}})


@case("jmap.rfc8621.4.8.import-duplicate", defect=srv.IMPORT_DUPLICATE_SAME_ID)
def test_import_duplicate(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    first, got = _twice(m)
    rec = (got.get("created") or {}).get("i")
    if isinstance(rec, dict):
        check(
            rec.get("id") != first,
            "a duplicate import was reported as created with the existing Email's id",
            observed=json.dumps(got)[:400],
        )
    else:
        check(
            _set_error(got, "i").get("type") == "alreadyExists",
            "a duplicate import was rejected, but not with alreadyExists",
            observed=json.dumps(got)[:400],
        )


@case("jmap.rfc8621.4.8.import-existing-id", defect=srv.IMPORT_NO_EXISTING_ID)
def test_import_existing_id(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    first, got = _twice(m)
    err = _set_error(got, "i")
    if err.get("type") != "alreadyExists":
        unsupported("the server allows duplicates (no alreadyExists)")
    check(
        err.get("existingId") == first,
        "alreadyExists does not name the existing Email in existingId",
        expected=first,
        observed=json.dumps(err)[:300],
    )


# --- 4.9 Email/parse -------------------------------------------------------------------------


@case("jmap.rfc8621.4.9.parse-metadata-null", defect=srv.PARSE_METADATA_SET)
def test_parse_metadata_null(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    subject = f"parse {token()}"
    blob = m.upload(message(subject))
    reply = m.call(
        ("Email/parse", {"blobIds": [blob], "properties": ["id", "mailboxIds", "keywords", "receivedAt", "subject"]})
    )
    got = m.must(reply, "c0", "Email/parse", "Email/parse")
    email = (got.get("parsed") or {}).get(blob) or {}
    meta = {k: email.get(k, "absent") for k in ("id", "mailboxIds", "keywords", "receivedAt")}
    check(
        email.get("subject") == subject,
        "the parsed Email has the wrong subject",
        expected=subject,
        observed=json.dumps(got)[:300],
    )
    check(all(v is None for v in meta.values()), "metadata of a parsed Email is not null", observed=json.dumps(meta))


@case("jmap.rfc8621.4.9.parse-not-found", defect=srv.PARSE_NOT_FOUND_UNPARSABLE)
def test_parse_not_found(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    missing = "Gmailspecnosuchblob0000"
    got = m.must(m.call(("Email/parse", {"blobIds": [missing]})), "c0", "Email/parse", "Email/parse")
    check(
        got.get("notFound") == [missing],
        "an unknown blob id is not in notFound",
        expected=f'["{missing}"]',
        observed=json.dumps(got)[:300],
    )


# --- 5 SearchSnippet ---------------------------------------------------------------------------


def _snippet(jmap: JMAPSessions, data: bytes, filter_: dict[str, Any]) -> dict[str, Any]:
    m = MailCase(jmap)
    eid = m.email(data=data)
    got = m.must(
        m.call(("SearchSnippet/get", {"filter": filter_, "emailIds": [eid]})),
        "c0",
        "SearchSnippet/get",
        "SearchSnippet/get",
    )
    found = [s for s in got.get("list") or [] if isinstance(s, dict) and s.get("emailId") == eid]
    check(len(found) == 1, "SearchSnippet/get gave no snippet for the Email", observed=json.dumps(got)[:300])
    return found[0]


@case("jmap.rfc8621.5.snippet-mark", defect=srv.SNIPPET_NO_MARK)
def test_snippet_marks_match(jmap: JMAPSessions) -> None:
    word = token()
    snip = _snippet(jmap, message(f"hello {word} there"), {"subject": word})
    check(
        f"<mark>{word}</mark>" in str(snip.get("subject")),
        "the matching word is not wrapped in <mark></mark>",
        observed=json.dumps(snip),
    )


@case("jmap.rfc8621.5.snippet-escape", defect=srv.SNIPPET_NOT_ESCAPED)
def test_snippet_escapes(jmap: JMAPSessions) -> None:
    word = token()
    snip = _snippet(jmap, message(f"Tom & Jerry <friends> {word}"), {"subject": word})
    subject = str(snip.get("subject"))
    bare = re.sub(r"</?mark>", "", subject)
    check(
        "&amp;" in bare and "&lt;" in bare and "&gt;" in bare and "<friends>" not in bare,
        "& < > are not replaced by HTML entities in the snippet",
        observed=subject,
    )


@case("jmap.rfc8621.5.snippet-preview-size", defect=srv.SNIPPET_PREVIEW_LONG)
def test_snippet_preview_size(jmap: JMAPSessions) -> None:
    word = token()
    body = " ".join(["filler"] * 60) + f" {word} " + " ".join(["trailer"] * 80) + "\r\n"
    snip = _snippet(jmap, message(body=body), {"body": word})
    preview = snip.get("preview")
    if preview is None:
        unsupported("the server gave no body snippet to measure")
    check(
        len(str(preview).encode()) <= 255,
        "the snippet preview is bigger than 255 octets",
        observed=f"{len(str(preview).encode())} octets",
    )
