"""JMAP Mail (RFC 8621) for the embedded reference server, on the shared MailStore.

An Email is a message's content: every copy of the same octets in any mailbox
of the account is one Email (its id and blobId are digests of the octets, as
Cyrus derives them from the message GUID), so IMAP COPY shows as a second
mailbox in mailboxIds. Keywords are the IMAP flags ($seen is \\Seen ...), so a
change on either side shows on the other; messages flagged \\Deleted are
invisible. Threads join messages by their first References / In-Reply-To
message id. EmailSubmission "sends" by delivering into the store for local
recipients (and records the rest). Structure comes from the IMAP server's MIME
parser (``servers/imap/mime.py``); header forms are decoded here.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import html
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import SMTP
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ...wire import jmap as wire
from ..behaviours import Behaviour, behaviour
from ..imap import mime
from .core import MAIL, Call, DataType, MethodError, SetError, digest, new_id
from .mailbox import COUNTS, MailboxType

if TYPE_CHECKING:
    from .core import JMAPCore

SUBMISSION = "urn:ietf:params:jmap:submission"
VACATION = "urn:ietf:params:jmap:vacationresponse"


def _b(name: str, description: str) -> Behaviour:
    return behaviour("jmap", name, description)


# Seeded defects. One line each: what the server does wrong.
MAIL_CAP_INCOMPLETE = _b("mail-cap-incomplete", "leaves emailQuerySortOptions out of the mail account capability")
MAIL_CAP_ZERO = _b("mail-cap-zero-mailboxes", "gives maxMailboxesPerEmail as 0")
MAIL_CAP_SMALL_NAME = _b("mail-cap-small-name", "gives maxSizeMailboxName as 50")
SUBMISSION_CAP_EMPTY = _b("submission-cap-empty", "gives an empty submission account capability")
VACATION_CAP_MISSING = _b("vacation-cap-missing", "leaves vacationresponse out of accountCapabilities")
MAILBOX_EMPTY_NAME_OK = _b("mailbox-empty-name-ok", "creates mailboxes with an empty name")
MAILBOX_DUPLICATE_OK = _b("mailbox-duplicate-ok", "reports a duplicate sibling name as created (the existing mailbox)")
MAILBOX_LOOP_OK = _b("mailbox-loop-ok", "reports a move under its own child as done (and does nothing)")
ROLE_DUPLICATE_OK = _b("role-duplicate-ok", "gives a second mailbox a role another mailbox has")
ROLE_UPPERCASE = _b("role-uppercase", "spells roles in upper case (INBOX)")
SORT_ORDER_UNCHECKED = _b("sort-order-unchecked", "accepts a sortOrder of 2^31 or more")
TOTAL_EMAILS_OFF = _b("total-emails-off", "counts one Email too many in totalEmails")
UNREAD_COUNTS_DRAFTS = _b("unread-counts-drafts", "counts $draft Emails as unread")
THREADS_ARE_EMAILS = _b("threads-are-emails", "counts Emails, not Threads, in totalThreads")
RIGHTS_MISSING = _b("rights-missing", "leaves maySubmit out of myRights")
SUBSCRIBED_DEFAULT_FALSE = _b("subscribed-default-false", "creates mailboxes unsubscribed by default")
UPDATED_PROPERTIES_ALWAYS = _b(
    "updated-properties-always", "lists only the counts in updatedProperties whatever changed"
)
NAME_FILTER_EXACT = _b("name-filter-exact", "matches the Mailbox name filter only on the whole name")
HAS_CHILD_FORBIDDEN = _b("has-child-forbidden", "rejects destroying a parent with forbidden, not mailboxHasChild")
HAS_EMAIL_DESTROYS = _b("has-email-destroys", "destroys a mailbox with Emails without onDestroyRemoveEmails")
REMOVE_EMAILS_EVERYWHERE = _b(
    "remove-emails-everywhere", "onDestroyRemoveEmails destroys the Emails in other mailboxes too"
)
THREAD_GET_EMPTY = _b("thread-get-empty", "returns Threads with no emailIds")
THREAD_UNSORTED = _b("thread-unsorted", "sorts Thread emailIds newest first")
EMAIL_BLOB_BODY_ONLY = _b("email-blob-body-only", "serves only the body for an Email's blobId")
SIZE_OFF = _b("size-off", "reports Email sizes one octet short")
RECEIVED_AT_OFFSET = _b("received-at-offset", "writes receivedAt with +00:00, not Z")
MAILBOX_IDS_NAMES = _b("mailbox-ids-names", "gives mailboxIds values as the mailbox names")
EMPTY_MAILBOX_IDS_OK = _b("empty-mailbox-ids-ok", "accepts an update to an empty mailboxIds (the Email vanishes)")
KEYWORDS_CASE_KEPT = _b("keywords-case-kept", "returns keywords in the case they were set")
KEYWORD_VALUE_STRING = _b("keyword-value-string", 'gives keyword values as "true" strings')
MAILBOX_PATCH_ADD_ONLY = _b("mailbox-patch-add-only", "ignores removals in mailboxIds patches")
CREATE_NO_MAILBOX_OK = _b("create-no-mailbox-ok", "creates Emails with an empty mailboxIds (in INBOX)")
RAW_STRIPPED = _b("raw-stripped", "strips white space from Raw header values")
TEXT_NOT_DECODED = _b("text-not-decoded", "does not decode encoded-words in the Text form")
ADDRESS_NAME_ENCODED = _b("address-name-encoded", "leaves encoded-words in address names")
NAME_QUOTES_KEPT = _b("name-quotes-kept", "keeps the DQUOTEs and quoted-pairs of display names")
GROUPS_FLATTENED = _b("groups-flattened", "puts every address in one unnamed group")
MSGIDS_BRACKETS = _b("msgids-brackets", "keeps the angle brackets in the MessageIds form")
DATE_NO_OFFSET = _b("date-no-offset", "writes the Date form without a time zone offset")
URLS_BRACKETS = _b("urls-brackets", "keeps the angle brackets in the URLs form")
ALL_REVERSED = _b("all-reversed", "lists :all header instances last first")
FIRST_INSTANCE = _b("first-instance", "gives the first instance of a repeated header field, not the last")
MISSING_EMPTY = _b("missing-empty", 'gives an absent header field as "" (and :all as [""])')
SUBJECT_RAW = _b("subject-raw", "gives the subject property in Raw form")
MESSAGE_ID_BRACKETS = _b("message-id-brackets", "keeps the angle brackets in the messageId property")
FORBIDDEN_FORM_OK = _b("forbidden-form-ok", "answers forbidden header forms (header:From:asDate) with null")
HEADER_NAME_LOWERED = _b("header-name-lowered", "returns header properties in lower case")
DEFAULT_NO_PREVIEW = _b("default-no-preview", "leaves preview out of the default Email properties")
MULTIPART_PART_ID = _b("multipart-part-id", "gives multipart parts a partId")
TEXT_BODY_PREFERS_HTML = _b("text-body-prefers-html", "puts the text/html alternative in textBody")
HTML_BODY_PREFERS_TEXT = _b("html-body-prefers-text", "puts the text/plain alternative in htmlBody")
ATTACHMENTS_INCLUDE_BODY = _b("attachments-include-body", "lists the text body among the attachments")
BODY_VALUE_CRLF = _b("body-value-crlf", "keeps CRLF line ends in body values")
BODY_VALUE_UNDECODED = _b("body-value-undecoded", "does not decode quoted-printable in body values")
HAS_ATTACHMENT_FALSE = _b("has-attachment-false", "says hasAttachment false for every Email")
PREVIEW_LONG = _b("preview-long", "makes previews of up to 300 characters")
TRUNCATE_IGNORED = _b("truncate-ignored", "ignores maxBodyValueBytes")
TRUNCATED_NO_FLAG = _b("truncated-no-flag", "truncates body values but says isTruncated false")
TRUNCATE_MID_CODEPOINT = _b("truncate-mid-codepoint", "truncates in the middle of a UTF-8 sequence (U+FFFD)")
BODY_VALUES_IGNORE_FETCH = _b("body-values-ignore-fetch", "returns no bodyValues whatever fetchTextBodyValues says")
IN_MAILBOX_IGNORED = _b("in-mailbox-ignored", "ignores the inMailbox filter")
OTHER_THAN_AS_NOT_IN = _b("other-than-as-not-in", "treats inMailboxOtherThan as 'in none of'")
BEFORE_INCLUSIVE = _b("before-inclusive", "matches before on the same date-time too")
MAX_SIZE_INCLUSIVE = _b("max-size-inclusive", "matches maxSize on equal sizes too")
NOT_KEYWORD_IGNORED = _b("not-keyword-ignored", "ignores the notKeyword filter")
HAS_ATTACHMENT_FILTER_INVERTED = _b("has-attachment-filter-inverted", "inverts the hasAttachment filter")
TEXT_BODY_ONLY = _b("text-body-only", "looks for text only in the body")
FROM_FILTER_TO = _b("from-filter-to", "looks for the from filter in the To header field")
SUBJECT_FILTER_BODY = _b("subject-filter-body", "looks for the subject filter in the body")
HEADER_FILTER_NAME_ONLY = _b("header-filter-name-only", "ignores the value of a header filter")
TEXT_CASE_SENSITIVE = _b("text-case-sensitive", "matches text filters case-sensitively")
RECEIVED_AT_SORT_REVERSED = _b("received-at-sort-reversed", "sorts receivedAt the wrong way round")
HAS_KEYWORD_SORT_INVERTED = _b("has-keyword-sort-inverted", "sorts hasKeyword as if the keyword were absent")
SIZE_SORT_REVERSED = _b("size-sort-reversed", "sorts size comparators the wrong way round")
COLLAPSE_IGNORED = _b("collapse-ignored", "ignores collapseThreads")
NO_GENERATED_IDS = _b("no-generated-ids", "creates Emails without Message-ID and Date")
CREATED_ONLY_ID = _b("created-only-id", "returns only the id of created Emails")
CREATE_HTML_AS_TEXT = _b("create-html-as-text", "accepts a text/html part in textBody as it is")
BLOB_NOT_FOUND_NO_LIST = _b("blob-not-found-no-list", "leaves notFound out of blobNotFound SetErrors")
IMPORT_NO_MAILBOX_OK = _b("import-no-mailbox-ok", "imports Emails with an empty mailboxIds (into INBOX)")
IMPORT_BAD_MAILBOX_OK = _b("import-bad-mailbox-ok", "imports into INBOX when a mailbox id is unknown")
IMPORT_MISSING_BLOB_WRONG = _b("import-missing-blob-wrong", "rejects an unknown blobId with blobNotFound")
IMPORT_DUPLICATE_SAME_ID = _b("import-duplicate-same-id", "reports a duplicate import as created, with the existing id")
IMPORT_NO_EXISTING_ID = _b("import-no-existing-id", "leaves existingId out of alreadyExists")
IMPORT_CREATED_ONLY_ID = _b("import-created-only-id", "returns only the id of imported Emails")
PARSE_METADATA_SET = _b("parse-metadata-set", "fills id and receivedAt of parsed Emails")
PARSE_NOT_FOUND_UNPARSABLE = _b("parse-not-found-unparsable", "lists unknown blobs in notParsable")
SNIPPET_NO_MARK = _b("snippet-no-mark", "does not mark the matches in snippets")
SNIPPET_NOT_ESCAPED = _b("snippet-not-escaped", "does not escape & < > in snippets")
SNIPPET_PREVIEW_LONG = _b("snippet-preview-long", "makes snippet previews of up to 400 octets")
IDENTITY_NO_EMAIL = _b("identity-no-email", "leaves email out of Identity objects")
IDENTITY_ANY_FROM = _b("identity-any-from", "creates Identities for any address")
ENVELOPE_NO_BCC = _b("envelope-no-bcc", "leaves Bcc addresses out of the generated envelope")
UNDO_STATUS_SENT = _b("undo-status-sent", 'sets undoStatus to "sent"')
SEND_AT_EPOCH = _b("send-at-epoch", "sets sendAt to 1970-01-01T00:00:00Z")
IMPLICIT_SET_SKIPPED = _b("implicit-set-skipped", "ignores onSuccessUpdateEmail")
IMPLICIT_BEFORE = _b("implicit-before", "returns the implicit Email/set before EmailSubmission/set")
BCC_KEPT = _b("bcc-kept", "delivers submitted messages with their Bcc header field")
NO_RECIPIENTS_OK = _b("no-recipients-ok", "accepts submissions with no recipients")
INVALID_RECIPIENTS_NO_LIST = _b("invalid-recipients-no-list", "leaves invalidRecipients out of the SetError")
VACATION_TWO = _b("vacation-two", "returns two VacationResponse objects")
VACATION_ID_WRONG = _b("vacation-id-wrong", 'calls the VacationResponse "vacation"')

# --- keywords and flags -----------------------------------------------------------------

FLAG_OF = {"$seen": "\\Seen", "$flagged": "\\Flagged", "$answered": "\\Answered", "$draft": "\\Draft"}
KEYWORD_OF = {v.lower(): k for k, v in FLAG_OF.items()}
_KEYWORD = re.compile(r"^[\x21-\x7e]{1,255}$")
_KEYWORD_BAD = set('(){]%*"\\')
ROLES = ("all", "archive", "drafts", "flagged", "important", "junk", "sent", "trash")


def keywords_of(flags: set[str], keep_case: bool = False) -> dict[str, bool]:
    out = {}
    for f in flags:
        low = f.lower()
        if low in KEYWORD_OF:
            out[KEYWORD_OF[low]] = True
        elif not low.startswith("\\"):
            out[f if keep_case else low] = True
    return out


def flags_of(keywords: dict[str, Any]) -> set[str]:
    return {FLAG_OF.get(k.lower(), k) for k in keywords}


def valid_keywords(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and _KEYWORD.match(k) and not (set(k) & _KEYWORD_BAD) and v is True for k, v in value.items()
    )


def utc(ts: float, b: Any = ()) -> str:
    text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
    return text[:-1] + "+00:00" if RECEIVED_AT_OFFSET in b else text


def parse_utc(value: Any) -> float | None:
    if not wire.is_utc_date(value):
        return None
    return dt.datetime.strptime(str(value)[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC).timestamp()


# --- header forms (4.1.2) ---------------------------------------------------------------

FORMS = ("Raw", "Text", "Addresses", "GroupedAddresses", "MessageIds", "Date", "URLs")
_HEADER_PROP = re.compile(r"^header:([\x21-\x39\x3b-\x7e]+?)(?::as(" + "|".join(FORMS) + r"))?(:all)?$")
_ALLOWED = {
    "Text": {"subject", "comments", "keywords", "list-id"},
    "Addresses": {"from", "sender", "reply-to", "to", "cc", "bcc"}
    | {f"resent-{x}" for x in ("from", "sender", "reply-to", "to", "cc", "bcc")},
    "MessageIds": {"message-id", "in-reply-to", "references", "resent-message-id"},
    "Date": {"date", "resent-date"},
    "URLs": {f"list-{x}" for x in ("help", "unsubscribe", "subscribe", "post", "owner", "archive")},
}
_ALLOWED["GroupedAddresses"] = _ALLOWED["Addresses"]
# Fields RFC 5322 and RFC 2369 define: only the forms listed for them (any form for other fields).
_DEFINED = set().union(*_ALLOWED.values()) - {"list-id"} | {"return-path", "received"}


def header_prop(prop: str) -> tuple[str, str, bool] | None:
    """``header:Name:asForm:all`` -> (Name, Form, all); None when it is not a header property."""
    m = _HEADER_PROP.match(prop)
    return (m.group(1), m.group(2) or "Raw", bool(m.group(3))) if m else None


def form_allowed(name: str, form: str) -> bool:
    low = name.lower()
    return form == "Raw" or low not in _DEFINED or low in _ALLOWED[form]


def decode_words(text: str) -> str:
    try:
        return str(make_header(decode_header(text)))
    except (LookupError, UnicodeError, ValueError):
        return text


def as_text(raw: str, b: Any = ()) -> str:
    text = raw.replace("\r\n", "").lstrip(" ")
    if TEXT_NOT_DECODED not in b:
        text = decode_words(text)
    return unicodedata.normalize("NFC", text.strip())


def _address(a: mime.Address, b: Any) -> dict[str, Any]:
    phrase, _, local, domain = a
    name = phrase
    if name is not None and ADDRESS_NAME_ENCODED not in b:
        name = decode_words(name)
    if name is not None and NAME_QUOTES_KEPT in b:
        name = f'"{name}"'
    return {"name": name or None, "email": f"{local}@{domain}" if domain else (local or "")}


def as_grouped(raw: str, b: Any = ()) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    group: dict[str, Any] | None = None  # the named group being read
    loose: dict[str, Any] | None = None  # the unnamed run of mailboxes being read
    for a in mime.addresses(raw.replace("\r\n", ""), groups=True):
        if a[0] is None and a[1] is None and a[3] is None:  # mime's group markers: start (name) or end
            group = {"name": decode_words(a[2]), "addresses": []} if a[2] is not None else None
            if group is not None:
                groups.append(group)
            loose = None
            continue
        if group is None and loose is None:
            loose = {"name": None, "addresses": []}
            groups.append(loose)
        (group or loose or {"addresses": []})["addresses"].append(_address(a, b))
    if GROUPS_FLATTENED in b:
        return [{"name": None, "addresses": [x for g in groups for x in g["addresses"]]}]
    return groups


def as_addresses(raw: str, b: Any = ()) -> list[dict[str, Any]]:
    return [x for g in as_grouped(raw, b) for x in g["addresses"]]


def as_message_ids(raw: str, b: Any = ()) -> list[str] | None:
    ids = re.findall(r"<([^<>\s]+)>", raw)
    if not ids:
        return None
    return [f"<{i}>" for i in ids] if MSGIDS_BRACKETS in b else ids


def as_date(raw: str, b: Any = ()) -> str | None:
    try:
        when = email.utils.parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        return None
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if DATE_NO_OFFSET in b:
        return text
    off = when.utcoffset()
    if off is None or not off:
        return text + "Z"
    mins = int(off.total_seconds() // 60)
    return f"{text}{'+' if mins >= 0 else '-'}{abs(mins) // 60:02d}:{abs(mins) % 60:02d}"


def as_urls(raw: str, b: Any = ()) -> list[str] | None:
    urls = re.findall(r"<([^<>]*)>", re.sub(r"\([^)]*\)", "", raw))
    if not urls:
        return None
    return [f"<{u.strip()}>" for u in urls] if URLS_BRACKETS in b else [u.strip() for u in urls]


def as_raw(raw: str, b: Any = ()) -> str:
    return raw.strip() if RAW_STRIPPED in b else raw


CONVERT: dict[str, Callable[[str, Any], Any]] = {
    "Raw": as_raw,
    "Text": as_text,
    "Addresses": as_addresses,
    "GroupedAddresses": as_grouped,
    "MessageIds": as_message_ids,
    "Date": as_date,
    "URLs": as_urls,
}


def raw_fields(header: bytes) -> list[tuple[str, str]]:
    """(name as written, raw value: after the colon, CRLF of folds kept, the final CRLF gone)."""
    out = []
    for _, line in mime.header_lines(header):
        if b":" not in line:
            continue
        name, _, value = line.partition(b":")
        out.append((name.decode("ascii", "replace").strip(), value[:-2].decode("utf-8", "replace").replace("\0", "")))
    return out


def header_value(fields: list[tuple[str, str]], name: str, form: str, all_: bool, b: Any) -> Any:
    values = [CONVERT[form](v, b) for n, v in fields if n.lower() == name.lower()]
    if all_:
        if not values and MISSING_EMPTY in b:
            return [""]
        return values[::-1] if ALL_REVERSED in b else values
    if not values:
        return "" if MISSING_EMPTY in b else None
    return values[0] if FIRST_INSTANCE in b else values[-1]


# --- body structure (4.1.4) ----------------------------------------------------------------


@dataclass
class BodyPart:
    part: mime.Part
    part_id: str | None
    children: list[BodyPart] = field(default_factory=list)

    @property
    def type(self) -> str:
        return f"{self.part.mtype}/{self.part.subtype}"

    @property
    def params(self) -> dict[str, str]:
        return dict(self.part.params)

    @property
    def disposition(self) -> str | None:
        d = mime.disposition(self.part)
        return d[0] if d else None

    @property
    def name(self) -> str | None:
        d = mime.disposition(self.part)
        name = (dict(d[1]).get("filename") if d else None) or self.params.get("name")
        return decode_words(name) if name else None

    def decoded(self) -> bytes:
        try:
            return mime.decode(self.part)
        except Exception:  # an unknown transfer encoding: as it is (4.1.4)
            return self.part.body

    def text(self) -> tuple[str, bool]:
        """The decoded text and whether decoding had a problem."""
        charset = self.params.get("charset", "us-ascii")
        data = self.decoded()
        try:
            return data.decode(charset), False
        except LookupError:
            return data.decode("utf-8", "replace"), True
        except UnicodeDecodeError:
            return data.decode(charset, "replace"), True


def _tree(part: mime.Part, counter: list[int]) -> BodyPart:
    if part.multipart:
        node = BodyPart(part, None)
        node.children = [_tree(c, counter) for c in part.children]
        return node
    counter[0] += 1
    return BodyPart(part, str(counter[0]))


def _inline_media(t: str) -> bool:
    return t.split("/")[0] in ("image", "audio", "video")


def _structure(
    parts: list[BodyPart],
    multi: str,
    in_alt: bool,
    html_body: list[BodyPart] | None,
    text_body: list[BodyPart] | None,
    attachments: list[BodyPart],
) -> None:
    """RFC 8621 4.1.4's parseStructure, as written there."""
    text_len = len(text_body) if text_body is not None else -1
    html_len = len(html_body) if html_body is not None else -1
    for i, p in enumerate(parts):
        t = p.type
        inline = (
            p.disposition != "attachment"
            and (t in ("text/plain", "text/html") or _inline_media(t))
            and (i == 0 or (multi != "related" and (_inline_media(t) or not p.name)))
        )
        if p.part.multipart:
            sub = p.part.subtype
            _structure(p.children, sub, in_alt or sub == "alternative", html_body, text_body, attachments)
        elif inline:
            if multi == "alternative":
                if t == "text/plain" and text_body is not None:
                    text_body.append(p)
                elif t == "text/html" and html_body is not None:
                    html_body.append(p)
                else:
                    attachments.append(p)
                continue
            if in_alt:
                if t == "text/plain":
                    html_body = None
                if t == "text/html":
                    text_body = None
            if text_body is not None:
                text_body.append(p)
            if html_body is not None:
                html_body.append(p)
            if (text_body is None or html_body is None) and _inline_media(t):
                attachments.append(p)
        else:
            attachments.append(p)
    if multi == "alternative" and text_body is not None and html_body is not None:
        if text_len == len(text_body) and html_len != len(html_body):
            text_body.extend(html_body[html_len:])
        if html_len == len(html_body) and text_len != len(text_body):
            html_body.extend(text_body[text_len:])


def _strip_html(text: str) -> str:
    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", " ", text)
    return html.unescape(re.sub(r"<[^>]*>", " ", text))


class Parsed:
    """Everything JMAP derives from a message's octets (immutable, so cached by content)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.id = "E" + hashlib.sha1(data).hexdigest()[:24]
        self.blob_id = "B" + hashlib.sha1(data).hexdigest()
        root = mime.parse(data)
        self.fields = raw_fields(root.header)
        self.root = _tree(root, [0])
        self.text_body: list[BodyPart] = []
        self.html_body: list[BodyPart] = []
        self.attachments: list[BodyPart] = []
        _structure([self.root], "mixed", False, self.html_body, self.text_body, self.attachments)
        self.has_attachment = any(p.disposition != "inline" for p in self.attachments)
        ids = as_message_ids(self.last("References") or "") or as_message_ids(self.last("In-Reply-To") or "")
        own = as_message_ids(self.last("Message-ID") or "")
        root_id = ids[0] if ids else (own[0] if own else self.id)
        self.thread_id = "T" + hashlib.sha1(root_id.encode()).hexdigest()[:20]
        self.body_text = " ".join(self.part_text(p) for p in self.leaves() if p.part.mtype == "text")

    def last(self, name: str) -> str | None:
        values = [v for n, v in self.fields if n.lower() == name.lower()]
        return values[-1] if values else None

    def leaves(self) -> list[BodyPart]:
        out: list[BodyPart] = []

        def walk(p: BodyPart) -> None:
            if p.part.multipart:
                for c in p.children:
                    walk(c)
            else:
                out.append(p)

        walk(self.root)
        return out

    @staticmethod
    def part_text(p: BodyPart) -> str:
        text = p.text()[0]
        return _strip_html(text) if p.type == "text/html" else text

    def header_text(self, name: str) -> str:
        return " ".join(as_text(v) for n, v in self.fields if n.lower() == name.lower())

    def address_text(self, name: str) -> str:
        out = []
        for n, v in self.fields:
            if n.lower() == name.lower():
                out += [f"{a['name'] or ''} {a['email']}" for a in as_addresses(v)]
        return " ".join(out) + " " + self.header_text(name)

    def preview(self, limit: int = 256) -> str:
        for p in self.text_body:
            if p.part.mtype == "text":
                return " ".join(self.part_text(p).split())[:limit]
        return ""


@lru_cache(maxsize=2048)
def parsed(data: bytes) -> Parsed:
    return Parsed(data)


def base_subject(subject: str) -> str:
    s = subject.strip()
    while True:
        m = re.match(r"(?i)^(?:re|fwd?|aw|sv)\s*(?:\[\d+\])?\s*:\s*", s)
        if not m:
            return s.casefold()
        s = s[m.end() :]


# --- the account's Emails -------------------------------------------------------------------


@dataclass
class Meta:
    """One Email: its octets and where its copies are."""

    p: Parsed
    copies: list[tuple[str, int]] = field(default_factory=list)  # (store mailbox name, uid)
    mailbox_ids: dict[str, str] = field(default_factory=dict)  # mailbox id -> store name
    flags: set[str] = field(default_factory=set)
    received: float = 0.0


def mailbox_id(uidvalidity: int) -> str:
    return f"M{uidvalidity}"


class Mail:
    """The state JMAP Mail keeps beside the store (per embedded server) and its helpers."""

    def __init__(self, core: JMAPCore) -> None:
        self.core = core
        self.b = core.cfg.behaviours
        self.lock = threading.Lock()
        self.blob_data: dict[str, bytes] = {}
        self.identities: dict[str, dict[str, dict[str, Any]]] = {}
        self.submissions: dict[str, dict[str, dict[str, Any]]] = {}
        self.vacation: dict[str, dict[str, Any]] = {}
        core.blobs.resolvers.append(self.resolve_blob)

    def resolve_blob(self, user: str, blob_id: str) -> bytes | None:
        with self.lock:
            data = self.blob_data.get(blob_id)
        if data is not None and blob_id.startswith("B") and EMAIL_BLOB_BODY_ONLY in self.b:
            return mime.split_header(data)[1]
        return data

    def remember_blob(self, blob_id: str, data: bytes) -> None:
        with self.lock:
            self.blob_data[blob_id] = data

    def index(self, call: Call) -> dict[str, Meta]:
        """Every visible Email of the account (copies flagged \\Deleted are not)."""
        store, user = call.store, call.user
        out: dict[str, Meta] = {}
        with store.lock:
            for name in store.mailbox_names(user):
                box = store.mailbox(user, name)
                if box is None:
                    continue
                for m in box.messages:
                    if any(f.lower() == "\\deleted" for f in m.flags):
                        continue
                    p = parsed(m.data)
                    meta = out.get(p.id)
                    if meta is None:
                        meta = out[p.id] = Meta(p, received=m.internaldate)
                    meta.copies.append((name, m.uid))
                    meta.mailbox_ids[mailbox_id(box.uidvalidity)] = name
                    meta.flags |= m.flags
                    meta.received = min(meta.received, m.internaldate)
        for meta in out.values():
            self.remember_blob(meta.p.blob_id, meta.p.data)
        return out

    def cached_index(self, call: Call) -> dict[str, Meta]:
        """The index for the length of one /query (match and sort ask for it per record)."""
        cache: dict[str, Meta] | None = call.__dict__.get("_mail_index")
        if cache is None:
            cache = call.__dict__["_mail_index"] = self.index(call)
        return cache

    def mailbox_names(self, call: Call) -> dict[str, str]:
        out = {}
        for n in call.store.mailbox_names(call.user):
            box = call.store.mailbox(call.user, n)
            if box is not None:
                out[mailbox_id(box.uidvalidity)] = n
        return out


# --- Mailbox -------------------------------------------------------------------------------


class FullMailboxType(MailboxType):
    """RFC 8621 section 2 on top of the minimal type: roles, counts by Email and Thread, rights."""

    def __init__(self, mail: Mail) -> None:
        super().__init__()
        self.mail = mail
        self._shape: dict[str, str] = {}  # digest of a record -> digest of it without the counts

    def records(self, call: Call) -> dict[str, dict[str, Any]]:
        b = call.behaviours
        with call.store.lock:
            out = super().records(call)
            index = self.mail.index(call)
            boxes = {
                mailbox_id(bx.uidvalidity): bx
                for n in call.store.mailbox_names(call.user)
                if (bx := call.store.mailbox(call.user, n))
            }
        threads: dict[str, list[Meta]] = {}
        for meta in index.values():
            threads.setdefault(meta.p.thread_id, []).append(meta)

        def unread(m: Meta) -> bool:
            kw = keywords_of(m.flags)
            return "$seen" not in kw and ("$draft" not in kw or UNREAD_COUNTS_DRAFTS in b)

        for rid, rec in out.items():
            mine = [m for m in index.values() if rid in m.mailbox_ids]
            tids = {m.p.thread_id for m in mine}
            rec["totalEmails"] = len(mine) + (1 if TOTAL_EMAILS_OFF in b else 0)
            rec["unreadEmails"] = sum(1 for m in mine if unread(m))
            rec["totalThreads"] = len(mine) if THREADS_ARE_EMAILS in b else len(tids)
            rec["unreadThreads"] = sum(1 for t in tids if any(unread(m) for m in threads[t]))
            box = boxes.get(rid)
            if box is not None and box.special_use:
                rec["role"] = box.special_use.lstrip("\\").lower()
            if rec["role"] and ROLE_UPPERCASE in b:
                rec["role"] = rec["role"].upper()
            if RIGHTS_MISSING in b:
                rec["myRights"].pop("maySubmit", None)
            self._shape[digest(rec)] = digest({k: v for k, v in rec.items() if k not in COUNTS})
        return out

    def _check_simple(self, obj: dict[str, Any]) -> None:
        role = obj.pop("role", None)
        super()._check_simple(obj)
        if role is not None:
            obj["role"] = role
            if role not in ROLES:
                raise SetError(
                    "invalidProperties", f"role {role!r} is not one this server assigns", properties=["role"]
                )

    def _role_free(self, call: Call, role: Any, rid: str | None = None) -> None:
        if role is None or ROLE_DUPLICATE_OK in call.behaviours:
            return
        if any(r["role"] == role and r["id"] != rid for r in self.records(call).values()):
            raise SetError("invalidProperties", f"another mailbox has the role {role}", properties=["role"])

    def _set_role(self, call: Call, rid: str, role: Any) -> None:
        name = self._store_name(call, rid)
        box = call.store.mailbox(call.user, name)
        if box is not None:
            box.special_use = f"\\{role.capitalize()}" if role else ""

    def create(self, call: Call, obj: dict[str, Any]) -> dict[str, Any]:
        b = call.behaviours
        if MAILBOX_EMPTY_NAME_OK in b and obj.get("name") == "":
            obj = {**obj, "name": f"mailspec-unnamed-{new_id('')}"}
        if MAILBOX_DUPLICATE_OK in b:
            for r in self.records(call).values():
                if r["name"] == obj.get("name") and r["parentId"] == obj.get("parentId"):
                    return {"id": r["id"]}
        if (
            "sortOrder" in obj
            and SORT_ORDER_UNCHECKED not in b
            and not (isinstance(obj["sortOrder"], int) and 0 <= obj["sortOrder"] < 2**31)
        ):
            raise SetError("invalidProperties", "sortOrder must be in 0 .. 2^31-1", properties=["sortOrder"])
        role = obj.get("role")
        self._check_simple(dict(obj))
        self._role_free(call, role)
        default = {} if SUBSCRIBED_DEFAULT_FALSE in b else {"isSubscribed": True}
        given = {k: v for k, v in obj.items() if k != "role"}
        out = super().create(call, {**default, **given})
        if role is not None:
            self._set_role(call, out["id"], role)
        out.pop("role", None)
        if "isSubscribed" not in obj:
            out["isSubscribed"] = default.get("isSubscribed", False)
        return out

    def update(self, call: Call, record_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
        b = call.behaviours
        if MAILBOX_LOOP_OK in b and new.get("parentId") != old.get("parentId"):
            records = self.records(call)
            p = new.get("parentId")
            while p is not None:
                if p == record_id:
                    return None
                p = records.get(p, {}).get("parentId")
        so = new.get("sortOrder")
        if (
            so != old.get("sortOrder")
            and SORT_ORDER_UNCHECKED not in b
            and not (isinstance(so, int) and 0 <= so < 2**31)
        ):
            raise SetError("invalidProperties", "sortOrder must be in 0 .. 2^31-1", properties=["sortOrder"])
        role = new.get("role")
        if role != old.get("role"):
            if role is not None and role not in ROLES:
                raise SetError("invalidProperties", f"role {role!r} cannot be set", properties=["role"])
            self._role_free(call, role, record_id)
        out = super().update(call, record_id, {**old, "role": None}, {**new, "role": None})
        if role != old.get("role"):
            self._set_role(call, record_id, role)
        return out

    def destroy(self, call: Call, record_id: str, old: dict[str, Any]) -> None:
        b = call.behaviours
        records = self.records(call)
        if any(r["parentId"] == record_id for r in records.values()) and HAS_CHILD_FORBIDDEN in b:
            raise SetError("forbidden", "the mailbox has child mailboxes")
        remove = bool(call.args.get("onDestroyRemoveEmails"))
        if remove and REMOVE_EMAILS_EVERYWHERE in b:
            index = self.mail.index(call)
            for meta in index.values():
                if record_id in meta.mailbox_ids:
                    EmailType.remove_copies(call, meta, set(meta.mailbox_ids))
        if HAS_EMAIL_DESTROYS in b:
            call.args["onDestroyRemoveEmails"] = True
        super().destroy(call, record_id, old)

    def match(self, call: Call, record: dict[str, Any], condition: dict[str, Any]) -> bool:
        if NAME_FILTER_EXACT in call.behaviours and "name" in condition:
            if record["name"] != condition["name"]:
                return False
            condition = {k: v for k, v in condition.items() if k != "name"}
        return super().match(call, record, condition)

    def changes_extra(self, call: Call, old: dict[str, str], new: dict[str, str]) -> dict[str, Any]:
        updated = [i for i in new if i in old and old[i] != new[i]]
        if not updated:
            return {"updatedProperties": None}
        counts_only = all(
            self._shape.get(old[i]) is not None and self._shape.get(old[i]) == self._shape.get(new[i]) for i in updated
        )
        if counts_only or UPDATED_PROPERTIES_ALWAYS in call.behaviours:
            return {"updatedProperties": list(COUNTS)}
        return {"updatedProperties": None}


# --- Thread --------------------------------------------------------------------------------


class ThreadType(DataType):
    name = "Thread"
    capability = MAIL
    properties = frozenset({"id", "emailIds"})
    server_set = properties
    methods = frozenset({"get", "changes"})

    def __init__(self, mail: Mail) -> None:
        self.mail = mail

    def records(self, call: Call) -> dict[str, dict[str, Any]]:
        threads: dict[str, list[Meta]] = {}
        for meta in self.mail.index(call).values():
            threads.setdefault(meta.p.thread_id, []).append(meta)
        out = {}
        for tid, metas in threads.items():
            metas.sort(key=lambda m: (m.received, m.p.id), reverse=THREAD_UNSORTED in call.behaviours)
            ids = [] if THREAD_GET_EMPTY in call.behaviours else [m.p.id for m in metas]
            out[tid] = {"id": tid, "emailIds": ids}
        return out


# --- Email ---------------------------------------------------------------------------------

META_PROPS = ("id", "blobId", "threadId", "mailboxIds", "keywords", "size", "receivedAt")
CONVENIENCE = {
    "messageId": ("Message-ID", "MessageIds"),
    "inReplyTo": ("In-Reply-To", "MessageIds"),
    "references": ("References", "MessageIds"),
    "sender": ("Sender", "Addresses"),
    "from": ("From", "Addresses"),
    "to": ("To", "Addresses"),
    "cc": ("Cc", "Addresses"),
    "bcc": ("Bcc", "Addresses"),
    "replyTo": ("Reply-To", "Addresses"),
    "subject": ("Subject", "Text"),
    "sentAt": ("Date", "Date"),
}
BODY_PROPS = ("bodyStructure", "bodyValues", "textBody", "htmlBody", "attachments", "hasAttachment", "preview")
EMAIL_PROPS = frozenset({*META_PROPS, *CONVENIENCE, *BODY_PROPS, "headers"})
DEFAULT_PROPS = [
    *META_PROPS,
    *CONVENIENCE,
    "hasAttachment",
    "preview",
    "bodyValues",
    "textBody",
    "htmlBody",
    "attachments",
]
PART_PROPS = frozenset(
    {
        "partId",
        "blobId",
        "size",
        "headers",
        "name",
        "type",
        "charset",
        "disposition",
        "cid",
        "language",
        "location",
        "subParts",
    }
)
DEFAULT_PART_PROPS = [
    "partId",
    "blobId",
    "size",
    "name",
    "type",
    "charset",
    "disposition",
    "cid",
    "language",
    "location",
]
FILTERS = frozenset(
    {
        "inMailbox",
        "inMailboxOtherThan",
        "before",
        "after",
        "minSize",
        "maxSize",
        "allInThreadHaveKeyword",
        "someInThreadHaveKeyword",
        "noneInThreadHaveKeyword",
        "hasKeyword",
        "notKeyword",
        "hasAttachment",
        "text",
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "body",
        "header",
    }
)
SORTS = wire.EMAIL_SORTS


@dataclass(frozen=True)
class Fetch:
    """How Email/get and Email/parse render bodies."""

    body_props: tuple[str, ...] = tuple(DEFAULT_PART_PROPS)
    text: bool = False
    html: bool = False
    all: bool = False
    max_bytes: int = 0


def _tokens(text: str) -> list[str]:
    return [t.strip("\"'") for t in text.split() if t.strip("\"'")]


def _contains(haystack: str, needle: str, b: Any) -> bool:
    if TEXT_CASE_SENSITIVE in b:
        return all(t in haystack for t in _tokens(needle))
    low = haystack.casefold()
    return all(t.casefold() in low for t in _tokens(needle))


class EmailType(DataType):
    name = "Email"
    capability = MAIL
    properties = EMAIL_PROPS
    server_set = frozenset({"id", "blobId", "threadId", "size", "hasAttachment", "preview"})
    filters = FILTERS
    sorts = frozenset(SORTS)
    extra_args = {"query": frozenset({"collapseThreads"}), "queryChanges": frozenset({"collapseThreads"})}  # noqa: RUF012

    def __init__(self, mail: Mail) -> None:
        self.mail = mail

    # records are the metadata only: the state changes with them (the content is immutable)
    def record(self, meta: Meta, b: Any) -> dict[str, Any]:
        p = meta.p
        names = MAILBOX_IDS_NAMES in b
        return {
            "id": p.id,
            "blobId": p.blob_id,
            "threadId": p.thread_id,
            "mailboxIds": {k: (v if names else True) for k, v in meta.mailbox_ids.items()},
            "keywords": {
                k: ("true" if KEYWORD_VALUE_STRING in b else True)
                for k in keywords_of(meta.flags, KEYWORDS_CASE_KEPT in b)
            },
            "size": len(p.data) - (1 if SIZE_OFF in b else 0),
            "receivedAt": utc(meta.received, b),
        }

    def records(self, call: Call) -> dict[str, dict[str, Any]]:
        return {i: self.record(m, call.behaviours) for i, m in self.mail.index(call).items()}

    # --- rendering ---

    def part_json(self, p: BodyPart, f: Fetch, b: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        multipart = p.part.multipart
        data = b"" if multipart else p.decoded()
        for prop in f.body_props:
            if prop == "partId":
                out[prop] = (p.part_id or "0") if MULTIPART_PART_ID in b and multipart else p.part_id
            elif prop == "blobId":
                if multipart:
                    out[prop] = None
                else:
                    blob = "P" + hashlib.sha1(data).hexdigest()
                    self.mail.remember_blob(blob, data)
                    out[prop] = blob
            elif prop == "size":
                out[prop] = len(data)
            elif prop == "headers":
                out[prop] = [{"name": n, "value": v} for n, v in raw_fields(p.part.header)]
            elif prop == "name":
                out[prop] = p.name
            elif prop == "type":
                out[prop] = p.type
            elif prop == "charset":
                out[prop] = p.params.get("charset", "us-ascii") if p.part.mtype == "text" else None
            elif prop == "disposition":
                out[prop] = p.disposition
            elif prop == "cid":
                cid = p.part.field("Content-ID")
                out[prop] = cid.strip().strip("<>") if cid else None
            elif prop == "language":
                lang = p.part.field("Content-Language")
                out[prop] = [x.strip() for x in lang.split(",")] if lang else None
            elif prop == "location":
                out[prop] = p.part.field("Content-Location")
        if multipart:
            out["subParts"] = [self.part_json(c, f, b) for c in p.children]
        elif "subParts" in f.body_props:
            out["subParts"] = None
        return out

    def body_value(self, p: BodyPart, f: Fetch, b: Any) -> dict[str, Any]:
        text, problem = p.text()
        if BODY_VALUE_UNDECODED in b:
            text = p.part.body.decode("utf-8", "replace")
        if BODY_VALUE_CRLF not in b:
            text = text.replace("\r\n", "\n")
        truncated = False
        raw = text.encode()
        if f.max_bytes and len(raw) > f.max_bytes and TRUNCATE_IGNORED not in b:
            cut = raw[: f.max_bytes]
            text = cut.decode("utf-8", "replace" if TRUNCATE_MID_CODEPOINT in b else "ignore")
            truncated = TRUNCATED_NO_FLAG not in b
        return {"value": text, "isEncodingProblem": problem, "isTruncated": truncated}

    def render(self, meta: Meta | None, p: Parsed, props: list[str], f: Fetch, b: Any) -> dict[str, Any]:
        """One Email object with ``props`` (metadata null when ``meta`` is None: Email/parse)."""
        rec = self.record(meta, b) if meta is not None else {}
        out: dict[str, Any] = {}
        text_body, html_body = p.text_body, p.html_body
        if TEXT_BODY_PREFERS_HTML in b:
            text_body = [x for x in p.html_body] or text_body
        if HTML_BODY_PREFERS_TEXT in b:
            html_body = [x for x in p.text_body] or html_body
        attachments = list(p.attachments) + (list(p.text_body) if ATTACHMENTS_INCLUDE_BODY in b else [])
        for prop in props:
            hp = header_prop(prop)
            if hp is not None:
                name, form, all_ = hp
                key = prop.lower() if HEADER_NAME_LOWERED in b else prop
                out[key] = header_value(p.fields, name, form, all_, b)
            elif prop in META_PROPS:
                out[prop] = rec.get(prop)
                if meta is None and prop == "threadId":
                    out[prop] = None
                if meta is None and PARSE_METADATA_SET in b and prop in ("id", "receivedAt"):
                    out[prop] = p.id if prop == "id" else utc(time.time())
            elif prop in CONVENIENCE:
                name, form = CONVENIENCE[prop]
                if prop == "subject" and SUBJECT_RAW in b:
                    form = "Raw"
                value = header_value(p.fields, name, form, False, b)
                if prop == "messageId" and MESSAGE_ID_BRACKETS in b and value:
                    value = [f"<{v}>" for v in value]
                out[prop] = value
            elif prop == "headers":
                out[prop] = [{"name": n, "value": v} for n, v in p.fields]
            elif prop == "bodyStructure":
                out[prop] = self.part_json(p.root, f, b)
            elif prop == "textBody":
                out[prop] = [self.part_json(x, f, b) for x in text_body]
            elif prop == "htmlBody":
                out[prop] = [self.part_json(x, f, b) for x in html_body]
            elif prop == "attachments":
                out[prop] = [self.part_json(x, f, b) for x in attachments]
            elif prop == "hasAttachment":
                out[prop] = p.has_attachment and HAS_ATTACHMENT_FALSE not in b
            elif prop == "preview":
                out[prop] = p.preview(300 if PREVIEW_LONG in b else 256)
            elif prop == "bodyValues":
                wanted: list[BodyPart] = []
                if BODY_VALUES_IGNORE_FETCH not in b:
                    if f.text or f.all:
                        wanted += text_body
                    if f.html or f.all:
                        wanted += html_body
                    if f.all:
                        wanted += p.leaves()
                out[prop] = {
                    x.part_id: self.body_value(x, f, b) for x in wanted if x.part.mtype == "text" and x.part_id
                }
        return out

    @staticmethod
    def check_props(props: Any, default: list[str], b: Any) -> list[str]:
        if props is None:
            return [p for p in default if not (DEFAULT_NO_PREVIEW in b and p == "preview")]
        if not isinstance(props, list) or not all(isinstance(p, str) for p in props):
            raise MethodError("invalidArguments", "properties is not a String[]")
        for p in props:
            hp = header_prop(p)
            if hp is None and p not in EMAIL_PROPS:
                raise MethodError("invalidArguments", f"unknown property {p}")
            if hp is not None and not form_allowed(hp[0], hp[1]) and FORBIDDEN_FORM_OK not in b:
                raise MethodError("invalidArguments", f"{p}: the {hp[1]} form is not allowed for {hp[0]}")
        return list(dict.fromkeys(props))

    @staticmethod
    def fetch_args(call: Call) -> Fetch:
        a = call.args
        body_props = a.get("bodyProperties")
        if body_props is None:
            body_props = DEFAULT_PART_PROPS
        if not isinstance(body_props, list) or not all(isinstance(x, str) and x in PART_PROPS for x in body_props):
            raise MethodError("invalidArguments", "bodyProperties names unknown EmailBodyPart properties")
        flags = {}
        for k in ("fetchTextBodyValues", "fetchHTMLBodyValues", "fetchAllBodyValues"):
            v = a.get(k, False)
            if not isinstance(v, bool):
                raise MethodError("invalidArguments", f"{k} is not a Boolean")
            flags[k] = v
        mx = a.get("maxBodyValueBytes", 0)
        if not wire.is_unsigned_int(mx):
            raise MethodError("invalidArguments", "maxBodyValueBytes is not an UnsignedInt")
        return Fetch(
            tuple(body_props),
            flags["fetchTextBodyValues"],
            flags["fetchHTMLBodyValues"],
            flags["fetchAllBodyValues"],
            mx,
        )

    # --- /query ---

    def match(self, call: Call, record: dict[str, Any], condition: dict[str, Any]) -> bool:
        b = call.behaviours
        index = self.mail.cached_index(call)
        meta = index[record["id"]]
        p = meta.p
        kws = keywords_of(meta.flags)
        received = meta.received
        for key, v in condition.items():
            if key == "inMailbox":
                if IN_MAILBOX_IGNORED not in b and v not in meta.mailbox_ids:
                    return False
            elif key == "inMailboxOtherThan":
                if not isinstance(v, list):
                    raise MethodError("invalidArguments", "inMailboxOtherThan is not an Id[]")
                if OTHER_THAN_AS_NOT_IN in b:
                    if any(m in meta.mailbox_ids for m in v):
                        return False
                elif not any(m not in v for m in meta.mailbox_ids):
                    return False
            elif key in ("before", "after"):
                when = parse_utc(v)
                if when is None:
                    raise MethodError("invalidArguments", f"{key} is not a UTCDate")
                if key == "before" and not (received < when or (BEFORE_INCLUSIVE in b and int(received) == int(when))):
                    return False
                if key == "after" and not int(received) >= int(when):
                    return False
            elif key in ("minSize", "maxSize"):
                if not wire.is_unsigned_int(v):
                    raise MethodError("invalidArguments", f"{key} is not an UnsignedInt")
                size = len(p.data)
                if key == "minSize" and size < v:
                    return False
                if key == "maxSize" and not (size < v or (MAX_SIZE_INCLUSIVE in b and size == v)):
                    return False
            elif key in ("hasKeyword", "notKeyword"):
                if not isinstance(v, str):
                    raise MethodError("invalidArguments", f"{key} is not a String")
                has = v.lower() in kws
                if key == "hasKeyword" and not has:
                    return False
                if key == "notKeyword" and has and NOT_KEYWORD_IGNORED not in b:
                    return False
            elif key in ("allInThreadHaveKeyword", "someInThreadHaveKeyword", "noneInThreadHaveKeyword"):
                peers = [m for m in index.values() if m.p.thread_id == p.thread_id]
                have = [str(v).lower() in keywords_of(m.flags) for m in peers]
                ok = all(have) if key.startswith("all") else any(have) if key.startswith("some") else not any(have)
                if not ok:
                    return False
            elif key == "hasAttachment":
                has = p.has_attachment != (HAS_ATTACHMENT_FILTER_INVERTED in b)
                if has != v:
                    return False
            elif key == "header":
                if not (isinstance(v, list) and 1 <= len(v) <= 2 and all(isinstance(x, str) for x in v)):
                    raise MethodError("invalidArguments", "header must be [name] or [name, value]")
                values = [as_text(val) for n, val in p.fields if n.lower() == v[0].lower()]
                if not values:
                    return False
                if len(v) == 2 and HEADER_FILTER_NAME_ONLY not in b and not any(_contains(x, v[1], b) for x in values):
                    return False
            elif key in ("text", "from", "to", "cc", "bcc", "subject", "body"):
                if not isinstance(v, str):
                    raise MethodError("invalidArguments", f"{key} is not a String")
                if not _contains(self.search_text(p, key, b), v, b):
                    return False
        return True

    @staticmethod
    def search_text(p: Parsed, key: str, b: Any) -> str:
        if key == "text":
            if TEXT_BODY_ONLY in b:
                return p.body_text
            heads = " ".join(p.address_text(h) for h in ("From", "To", "Cc", "Bcc"))
            return f"{heads} {p.header_text('Subject')} {p.body_text}"
        if key == "body" or (key == "subject" and SUBJECT_FILTER_BODY in b):
            return p.body_text
        if key == "subject":
            return p.header_text("Subject")
        if key == "from" and FROM_FILTER_TO in b:
            return p.address_text("To")
        return p.address_text(key.capitalize())

    def sort_key(self, call: Call, record: dict[str, Any], comparator: dict[str, Any]) -> Any:
        prop = str(comparator["property"])
        b = call.behaviours
        index = self.mail.cached_index(call)
        meta = index[record["id"]]
        if prop == "receivedAt":
            return -meta.received if RECEIVED_AT_SORT_REVERSED in b else meta.received
        if prop == "size":
            return -len(meta.p.data) if SIZE_SORT_REVERSED in b else len(meta.p.data)
        if prop in ("from", "to"):
            addrs = header_value(meta.p.fields, prop.capitalize(), "Addresses", False, ()) or []
            first = addrs[0] if addrs else {}
            return str(first.get("name") or first.get("email") or "").casefold()
        if prop == "subject":
            return base_subject(as_text(meta.p.last("Subject") or ""))
        if prop == "sentAt":
            when = as_date(meta.p.last("Date") or "")
            try:
                return email.utils.parsedate_to_datetime(meta.p.last("Date") or "").timestamp() if when else 0.0
            except (TypeError, ValueError):
                return 0.0
        keyword = comparator.get("keyword")
        if not isinstance(keyword, str):
            raise MethodError("invalidArguments", f"a {prop} Comparator needs a keyword")
        kw = keyword.lower()
        if prop == "hasKeyword":
            return (kw in keywords_of(meta.flags)) != (HAS_KEYWORD_SORT_INVERTED in b)
        peers = [kw in keywords_of(m.flags) for m in index.values() if m.p.thread_id == meta.p.thread_id]
        return all(peers) if prop == "allInThreadHaveKeyword" else any(peers)

    def refine(self, call: Call, ids: list[str]) -> list[str]:
        collapse = call.args.get("collapseThreads", False)
        if not isinstance(collapse, bool):
            raise MethodError("invalidArguments", "collapseThreads is not a Boolean")
        if not collapse or COLLAPSE_IGNORED in call.behaviours:
            return ids
        index = self.mail.cached_index(call)
        seen: set[str] = set()
        out = []
        for i in ids:
            t = index[i].p.thread_id
            if t not in seen:
                seen.add(t)
                out.append(i)
        return out

    # --- /set ---

    def check_mailboxes(self, call: Call, value: Any) -> dict[str, str]:
        """Mailbox ids (#creation ids resolved) -> store names; SetError unless valid."""
        if not isinstance(value, dict) or not all(v is True for v in value.values()):
            raise SetError(
                "invalidProperties", "mailboxIds is not an Id[Boolean] with true values", properties=["mailboxIds"]
            )
        names = self.mail.mailbox_names(call)
        out = {}
        for k in value:
            rid = call.resolve_id(k)
            if rid not in names:
                raise SetError("invalidProperties", f"no mailbox {k}", properties=["mailboxIds"])
            out[rid] = names[rid]
        return out

    def create(self, call: Call, obj: dict[str, Any]) -> dict[str, Any]:
        b = call.behaviours
        boxes = self.check_mailboxes(call, obj.get("mailboxIds"))
        if not boxes:
            if CREATE_NO_MAILBOX_OK not in b:
                raise SetError(
                    "invalidProperties", "an Email must be in at least one Mailbox", properties=["mailboxIds"]
                )
            boxes = {"": "INBOX"}
        keywords = obj.get("keywords", {})
        if not valid_keywords(keywords):
            raise SetError(
                "invalidProperties", "keywords is not a String[Boolean] of keywords", properties=["keywords"]
            )
        received = time.time()
        if "receivedAt" in obj:
            when = parse_utc(obj["receivedAt"])
            if when is None:
                raise SetError("invalidProperties", "receivedAt is not a UTCDate", properties=["receivedAt"])
            received = when
        data = build_message(call, self.mail, obj)
        with call.store.lock:
            for name in boxes.values():
                call.store.append(call.user, name, data, flags=flags_of(keywords), internaldate=received)
        p = parsed(data)
        self.mail.remember_blob(p.blob_id, data)
        if CREATED_ONLY_ID in b:
            return {"id": p.id}
        return {"id": p.id, "blobId": p.blob_id, "threadId": p.thread_id, "size": len(data)}

    def update(self, call: Call, record_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
        b = call.behaviours
        bad = sorted(k for k in set(new) | set(old) if k not in ("mailboxIds", "keywords") and new.get(k) != old.get(k))
        if bad:
            raise SetError("invalidProperties", f"{bad} cannot be changed", properties=bad)
        meta = self.mail.index(call).get(record_id)
        if meta is None:
            raise SetError("notFound", f"no Email {record_id}")
        if new.get("keywords") != old.get("keywords"):
            kw = new.get("keywords")
            if not valid_keywords(kw):
                raise SetError(
                    "invalidProperties", "keywords is not a String[Boolean] of keywords", properties=["keywords"]
                )
            assert isinstance(kw, dict)
            keep = {f for f in meta.flags if f.lower() in ("\\recent",)}
            for name, uid in meta.copies:
                call.store.set_flags(call.user, name, uid, flags_of(kw) | keep)
            meta.flags = flags_of(kw)
        if new.get("mailboxIds") != old.get("mailboxIds"):
            wanted = self.check_mailboxes(call, new.get("mailboxIds"))
            if not wanted and EMPTY_MAILBOX_IDS_OK not in b:
                raise SetError(
                    "invalidProperties", "an Email must stay in at least one Mailbox", properties=["mailboxIds"]
                )
            for rid, name in wanted.items():
                if rid not in meta.mailbox_ids:
                    call.store.append(call.user, name, meta.p.data, flags=set(meta.flags), internaldate=meta.received)
            if MAILBOX_PATCH_ADD_ONLY not in b:
                self.remove_copies(call, meta, {r for r in meta.mailbox_ids if r not in wanted})
        return None

    @staticmethod
    def remove_copies(call: Call, meta: Meta, mailbox_ids: set[str]) -> None:
        for rid in mailbox_ids:
            name = meta.mailbox_ids[rid]
            call.store.expunge(call.user, {u for n, u in meta.copies if n == name}, name)

    def destroy(self, call: Call, record_id: str, old: dict[str, Any]) -> None:
        meta = self.mail.index(call).get(record_id)
        if meta is not None:
            self.remove_copies(call, meta, set(meta.mailbox_ids))


def _addresses_header(value: Any, prop: str) -> str:
    if not isinstance(value, list) or not all(isinstance(a, dict) and isinstance(a.get("email"), str) for a in value):
        raise SetError("invalidProperties", f"{prop} is not an EmailAddress[]", properties=[prop])
    return ", ".join(email.utils.formataddr((a.get("name") or "", a["email"])) for a in value)


def build_message(call: Call, mail: Mail, obj: dict[str, Any]) -> bytes:
    """The RFC 5322 message for an Email/set create (textBody/htmlBody/bodyValues/attachments)."""
    b = call.behaviours
    if "headers" in obj or "bodyStructure" in obj:
        raise SetError("invalidProperties", "headers and bodyStructure are not supported here", properties=["headers"])
    values = obj.get("bodyValues") or {}
    if not isinstance(values, dict):
        raise SetError("invalidProperties", "bodyValues is not a map", properties=["bodyValues"])

    def body_of(prop: str, subtype: str) -> str | None:
        parts = obj.get(prop)
        if parts is None:
            return None
        if not isinstance(parts, list) or len(parts) != 1 or not isinstance(parts[0], dict):
            raise SetError("invalidProperties", f"{prop} must hold exactly one part", properties=[prop])
        part = parts[0]
        if part.get("type", f"text/{subtype}") != f"text/{subtype}" and CREATE_HTML_AS_TEXT not in b:
            raise SetError("invalidProperties", f"{prop} must be text/{subtype}", properties=[prop])
        value = values.get(part.get("partId"))
        if not isinstance(value, dict) or not isinstance(value.get("value"), str):
            raise SetError("invalidProperties", f"{prop}'s partId is not in bodyValues", properties=[prop])
        if part.get("type") == "text/html" and subtype == "plain":
            return "\0html\0" + str(value["value"])
        return str(value["value"])

    text, html_text = body_of("textBody", "plain"), body_of("htmlBody", "html")
    msg = EmailMessage(policy=SMTP)
    if text is not None and text.startswith("\0html\0"):
        msg.set_content(text[6:], subtype="html")
    elif text is not None:
        msg.set_content(text)
        if html_text is not None:
            msg.add_alternative(html_text, subtype="html")
    elif html_text is not None:
        msg.set_content(html_text, subtype="html")
    else:
        msg.set_content("")
    missing = []
    for att in obj.get("attachments") or []:
        blob_id = att.get("blobId") if isinstance(att, dict) else None
        data = call.core.blobs.get(call.user, blob_id) if isinstance(blob_id, str) else None
        if data is None:
            missing.append(blob_id)
            continue
        mtype, _, sub = str(att.get("type") or "application/octet-stream").partition("/")
        msg.add_attachment(data, maintype=mtype, subtype=sub or "octet-stream", filename=att.get("name") or None)
    if missing:
        extra = {} if BLOB_NOT_FOUND_NO_LIST in b else {"notFound": missing}
        raise SetError("blobNotFound", "attachment blobs not found", **extra)
    head: list[tuple[str, str]] = []
    for prop, (hname, form) in CONVENIENCE.items():
        if obj.get(prop) is None:
            continue
        v = obj[prop]
        if form == "Addresses":
            head.append((hname, _addresses_header(v, prop)))
        elif form == "MessageIds":
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                raise SetError("invalidProperties", f"{prop} is not a String[]", properties=[prop])
            head.append((hname, " ".join(f"<{x}>" for x in v)))
        elif form == "Date":
            if not wire.is_date(v):
                raise SetError("invalidProperties", "sentAt is not a Date", properties=["sentAt"])
            when = dt.datetime.fromisoformat(str(v).replace("Z", "+00:00"))
            head.append((hname, email.utils.format_datetime(when)))
        else:
            if not isinstance(v, str):
                raise SetError("invalidProperties", f"{prop} is not a String", properties=[prop])
            head.append((hname, v))
    names = {h.lower() for h, _ in head}
    if NO_GENERATED_IDS not in b:
        if "message-id" not in names:
            head.append(("Message-ID", email.utils.make_msgid(domain=call.store.domain)))
        if "date" not in names:
            head.append(("Date", email.utils.formatdate(localtime=False)))
    body = msg.as_bytes()
    for hname, value in reversed(head):
        msg_head = EmailMessage(policy=SMTP)
        msg_head[hname] = value
        line = msg_head.as_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n"
        body = line + body
    return body


# --- Email methods outside the standard five -------------------------------------------------


class EmailMethods:
    def __init__(self, core: JMAPCore, mail: Mail, etype: EmailType) -> None:
        self.core, self.mail, self.etype = core, mail, etype

    def get(self, call: Call) -> list[tuple[str, dict[str, Any]]]:
        b = call.behaviours
        ids = call.args.get("ids")
        if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
            raise MethodError("invalidArguments", "ids is not an Id[]")
        props = self.etype.check_props(call.args.get("properties"), DEFAULT_PROPS, b)
        f = self.etype.fetch_args(call)
        index = self.mail.index(call)
        wanted = list(index) if ids is None else list(dict.fromkeys(call.resolve_id(i) for i in ids))
        if len(wanted) > self.core.cfg.limits.max_objects_in_get:
            raise MethodError("requestTooLarge", "more than maxObjectsInGet ids")
        found, not_found = [], []
        for i in wanted:
            meta = index.get(i)
            if meta is None:
                not_found.append(i)
            else:
                found.append({"id": i, **self.etype.render(meta, meta.p, props, f, b)})
        records = {i: self.etype.record(m, b) for i, m in index.items()}
        state = self.core._state(call, self.etype, records)
        return [("Email/get", {"accountId": call.account_id, "state": state, "list": found, "notFound": not_found})]

    def parse(self, call: Call) -> list[tuple[str, dict[str, Any]]]:
        b = call.behaviours
        blob_ids = call.args.get("blobIds")
        if not (isinstance(blob_ids, list) and all(isinstance(i, str) for i in blob_ids)):
            raise MethodError("invalidArguments", "blobIds is not an Id[]")
        default = [p for p in DEFAULT_PROPS if p not in META_PROPS]
        props = self.etype.check_props(call.args.get("properties"), default, b)
        f = self.etype.fetch_args(call)
        out: dict[str, Any] = {}
        not_parsable: list[str] = []
        not_found: list[str] = []
        for blob_id in blob_ids:
            data = self.core.blobs.get(call.user, blob_id)
            if data is None:
                (not_parsable if PARSE_NOT_FOUND_UNPARSABLE in b else not_found).append(blob_id)
            elif not mime.header_lines(mime.split_header(data)[0]) or b":" not in data.split(b"\n", 1)[0]:
                not_parsable.append(blob_id)
            else:
                out[blob_id] = self.etype.render(None, parsed(data), props, f, b)
        return [
            (
                "Email/parse",
                {
                    "accountId": call.account_id,
                    "parsed": out or None,
                    "notParsable": not_parsable or None,
                    "notFound": not_found or None,
                },
            )
        ]

    def import_(self, call: Call) -> list[tuple[str, dict[str, Any]]]:
        emails = call.args.get("emails")
        if not (isinstance(emails, dict) and all(isinstance(v, dict) for v in emails.values())):
            raise MethodError("invalidArguments", "emails is not an Id[EmailImport]")
        with call.store.lock:
            old_state = self.core._state(call, self.etype)
            if_in = call.args.get("ifInState")
            if if_in is not None and if_in != old_state:
                raise MethodError("stateMismatch", f"the state is {old_state}")
            created: dict[str, Any] = {}
            not_created: dict[str, Any] = {}
            for cid, imp in emails.items():
                try:
                    created[cid] = self._import_one(call, imp)
                    call.created_ids[cid] = created[cid]["id"]
                except SetError as e:
                    not_created[cid] = e.to_json()
            new_state = self.core._state(call, self.etype)
        return [
            (
                "Email/import",
                {
                    "accountId": call.account_id,
                    "oldState": old_state,
                    "newState": new_state,
                    "created": created or None,
                    "notCreated": not_created or None,
                },
            )
        ]

    def _import_one(self, call: Call, imp: dict[str, Any]) -> dict[str, Any]:
        b = call.behaviours
        blob_id = imp.get("blobId")
        data = self.core.blobs.get(call.user, blob_id) if isinstance(blob_id, str) else None
        if data is None:
            if IMPORT_MISSING_BLOB_WRONG in b:
                raise SetError("blobNotFound", f"no blob {blob_id}", notFound=[blob_id])
            raise SetError("invalidProperties", f"no blob {blob_id}", properties=["blobId"])
        try:
            boxes = self.etype.check_mailboxes(call, imp.get("mailboxIds"))
        except SetError:
            if IMPORT_BAD_MAILBOX_OK not in b:
                raise
            boxes = {}
        if not boxes:
            if IMPORT_NO_MAILBOX_OK not in b and IMPORT_BAD_MAILBOX_OK not in b:
                raise SetError("invalidProperties", "at least one Mailbox must be given", properties=["mailboxIds"])
            boxes = {"": "INBOX"}
        keywords = imp.get("keywords", {})
        if not valid_keywords(keywords):
            raise SetError(
                "invalidProperties", "keywords is not a String[Boolean] of keywords", properties=["keywords"]
            )
        received = time.time()
        if imp.get("receivedAt") is not None:
            when = parse_utc(imp["receivedAt"])
            if when is None:
                raise SetError("invalidProperties", "receivedAt is not a UTCDate", properties=["receivedAt"])
            received = when
        p = parsed(data)
        summary = {"id": p.id, "blobId": p.blob_id, "threadId": p.thread_id, "size": len(data)}
        if IMPORT_CREATED_ONLY_ID in b:
            summary = {"id": p.id}
        # Ids are digests of the content: the same octets again would be the same Email.
        if p.id in self.mail.index(call):
            if IMPORT_DUPLICATE_SAME_ID in b:
                return summary
            extra = {} if IMPORT_NO_EXISTING_ID in b else {"existingId": p.id}
            raise SetError("alreadyExists", "this message is already in the account", **extra)
        for name in boxes.values():
            call.store.append(call.user, name, data, flags=flags_of(keywords), internaldate=received)
        self.mail.remember_blob(p.blob_id, data)
        return summary

    def snippets(self, call: Call) -> list[tuple[str, dict[str, Any]]]:
        b = call.behaviours
        ids = call.args.get("emailIds")
        if not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
            raise MethodError("invalidArguments", "emailIds is not an Id[]")
        terms: list[tuple[str, str]] = []  # (where, text)

        def collect(f: Any) -> None:
            if isinstance(f, dict):
                for c in f.get("conditions") or []:
                    collect(c)
                for k in ("text", "subject", "body"):
                    if isinstance(f.get(k), str):
                        terms.append((k, f[k]))

        collect(call.args.get("filter"))
        index = self.mail.index(call)
        out, not_found = [], []
        for i in ids:
            meta = index.get(call.resolve_id(i))
            if meta is None:
                not_found.append(i)
                continue
            words = [t for k, v in terms for t in _tokens(v)]
            subject_words = [t for k, v in terms if k in ("text", "subject") for t in _tokens(v)]
            body_words = [t for k, v in terms if k in ("text", "body") for t in _tokens(v)]
            subject = as_text(meta.p.last("Subject") or "")
            out.append(
                {
                    "emailId": i,
                    "subject": self._highlight(subject, subject_words, b) if words else None,
                    "preview": self._excerpt(" ".join(meta.p.body_text.split()), body_words, b) if words else None,
                }
            )
        return [("SearchSnippet/get", {"accountId": call.account_id, "list": out, "notFound": not_found or None})]

    @staticmethod
    def _highlight(text: str, words: list[str], b: Any) -> str | None:
        if not words or not any(w.casefold() in text.casefold() for w in words):
            return None
        out = text if SNIPPET_NOT_ESCAPED in b else html.escape(text, quote=False)
        if SNIPPET_NO_MARK in b:
            return out
        for w in words:
            esc = w if SNIPPET_NOT_ESCAPED in b else html.escape(w, quote=False)
            out = re.sub(re.escape(esc), lambda m: f"<mark>{m.group(0)}</mark>", out, flags=re.IGNORECASE)
        return out

    def _excerpt(self, text: str, words: list[str], b: Any) -> str | None:
        low = text.casefold()
        hits = [low.find(w.casefold()) for w in words if w.casefold() in low]
        if not hits:
            return None
        start = max(0, min(hits) - 40)
        limit = 400 if SNIPPET_PREVIEW_LONG in b else 255
        piece = text[start : start + limit]
        while True:
            marked = self._highlight(piece, words, b) or piece
            if len(marked.encode()) <= limit or not piece:
                return marked
            piece = piece[:-8]


# --- Identity, EmailSubmission, VacationResponse ----------------------------------------------


class IdentityType(DataType):
    name = "Identity"
    capability = SUBMISSION
    properties = frozenset({"id", "name", "email", "replyTo", "bcc", "textSignature", "htmlSignature", "mayDelete"})
    server_set = frozenset({"id", "mayDelete"})
    methods = frozenset({"get", "changes", "set"})

    def __init__(self, mail: Mail) -> None:
        self.mail = mail

    def records(self, call: Call) -> dict[str, dict[str, Any]]:
        with self.mail.lock:
            mine = self.mail.identities.setdefault(call.user, {})
            if not mine:
                acct = call.store.account(call.user)
                addr = acct.addresses[0] if acct else f"{call.user}@{call.store.domain}"
                rid = "I" + hashlib.sha1(addr.encode()).hexdigest()[:12]
                mine[rid] = self.defaults(rid, {"email": addr}, False)
            out = {k: dict(v) for k, v in mine.items()}
        if IDENTITY_NO_EMAIL in call.behaviours:
            for rec in out.values():
                rec.pop("email", None)
        return out

    @staticmethod
    def defaults(rid: str, obj: dict[str, Any], may_delete: bool) -> dict[str, Any]:
        return {
            "id": rid,
            "name": obj.get("name", ""),
            "email": obj["email"],
            "replyTo": obj.get("replyTo"),
            "bcc": obj.get("bcc"),
            "textSignature": obj.get("textSignature", ""),
            "htmlSignature": obj.get("htmlSignature", ""),
            "mayDelete": may_delete,
        }

    def create(self, call: Call, obj: dict[str, Any]) -> dict[str, Any]:
        addr = obj.get("email")
        if not isinstance(addr, str):
            raise SetError("invalidProperties", "email is required", properties=["email"])
        acct = call.store.account(call.user)
        allowed = {a.lower() for a in acct.addresses} if acct else set()
        if addr.lower() not in allowed and IDENTITY_ANY_FROM not in call.behaviours:
            raise SetError("forbiddenFrom", f"{call.user} may not send from {addr}")
        self.records(call)
        rid = new_id("I")
        rec = self.defaults(rid, obj, True)
        with self.mail.lock:
            self.mail.identities[call.user][rid] = rec
        return {k: v for k, v in rec.items() if k not in obj}

    def update(self, call: Call, record_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
        if new.get("email") != old.get("email"):
            raise SetError("invalidProperties", "email is immutable", properties=["email"])
        with self.mail.lock:
            self.mail.identities[call.user][record_id] = dict(new)
        return None

    def destroy(self, call: Call, record_id: str, old: dict[str, Any]) -> None:
        if not old.get("mayDelete"):
            raise SetError("forbidden", "this Identity cannot be deleted")
        with self.mail.lock:
            self.mail.identities[call.user].pop(record_id, None)


def _without_bcc(data: bytes) -> bytes:
    header, body = mime.split_header(data)
    kept = b"".join(line for name, line in mime.header_lines(header) if name != "bcc")
    return kept + b"\r\n" + body


class SubmissionType(DataType):
    name = "EmailSubmission"
    capability = SUBMISSION
    properties = frozenset(
        {
            "id",
            "identityId",
            "emailId",
            "threadId",
            "envelope",
            "sendAt",
            "undoStatus",
            "deliveryStatus",
            "dsnBlobIds",
            "mdnBlobIds",
        }
    )
    server_set = frozenset({"id", "threadId", "sendAt", "deliveryStatus", "dsnBlobIds", "mdnBlobIds"})
    id_refs = frozenset({"emailId", "identityId"})
    filters = frozenset({"identityIds", "emailIds", "threadIds", "undoStatus", "before", "after"})
    sorts = frozenset({"emailId", "threadId", "sentAt"})
    extra_args = {"set": frozenset({"onSuccessUpdateEmail", "onSuccessDestroyEmail"})}  # noqa: RUF012

    def __init__(self, mail: Mail, identities: IdentityType) -> None:
        self.mail = mail
        self.identities = identities

    def records(self, call: Call) -> dict[str, dict[str, Any]]:
        with self.mail.lock:
            return {k: dict(v) for k, v in self.mail.submissions.setdefault(call.user, {}).items()}

    def create(self, call: Call, obj: dict[str, Any]) -> dict[str, Any]:
        b = call.behaviours
        identity = self.identities.records(call).get(str(obj.get("identityId")))
        if identity is None:
            raise SetError("invalidProperties", "no such identityId", properties=["identityId"])
        meta = self.mail.index(call).get(str(obj.get("emailId")))
        if meta is None:
            raise SetError("invalidProperties", "no such emailId", properties=["emailId"])
        if obj.get("undoStatus", "final") != "final":
            raise SetError("invalidProperties", "this server cannot delay or cancel sending", properties=["undoStatus"])
        p = meta.p
        envelope = obj.get("envelope")
        if envelope is None:
            senders = (
                header_value(p.fields, "Sender", "Addresses", False, ())
                or header_value(p.fields, "From", "Addresses", False, ())
                or []
            )
            mail_from = senders[0]["email"] if senders else identity.get("email", "")
            rcpts: list[str] = []
            for h in ("To", "Cc") + (() if ENVELOPE_NO_BCC in b else ("Bcc",)):
                rcpts += [a["email"] for a in header_value(p.fields, h, "Addresses", False, ()) or []]
            envelope = {
                "mailFrom": {"email": mail_from, "parameters": None},
                "rcptTo": [{"email": r, "parameters": None} for r in dict.fromkeys(rcpts)],
            }
        if not isinstance(envelope, dict) or not isinstance(envelope.get("rcptTo"), list):
            raise SetError("invalidProperties", "envelope is not an Envelope", properties=["envelope"])
        to = [r.get("email") if isinstance(r, dict) else None for r in envelope["rcptTo"]]
        if not to and NO_RECIPIENTS_OK not in b:
            raise SetError("noRecipients", "the envelope has no recipients")
        invalid = [str(r) for r in to if not isinstance(r, str) or not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+", r)]
        if invalid:
            extra = {} if INVALID_RECIPIENTS_NO_LIST in b else {"invalidRecipients": invalid}
            raise SetError("invalidRecipients", "not valid addresses", **extra)
        data = p.data if BCC_KEPT in b else _without_bcc(p.data)
        sender = str((envelope.get("mailFrom") or {}).get("email") or "")
        for r in to:
            acct = call.store.resolve(str(r))
            if acct is not None:
                call.store.deliver(acct, data, sender)
        rid = new_id("S")
        rec = {
            "id": rid,
            "identityId": identity["id"],
            "emailId": p.id,
            "threadId": p.thread_id,
            "envelope": envelope,
            "sendAt": "1970-01-01T00:00:00Z" if SEND_AT_EPOCH in b else utc(time.time()),
            "undoStatus": "sent" if UNDO_STATUS_SENT in b else "final",
            "deliveryStatus": None,
            "dsnBlobIds": [],
            "mdnBlobIds": [],
        }
        with self.mail.lock:
            self.mail.submissions.setdefault(call.user, {})[rid] = rec
        return {k: v for k, v in rec.items() if k not in obj}

    def update(self, call: Call, record_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
        if new != old:
            raise SetError("cannotUnsend", "the message has been sent")
        return None

    def destroy(self, call: Call, record_id: str, old: dict[str, Any]) -> None:
        with self.mail.lock:
            self.mail.submissions.setdefault(call.user, {}).pop(record_id, None)

    def match(self, call: Call, record: dict[str, Any], condition: dict[str, Any]) -> bool:
        for k, v in condition.items():
            if k in ("identityIds", "emailIds", "threadIds") and record[k[:-1]] not in (v or []):
                return False
            if k == "undoStatus" and record["undoStatus"] != v:
                return False
            if k == "before" and not record["sendAt"] < v:
                return False
            if k == "after" and not record["sendAt"] >= v:
                return False
        return True

    def sort_value(self, record: dict[str, Any], prop: str, collation: str | None) -> Any:
        return record["sendAt"] if prop == "sentAt" else record.get(prop)


def submission_set(core: JMAPCore, etype: EmailType) -> Callable[[Call], list[tuple[str, dict[str, Any]]]]:
    """EmailSubmission/set, then the implicit Email/set of onSuccessUpdateEmail / onSuccessDestroyEmail (7.5)."""

    def handler(call: Call) -> list[tuple[str, dict[str, Any]]]:
        b = call.behaviours
        on_update = call.args.get("onSuccessUpdateEmail") or {}
        on_destroy = call.args.get("onSuccessDestroyEmail") or []
        if not isinstance(on_update, dict) or not isinstance(on_destroy, list):
            raise MethodError("invalidArguments", "onSuccessUpdateEmail / onSuccessDestroyEmail are malformed")
        out = core._set(call)
        args = out[0][1]
        done = {**(args.get("created") or {})}
        records = core.types["EmailSubmission"].records(call)

        def email_of(ref: str) -> str | None:
            sid = call.created_ids.get(ref[1:]) if ref.startswith("#") else ref
            ok = sid in records and (ref[1:] in done or sid in (args.get("updated") or {}) or not ref.startswith("#"))
            return str(records[sid]["emailId"]) if ok and sid is not None else None

        update = {e: patch for ref, patch in on_update.items() if (e := email_of(ref))}
        destroy = [e for ref in on_destroy if (e := email_of(str(ref)))]
        if (update or destroy) and IMPLICIT_SET_SKIPPED not in b:
            sub = Call(
                core,
                call.user,
                call.account_id,
                {"accountId": call.account_id, "update": update or None, "destroy": destroy or None},
                call.created_ids,
                "Email/set",
            )
            implicit = core._set(sub)
            out = implicit + out if IMPLICIT_BEFORE in b else out + implicit
        return out

    return handler


class VacationType(DataType):
    name = "VacationResponse"
    capability = VACATION
    properties = frozenset({"id", "isEnabled", "fromDate", "toDate", "subject", "textBody", "htmlBody"})
    server_set = frozenset({"id"})
    methods = frozenset({"get", "set"})

    def __init__(self, mail: Mail) -> None:
        self.mail = mail

    def records(self, call: Call) -> dict[str, dict[str, Any]]:
        with self.mail.lock:
            rec = self.mail.vacation.setdefault(
                call.user,
                {
                    "id": "singleton",
                    "isEnabled": False,
                    "fromDate": None,
                    "toDate": None,
                    "subject": None,
                    "textBody": None,
                    "htmlBody": None,
                },
            )
            out = {"singleton": dict(rec)}
        if VACATION_ID_WRONG in call.behaviours:
            out = {"vacation": {**out["singleton"], "id": "vacation"}}
        if VACATION_TWO in call.behaviours:
            out["vacation2"] = {**out["singleton"], "id": "vacation2"}
        return out

    def update(self, call: Call, record_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
        if not isinstance(new.get("isEnabled"), bool):
            raise SetError("invalidProperties", "isEnabled is a Boolean", properties=["isEnabled"])
        for k in ("fromDate", "toDate"):
            if new.get(k) is not None and not wire.is_utc_date(new[k]):
                raise SetError("invalidProperties", f"{k} is a UTCDate", properties=[k])
        with self.mail.lock:
            self.mail.vacation[call.user] = {**new, "id": "singleton"}
        return None


def register(core: JMAPCore) -> None:
    b = core.cfg.behaviours
    mail = Mail(core)
    sort_options = list(SORTS)
    account: dict[str, Any] = {
        "maxMailboxesPerEmail": 0 if MAIL_CAP_ZERO in b else None,
        "maxMailboxDepth": None,
        "maxSizeMailboxName": 50 if MAIL_CAP_SMALL_NAME in b else 255,
        "maxSizeAttachmentsPerEmail": 50_000_000,
        "emailQuerySortOptions": sort_options,
        "mayCreateTopLevelMailbox": True,
    }
    if MAIL_CAP_INCOMPLETE in b:
        del account["emailQuerySortOptions"]
    core.add_capability(MAIL, {}, account)
    submission: dict[str, Any] = {} if SUBMISSION_CAP_EMPTY in b else {"maxDelayedSend": 0, "submissionExtensions": {}}
    core.add_capability(SUBMISSION, {}, submission)
    core.add_capability(VACATION, {}, {})
    if VACATION_CAP_MISSING in b:
        core.account_capabilities.pop(VACATION, None)
    core.register(FullMailboxType(mail))
    core.register(ThreadType(mail))
    etype = EmailType(mail)
    core.register(etype)
    methods = EmailMethods(core, mail, etype)
    fetch = frozenset(
        {"bodyProperties", "fetchTextBodyValues", "fetchHTMLBodyValues", "fetchAllBodyValues", "maxBodyValueBytes"}
    )
    core.register_method("Email/get", MAIL, methods.get, frozenset({"accountId", "ids", "properties"}) | fetch)
    core.register_method("Email/parse", MAIL, methods.parse, frozenset({"accountId", "blobIds", "properties"}) | fetch)
    core.register_method("Email/import", MAIL, methods.import_, frozenset({"accountId", "ifInState", "emails"}))
    core.register_method("SearchSnippet/get", MAIL, methods.snippets, frozenset({"accountId", "filter", "emailIds"}))
    identities = IdentityType(mail)
    core.register(identities)
    core.register(SubmissionType(mail, identities))
    core.register_method(
        "EmailSubmission/set",
        SUBMISSION,
        submission_set(core, etype),
        frozenset(
            {"accountId", "ifInState", "create", "update", "destroy", "onSuccessUpdateEmail", "onSuccessDestroyEmail"}
        ),
    )
    core.register(VacationType(mail))
