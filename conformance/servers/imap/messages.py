"""APPEND, CHECK, CLOSE, UNSELECT, EXPUNGE, FETCH, STORE, COPY, MOVE and their UID forms
(RFC 9051 6.3.12, 6.4; RFC 3501 for IMAP4rev1 sessions; RFC 3691 UNSELECT, RFC 4315 UIDPLUS,
RFC 6851 MOVE, RFC 3516 BINARY). Message structure (ENVELOPE, BODYSTRUCTURE, sections) is mime.py's.
"""

from __future__ import annotations

import base64
import calendar
import re
import time
from collections.abc import Callable

from ...store import StoredMessage
from ...wire import imap as wire
from . import core, mime
from .core import (
    AUTH,
    AUTHED,
    COMMANDS,
    SELECTED,
    Bad,
    Cmd,
    No,
    Session,
    _Entry,
    astring,
    command,
    date_time,
    defect,
    literal,
    nargs,
    offer,
)

# Seeded defects, one line each: what the server does wrong.
# APPEND and the internal date
APPEND_CRLF_TO_LF = defect("append-crlf-to-lf", "stores appended messages with bare LF line ends")
APPEND_REPLACES_LAST = defect("append-replaces-last", "replaces the mailbox's last message instead of adding one")
APPEND_SYNC_LITERAL_NO = defect(
    "append-sync-literal-no", "refuses APPEND whose message came as a synchronizing literal"
)
APPEND_STRIPS_8BIT = defect("append-strips-8bit", "clears the high bit of every octet of an appended message")
APPEND_DROPS_FLAGS = defect("append-drops-flags", "ignores the flag list of APPEND")
APPEND_DEFAULT_SEEN = defect("append-default-seen", "sets \\Seen on messages appended without a flag list")
APPEND_DROPS_KEYWORDS = defect("append-drops-keywords", "keeps only system flags from the flag list of APPEND")
APPEND_IGNORES_DATE = defect("append-ignores-date", "ignores the date-time of APPEND")
APPEND_SPACE_DAY_BAD = defect("append-space-day-bad", "refuses a date-time whose day is space-padded")
APPEND_EPOCH_DATE = defect("append-epoch-date", "gives messages appended without a date-time the internal date 1970")
INTERNALDATE_FORMAT = defect("internaldate-format", "writes INTERNALDATE with a two-digit year")
APPEND_PARTIAL = defect("append-partial", "stores the message before refusing an APPEND with a bad date-time")
APPEND_AUTOCREATE = defect("append-autocreate", "creates a missing destination mailbox at APPEND")
APPEND_NO_TRYCREATE = defect("append-no-trycreate", "refuses APPEND to a missing mailbox without [TRYCREATE]")
APPEND_NO_EXISTS = defect("append-no-exists", "sends no EXISTS for a message appended to the selected mailbox")
APPEND_NO_APPENDUID = defect("append-no-appenduid", "leaves APPENDUID out of the tagged OK to APPEND")
APPEND_LITERAL8_LOSSY = defect("append-literal8-lossy", "drops the NUL octets of a message appended as a literal8")
APPEND_BINARY_RAW = defect("append-binary-raw", "keeps the NUL octets of a literal8 APPEND and sends them in BODY[]")
APPENDUID_WRONG = defect("appenduid-wrong", "gives a UID one too high in APPENDUID")
CHECK_BAD = defect("check-bad", "answers CHECK with BAD")
# CLOSE, UNSELECT, EXPUNGE, UIDs
CLOSE_KEEPS_DELETED = defect("close-keeps-deleted", "does not expunge at CLOSE")
CLOSE_STAYS_SELECTED = defect("close-stays-selected", "stays in the selected state after CLOSE and UNSELECT")
CLOSE_SENDS_EXPUNGE = defect("close-sends-expunge", "sends EXPUNGE responses at CLOSE")
CLOSE_EXPUNGES_READ_ONLY = defect("close-expunges-read-only", "expunges at CLOSE of a mailbox selected by EXAMINE")
SELECT_EXPUNGES = defect("select-expunges", "expunges the selected mailbox when another is selected")
UNSELECT_EXPUNGES = defect("unselect-expunges", "expunges at UNSELECT as CLOSE does")
EXPUNGE_ALL = defect("expunge-all", "EXPUNGE removes every message, \\Deleted or not")
EXPUNGE_SILENT = defect("expunge-silent", "sends no EXPUNGE responses to EXPUNGE")
EXPUNGE_ORIGINAL_NUMBERS = defect("expunge-original-numbers", "numbers EXPUNGE responses as before any removal")
UID_EXPUNGE_ALL = defect("uid-expunge-all", "UID EXPUNGE removes every \\Deleted message, not only those listed")
UID_EXPUNGE_IGNORES_FLAG = defect(
    "uid-expunge-ignores-flag", "UID EXPUNGE removes the listed messages without \\Deleted"
)
UID_REUSED = defect("uid-reused", "gives a new message the UID after the highest remaining one (reuses UIDs)")
UID_DESCENDING = defect("uid-descending", "reports UIDs that descend with the message number")
UID_RENUMBERED = defect("uid-renumbered", "renumbers the UIDs of the remaining messages at EXPUNGE")
# FETCH: attributes
FETCH_SIZE_LF = defect("fetch-size-lf", "counts line ends as one octet in RFC822.SIZE")
FETCH_FLAGS_MISSING = defect("fetch-flags-missing", "leaves \\Answered out of FETCH FLAGS")
MACRO_ALL_NO_ENVELOPE = defect("macro-all-no-envelope", "leaves ENVELOPE out of the ALL macro")
MACRO_FAST_EXTRA = defect("macro-fast-extra", "adds ENVELOPE to the FAST macro")
MACRO_FULL_BODYSTRUCTURE = defect("macro-full-bodystructure", "returns BODYSTRUCTURE instead of BODY for FULL")
RFC822_AS_BODY = defect("rfc822-as-body", "answers FETCH RFC822 with a BODY[] item")
RFC822_HEADER_SETS_SEEN = defect("rfc822-header-sets-seen", "sets \\Seen at FETCH RFC822.HEADER")
RFC822_TEXT_WITH_HEADER = defect("rfc822-text-with-header", "returns the whole message for RFC822.TEXT")
RECENT_EVERY_SESSION = defect("recent-every-session", "shows \\Recent on every message in every IMAP4rev1 session")
RECENT_STORABLE = defect("recent-storable", "lets STORE set \\Recent")
UID_FETCH_NO_UID = defect("uid-fetch-no-uid", "leaves UID out of UID FETCH responses")
UID_STORE_NO_UID = defect("uid-store-no-uid", "leaves UID out of the FETCH responses to UID STORE")
# FETCH: ENVELOPE and BODYSTRUCTURE (rendered by mime.py)
ENVELOPE_SWAPS_TO_CC = defect("envelope-swaps-to-cc", "swaps the to and cc members of ENVELOPE")
ENVELOPE_FOLDED_SUBJECT = defect("envelope-folded-subject", "keeps the folding CRLFs in the envelope subject")
ENVELOPE_NO_GROUPS = defect("envelope-no-groups", "drops the group start and end markers from address lists")
ENVELOPE_EMPTY_FOR_ABSENT = defect("envelope-empty-for-absent", 'gives absent Date/In-Reply-To/Message-ID as ""')
ENVELOPE_EMPTY_LISTS = defect("envelope-empty-lists", "gives absent To/Cc/Bcc as an empty list ()")
ENVELOPE_NO_SENDER_DEFAULT = defect("envelope-no-sender-default", "gives absent Sender and Reply-To as NIL")
TEXT_LINES_WRONG = defect("text-lines-wrong", "counts one line too many in text/* body structures")
PARAMS_DROPPED = defect("params-dropped", "gives every body parameter list as NIL")
MULTIPART_FLATTENED = defect("multipart-flattened", "hoists the parts of nested multiparts into their parent")
NO_DEFAULT_TYPE = defect("no-default-type", "types a part without Content-Type as application/octet-stream")
RFC822_PART_AS_LEAF = defect("rfc822-part-as-leaf", "treats message/rfc822 parts as leaves (no envelope, no parts)")
BODY_SIZE_DECODED = defect("body-size-decoded", "gives body sizes after decoding the transfer encoding")
BODY_WITH_EXTENSIONS = defect("body-with-extensions", "returns extension data with FETCH BODY")
EXTENSION_ORDER = defect("extension-order", "puts the disposition before MD5 and the parameters of a multipart")
# FETCH: sections, partial, \Seen, BINARY
HEADER_NO_BLANK_LINE = defect("header-no-blank-line", "leaves the blank line out of HEADER and HEADER.FIELDS")
HEADER_FIELDS_ALL = defect("header-fields-all", "returns the whole header for HEADER.FIELDS")
HEADER_FIELDS_NOT_IGNORED = defect("header-fields-not-ignored", "treats HEADER.FIELDS.NOT as HEADER.FIELDS")
HEADER_FIELDS_FIRST_LINE = defect("header-fields-first-line", "returns only the first line of a folded field")
HEADER_FIELDS_CASE = defect("header-fields-case", "matches HEADER.FIELDS names case-sensitively")
HEADER_FIELDS_PREFIX = defect("header-fields-prefix", "matches HEADER.FIELDS names as prefixes of field names")
TEXT_WITH_BLANK_LINE = defect("text-with-blank-line", "starts BODY[TEXT] with the header's blank line")
PART_ONE_WHOLE = defect("part-one-whole", "returns the whole message for BODY[1] of a single-part message")
PART_NUMBERS_FROM_ZERO = defect("part-numbers-from-zero", "numbers the parts of a multipart from 0")
MIME_WITHOUT_BLANK_LINE = defect("mime-without-blank-line", "leaves the blank line out of BODY[n.MIME]")
PARTIAL_IGNORED = defect("partial-ignored", "ignores <origin.octets> and returns the whole section")
PARTIAL_ORIGIN_DROPPED = defect("partial-origin-dropped", "names a partial response BODY[] instead of BODY[]<origin>")
PARTIAL_OFF_BY_ONE = defect("partial-off-by-one", "starts partial data one octet after the origin")
PARTIAL_PAST_END_NIL = defect("partial-past-end-nil", "answers an origin past the end with NIL")
ORIGIN_ALWAYS = defect("origin-always", "adds <0> to every BODY[...] response")
BODY_NO_SEEN = defect("body-no-seen", "does not set \\Seen at FETCH BODY[...]")
SEEN_NOT_REPORTED = defect("seen-not-reported", "does not send the FLAGS that FETCH BODY[...] changed")
PEEK_SETS_SEEN = defect("peek-sets-seen", "sets \\Seen at FETCH BODY.PEEK[...]")
BINARY_NOT_DECODED = defect("binary-not-decoded", "returns BINARY[...] still in its transfer encoding")
BINARY_PARTIAL_ENCODED = defect("binary-partial-encoded", "counts a BINARY <partial> in encoded octets")
BINARY_SIZE_ENCODED = defect("binary-size-encoded", "gives BINARY.SIZE as the encoded size")
UNKNOWN_CTE_RAW = defect("unknown-cte-raw", "returns a part in an unknown transfer encoding as it is for BINARY")
# STORE
STORE_ADD_REPLACES = defect("store-add-replaces", "+FLAGS replaces the flags")
STORE_ONLY_FIRST = defect("store-only-first", "STORE changes only the first message of the set")
STORE_REMOVE_IGNORED = defect("store-remove-ignored", "-FLAGS removes nothing")
STORE_REPLACE_ADDS = defect("store-replace-adds", "FLAGS adds to the flags instead of replacing them")
SILENT_NOT_SILENT = defect("silent-not-silent", "sends FETCH responses for .SILENT")
SILENT_IGNORED = defect("silent-ignored", "stores nothing for .SILENT")
SILENT_HIDES_EXTERNAL = defect(
    "silent-hides-external", "does not report other sessions' flag changes at a .SILENT STORE"
)
KEYWORDS_SESSION_ONLY = defect(
    "keywords-session-only", "keeps new keywords for the session only, though PERMANENTFLAGS has \\*"
)
# COPY and MOVE
COPY_NOTHING = defect("copy-nothing", "answers COPY with OK and copies nothing")
COPY_DROPS_FLAGS = defect("copy-drops-flags", "copies messages without their flags")
COPY_NEW_DATE = defect("copy-new-date", "gives copies the current time as internal date")
COPY_NO_TRYCREATE = defect("copy-no-trycreate", "refuses COPY and MOVE to a missing mailbox without [TRYCREATE]")
COPYUID_WRONG = defect("copyuid-wrong", "gives destination UIDs one too high in COPYUID")
COPY_KEEPS_UIDS = defect("copy-keeps-uids", "gives copies the UIDs they had in the source mailbox")
MOVE_KEEPS_SOURCE = defect("move-keeps-source", "MOVE copies and leaves the source messages")
MOVE_SETS_DELETED = defect("move-sets-deleted", "MOVE is COPY, STORE +FLAGS \\Deleted (with FETCH) and EXPUNGE")
MOVE_DROPS_FLAGS = defect("move-drops-flags", "moves messages without their flags")
MOVE_COPYUID_TAGGED = defect("move-copyuid-tagged", "sends COPYUID for MOVE in the tagged OK, after the EXPUNGEs")
# sequence sets and UID sets
SEQ_BEYOND_OK = defect("seq-beyond-ok", "ignores message numbers beyond the mailbox (and * when it is empty)")
SEQ_ZERO_OK = defect("seq-zero-ok", "accepts 0 as message number 1")
SEQ_REVERSED_EMPTY = defect("seq-reversed-empty", "takes a range n:m with n > m as empty")
UID_STAR_RANGE_EMPTY = defect("uid-star-range-empty", "takes a UID range n:* with n above the last UID as empty")
UID_AS_SEQUENCE = defect("uid-as-sequence", "reads the set of UID FETCH/STORE/COPY/MOVE as message numbers")
UID_MISSING_NO = defect("uid-missing-no", "answers a UID command that names no existing UID with NO")
EXPUNGED_SLOT_REUSED = defect(
    "expunged-slot-reused",
    "answers FETCH and STORE of a message another session expunged (not yet told) with the message now in its place",
)

offer("UNSELECT", "UIDPLUS", "MOVE", "BINARY")

_DATE_TIME = re.compile(r"^([ \d]\d)-([A-Z][a-z]{2})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$")
_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}
SYSTEM_FLAGS = {f.lower(): f for f in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")}
MACROS = {
    "ALL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
    "FAST": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
    "FULL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"],
}


def parse_date_time(text: str) -> tuple[float, int]:
    """An IMAP date-time -> (UTC timestamp, zone offset in minutes)."""
    m = _DATE_TIME.match(text)
    if m is None or m.group(2) not in _MONTHS:
        raise Bad(f"not a date-time: {text!r}")
    day, mon, year, hh, mm, ss, sign, zh, zm = m.groups()
    if int(hh) > 23 or int(mm) > 59 or int(ss) > 60 or not 1 <= int(day) <= 31 or int(zm) > 59:
        raise Bad(f"not a valid date-time: {text!r}")
    tz = (int(zh) * 60 + int(zm)) * (-1 if sign == "-" else 1)
    ts = calendar.timegm((int(year), _MONTHS[mon], int(day), int(hh), int(mm), int(ss), 0, 0, 0))
    return ts - tz * 60, tz


def flag_args(values: list[wire.Value] | wire.Value, *, recent: bool = False) -> set[str]:
    """A flag list argument; \\Recent (and unknown system flags) cannot be set (RFC 3501 2.3.2)."""
    items = values if isinstance(values, list) else [values]
    flags = set()
    for v in items:
        f = astring(v, "flag")
        if f.startswith("\\"):
            if recent and f.lower() == "\\recent":
                flags.add("\\Recent")
                continue
            if f.lower() not in SYSTEM_FLAGS:
                raise Bad(f"{f} cannot be set")
            f = SYSTEM_FLAGS[f.lower()]
        flags.add(f)
    return flags


# --- APPEND, CHECK ----------------------------------------------------------------------------


def _sync_literal(cmd: Cmd) -> bool:
    """Whether the command's last literal was synchronizing ({n}, not {n+})."""
    m = re.findall(rb"\{(\d+)(\+?)\}\r\n", cmd.raw)
    return bool(m) and m[-1][1] == b""


def _textual(data: bytes) -> bytes:
    """A message with NUL octets (a literal8, RFC 3516 4.4) with its body base64-encoded: BODY[] must
    never carry NUL (RFC 9051 4.3.1), and BINARY[] decodes it back without loss."""
    part = mime.parse(data)
    if part.multipart or part.message is not None or b"\x00" in part.header:
        # Re-encoding nested parts is not worth it here; RFC 3516 4.4 allows this refusal.
        raise No("binary content is stored only as the body of a single-part message", code="UNKNOWN-CTE")
    if mime.encoding(part) not in ("7bit", "8bit", "binary"):
        raise No("NUL octets in an encoded body", code="UNKNOWN-CTE")
    fields = b"".join(line for name, line in mime.header_lines(part.header) if name != "content-transfer-encoding")
    body = base64.encodebytes(part.body).replace(b"\n", b"\r\n")
    return fields + b"Content-Transfer-Encoding: base64\r\n\r\n" + body


@command("APPEND", states=AUTHED)
async def append(s: Session, cmd: Cmd) -> None:
    if not 2 <= len(cmd.args) <= 4:
        raise Bad("APPEND mailbox [(flags)] [date-time] message")
    assert s.user is not None
    name = s.mailbox_name(cmd.args[0])
    data = cmd.args[-1]
    if not isinstance(data, bytes):
        raise Bad("the message must be a literal")
    if APPEND_SYNC_LITERAL_NO in s.b and _sync_literal(cmd):
        raise No("synchronizing literals are not accepted")
    if APPEND_CRLF_TO_LF in s.b:
        data = data.replace(b"\r\n", b"\n")
    if APPEND_STRIPS_8BIT in s.b:
        data = bytes(c & 0x7F for c in data)
    if APPEND_LITERAL8_LOSSY in s.b and isinstance(data, wire.Binary):
        data = data.replace(b"\x00", b"")
    if b"\x00" in data and APPEND_BINARY_RAW not in s.b:
        data = _textual(data)
    flags: set[str] | None = None
    date: tuple[float, int] | None = None
    try:
        for opt in cmd.args[1:-1]:
            if isinstance(opt, list):
                flags = flag_args(opt)
            elif isinstance(opt, bytes):
                text = opt.decode("ascii", "replace")
                if APPEND_SPACE_DAY_BAD in s.b and text.startswith(" "):
                    raise Bad(f"not a date-time: {text!r}")
                date = parse_date_time(text)
            else:
                raise Bad("APPEND options are a flag list and a quoted date-time")
    except Bad:
        if APPEND_PARTIAL in s.b and s.store.mailbox(s.user, name) is not None:
            s.store.append(s.user, name, data)
        raise
    if s.store.mailbox(s.user, name) is None:
        if APPEND_AUTOCREATE not in s.b:
            raise No(f"no mailbox {name}", code=None if APPEND_NO_TRYCREATE in s.b else "TRYCREATE")
        s.store.create_mailbox(s.user, name)
    if APPEND_DROPS_FLAGS in s.b:
        flags = None
    if APPEND_DROPS_KEYWORDS in s.b and flags:
        flags = {f for f in flags if f.startswith("\\")}
    if flags is None and APPEND_DEFAULT_SEEN in s.b:
        flags = {"\\Seen"}
    if APPEND_IGNORES_DATE in s.b:
        date = None
    ts, tz = date if date else ((0.0, 0) if APPEND_EPOCH_DATE in s.b else (time.time(), 0))
    with s.store.lock:
        box = s.store.mailbox(s.user, name)
        assert box is not None
        if APPEND_REPLACES_LAST in s.b and box.messages:
            box.messages.pop()
        if UID_REUSED in s.b:
            box.uidnext = max((m.uid for m in box.messages), default=0) + 1
        msg = s.store.append(s.user, name, data, flags or set(), ts, tz)
        uidvalidity = box.uidvalidity
    v = s.view
    if APPEND_NO_EXISTS in s.b and v is not None and v.name == name:
        v.uids.append(msg.uid)  # taken into the view without telling the client
        v.flags[msg.uid] = frozenset(msg.flags)
    s.sync()
    if APPEND_NO_APPENDUID in s.b:
        return
    uid = msg.uid + (1 if APPENDUID_WRONG in s.b else 0)
    s.tagged("OK", "APPEND completed", code=f"APPENDUID {uidvalidity} {uid}")


@command("CHECK", states=(SELECTED,))
async def check(s: Session, cmd: Cmd) -> None:
    nargs(cmd, 0)
    if CHECK_BAD in s.b:
        raise Bad("CHECK is not supported")


# --- sequence sets -----------------------------------------------------------------------------


def select_messages(s: Session, seqset: wire.Value, uid: bool) -> list[tuple[int, StoredMessage]]:
    """``Session.messages`` with this module's sequence-set behaviours."""
    assert s.view is not None
    text = astring(seqset, "sequence set")
    if uid and UID_AS_SEQUENCE in s.b:
        uid = False
    if SEQ_ZERO_OK in s.b and not uid:
        text = re.sub(r"(?<![0-9])0(?![0-9])", "1", text)
    if SEQ_REVERSED_EMPTY in s.b:
        text = ",".join(p for p in text.split(",") if not _reversed(p)) or "0"
    if uid and UID_STAR_RANGE_EMPTY in s.b and s.view.uids:
        last = s.view.uids[-1]
        text = ",".join(
            p for p in text.split(",") if not (p.endswith(":*") and p[:-2].isdigit() and int(p[:-2]) > last)
        )
        if not text:
            return []
    try:
        if EXPUNGED_SLOT_REUSED in s.b:
            # The session's numbers read against the mailbox as it is now, not as the session was told.
            live = s.box().messages
            return [(n, live[n - 1]) for n in s.view_numbers(wire.Atom(text), uid) if n <= len(live)]
        got = s.resolve_messages(wire.Atom(text), uid)
    except Bad:
        if SEQ_BEYOND_OK in s.b and not uid and "0" not in text.replace(",", " ").split():
            return []
        raise
    if uid and not got and UID_MISSING_NO in s.b:
        raise No("no such UID")
    return got


core.HOOKS.messages = select_messages


def _reversed(part: str) -> bool:
    lo, _, hi = part.partition(":")
    return lo.isdigit() and hi.isdigit() and int(lo) > int(hi)


# --- CLOSE, UNSELECT, EXPUNGE ------------------------------------------------------------------


def _expunge(s: Session, uids: set[int] | None, *, silent: bool, need_deleted: bool = True) -> None:
    """Remove \\Deleted messages (only those in ``uids`` when given); EXPUNGE responses unless silent."""
    assert s.user is not None and s.view is not None
    v = s.view
    with s.store.lock:
        box = s.box()
        gone = {
            m.uid
            for m in box.messages
            if (not need_deleted or "\\Deleted" in m.flags) and (uids is None or m.uid in uids)
        }
        if not gone:
            return
        s.store.expunge(s.user, gone, v.name)
        if UID_RENUMBERED in s.b:
            mapping = {m.uid: i + 1 for i, m in enumerate(box.messages)}
            for m in box.messages:
                m.uid = mapping[m.uid]
    if silent:
        return
    originals = [v.uids.index(u) + 1 for u in v.uids if u in gone]
    numbers = []
    # Each EXPUNGE's number counts the ones before it as gone already (RFC 9051 7.5.1).
    for uid in [u for u in v.uids if u in gone]:
        seq = v.uids.index(uid) + 1
        v.uids.pop(seq - 1)
        v.flags.pop(uid, None)
        numbers.append(seq)
    if EXPUNGE_ORIGINAL_NUMBERS in s.b:
        numbers = originals
    if UID_RENUMBERED in s.b:
        v.uids = [m.uid for m in box.messages]
        v.flags = {m.uid: frozenset(m.flags) for m in box.messages}
    if EXPUNGE_SILENT not in s.b:
        for n in numbers:
            s.untagged(f"{n} EXPUNGE")


@command("EXPUNGE", states=(SELECTED,), uid=True)
async def expunge(s: Session, cmd: Cmd) -> None:
    assert s.view is not None
    if s.view.readonly:
        raise No("the mailbox is read-only", code="READ-ONLY")
    uids = None
    need_deleted = True
    if cmd.uid:
        nargs(cmd, 1)
        if UID_EXPUNGE_ALL not in s.b:
            uids = {m.uid for _, m in select_messages(s, cmd.args[0], uid=True)}
        need_deleted = UID_EXPUNGE_IGNORES_FLAG not in s.b
    else:
        nargs(cmd, 0)
        need_deleted = EXPUNGE_ALL not in s.b
    _expunge(s, uids, silent=False, need_deleted=need_deleted)


@command("CLOSE", "UNSELECT", states=(SELECTED,))
async def close(s: Session, cmd: Cmd) -> None:
    nargs(cmd, 0)
    assert s.view is not None
    closing = cmd.name == "CLOSE" and CLOSE_KEEPS_DELETED not in s.b
    if cmd.name == "UNSELECT" and UNSELECT_EXPUNGES in s.b:
        closing = True
    if closing and (not s.view.readonly or CLOSE_EXPUNGES_READ_ONLY in s.b):
        _expunge(s, None, silent=CLOSE_SENDS_EXPUNGE not in s.b)
    if CLOSE_STAYS_SELECTED in s.b:
        return
    s.view = None
    s.state = AUTH


def _wrap_select() -> None:
    """SELECT_EXPUNGES: SELECT/EXAMINE (mailboxes.py) expunge the mailbox selected before."""
    for name in ("SELECT", "EXAMINE"):
        entry = COMMANDS.get(name)
        if entry is None:
            continue
        inner = entry.handler

        async def handler(s: Session, cmd: Cmd, inner: object = inner) -> None:
            if SELECT_EXPUNGES in s.b and s.view is not None and not s.view.readonly:
                _expunge(s, None, silent=True)
            await inner(s, cmd)  # type: ignore[operator]

        COMMANDS[name] = _Entry(handler, entry.states, entry.uid)


_wrap_select()


# --- FETCH ---------------------------------------------------------------------------------------

_SECTION_ITEM = re.compile(r"^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK|BINARY\.SIZE)\[(.*)\](?:<(\d+)\.(\d+)>)?$", re.S)


def _fetch_items(s: Session, arg: wire.Value) -> list[str]:
    if isinstance(arg, list):
        items = [astring(a, "fetch item").upper() for a in arg]
    else:
        item = astring(arg, "fetch item").upper()
        items = list(MACROS.get(item, [item]))
        if item == "ALL" and MACRO_ALL_NO_ENVELOPE in s.b:
            items.remove("ENVELOPE")
        if item == "FAST" and MACRO_FAST_EXTRA in s.b:
            items.append("ENVELOPE")
        if item == "FULL" and MACRO_FULL_BODYSTRUCTURE in s.b:
            items[-1] = "BODYSTRUCTURE"
    if not items:
        raise Bad("empty fetch item list")
    return items


def quirks(s: Session) -> mime.Quirks:
    b = s.b
    return mime.Quirks(
        text_lines_off=TEXT_LINES_WRONG in b,
        drop_params=PARAMS_DROPPED in b,
        flatten_multipart=MULTIPART_FLATTENED in b,
        no_default_type=NO_DEFAULT_TYPE in b,
        rfc822_as_leaf=RFC822_PART_AS_LEAF in b,
        size_decoded=BODY_SIZE_DECODED in b,
        body_extensions=BODY_WITH_EXTENSIONS in b,
        extension_order=EXTENSION_ORDER in b,
        envelope_swap_to_cc=ENVELOPE_SWAPS_TO_CC in b,
        envelope_folded_subject=ENVELOPE_FOLDED_SUBJECT in b,
        envelope_no_groups=ENVELOPE_NO_GROUPS in b,
        envelope_empty_for_absent=ENVELOPE_EMPTY_FOR_ABSENT in b,
        envelope_empty_lists=ENVELOPE_EMPTY_LISTS in b,
        envelope_no_sender_default=ENVELOPE_NO_SENDER_DEFAULT in b,
    )


def flags_item(s: Session, m: StoredMessage) -> bytes:
    flags = s.flag_list(m).split()
    if FETCH_FLAGS_MISSING in s.b:
        flags = [f for f in flags if f != "\\Answered"]
    if RECENT_EVERY_SESSION in s.b and not s.rev2 and "\\Recent" not in flags:
        flags.append("\\Recent")
    recent_extra = s.extra.get("stored-recent")
    if isinstance(recent_extra, set) and m.uid in recent_extra and "\\Recent" not in flags:
        flags.append("\\Recent")
    keywords = s.extra.get("session-keywords")
    if isinstance(keywords, dict):
        flags += sorted(keywords.get(m.uid, set()) - set(flags))
    return f"FLAGS ({' '.join(flags)})".encode()


def _section(s: Session, m: StoredMessage, kind: str, spec: str, partial: tuple[int, int] | None) -> bytes:
    """``BODY[spec]<o>`` / ``BINARY[spec]<o>`` / ``BINARY.SIZE[spec]`` with its value."""
    q = quirks(s)
    b = s.b
    sec = mime.parse_section(spec)
    if sec is None:
        raise Bad(f"invalid section {spec!r}")
    if HEADER_FIELDS_NOT_IGNORED in b and sec.text == "HEADER.FIELDS.NOT":
        sec = mime.Section(sec.path, "HEADER.FIELDS", sec.fields)
    if HEADER_FIELDS_ALL in b and sec.text == "HEADER.FIELDS":
        sec = mime.Section(sec.path, "HEADER")
    if PART_NUMBERS_FROM_ZERO in b and sec.path:
        sec = mime.Section((sec.path[0] + 1, *sec.path[1:]), sec.text, sec.fields)
    root = mime.parse(m.data)
    name = f"{'BODY' if kind.startswith('BODY') else kind.removesuffix('.PEEK')}[{spec}]"
    if kind.startswith("BINARY"):
        if sec.text:
            raise Bad("BINARY takes part numbers only")
        part = mime.locate(root, sec.path, flatten=q.flatten_multipart) if sec.path else root
        if part is None or part.multipart or part.message is not None:
            raise No("no such leaf part")
        try:
            decoded = mime.decode(part)
        except No:
            if UNKNOWN_CTE_RAW not in b:
                raise
            decoded = part.body
        if kind == "BINARY.SIZE":
            return f"{name} {len(part.body) if BINARY_SIZE_ENCODED in b else len(decoded)}".encode()
        data = part.body if BINARY_NOT_DECODED in b else decoded
        if partial is not None:
            o, n = partial
            data = part.body[o : o + n] if BINARY_PARTIAL_ENCODED in b else data[o : o + n]
            name += f"<{o}>"
        prefix = b"~" if b"\x00" in data else b""
        return name.encode() + b" " + prefix + literal(data)
    data_or_none = _body_section(s, root, sec, q, m)
    if data_or_none is None:
        raise No(f"no section {spec}")
    data = data_or_none
    if partial is not None and PARTIAL_IGNORED not in b:
        o, n = partial
        if o >= len(data) and PARTIAL_PAST_END_NIL in b:
            return f"{name}<{o}> NIL".encode()
        start = o + 1 if PARTIAL_OFF_BY_ONE in b else o
        data = data[start : start + n]
        if PARTIAL_ORIGIN_DROPPED not in b:
            name += f"<{o}>"
    elif ORIGIN_ALWAYS in b:
        name += "<0>"
    return name.encode() + b" " + (literal(data) if data else b'""')


def _body_section(s: Session, root: mime.Part, sec: mime.Section, q: mime.Quirks, m: StoredMessage) -> bytes | None:
    b = s.b
    if PART_ONE_WHOLE in b and sec.path == (1,) and not sec.text and not root.multipart:
        return m.data
    if sec.text == "MIME":
        return mime.section_data(root, sec, q=q, blank_line=MIME_WITHOUT_BLANK_LINE not in b)
    data = mime.section_data(root, sec, q=q, blank_line=HEADER_NO_BLANK_LINE not in b)
    if data is None:
        return None
    if sec.text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT") and HEADER_FIELDS_FIRST_LINE in b:
        data = re.sub(rb"\r\n[ \t][^\r\n]*", b"", data)
    if sec.text == "HEADER.FIELDS" and HEADER_FIELDS_PREFIX in b:
        names = [f.lower() for f in sec.fields]
        data = _fields(root, sec, lambda n, ln: any(n.startswith(w) for w in names), data)
    if sec.text == "HEADER.FIELDS" and HEADER_FIELDS_CASE in b:
        # The names as written in the message against the names as the client sent them.
        data = _fields(root, sec, lambda n, ln: ln.split(b":", 1)[0].decode("ascii", "replace") in sec.fields, data)
    if sec.text == "TEXT" and TEXT_WITH_BLANK_LINE in b:
        data = b"\r\n" + data
    return data


def _fields(root: mime.Part, sec: mime.Section, keep: Callable[[str, bytes], bool], default: bytes) -> bytes:
    """A header subset chosen by ``keep(lower-case name, line)`` (for the matching defects)."""
    part = mime.locate(root, sec.path) if sec.path else root
    msg = part.message if (part is not None and sec.path) else part
    if msg is None:
        return default
    return b"".join(ln for n, ln in mime.header_lines(msg.header) if keep(n, ln)) + b"\r\n"


def fetch_item(s: Session, m: StoredMessage, item: str) -> tuple[bytes, bool]:
    """(``NAME value`` of one FETCH item, whether it sets \\Seen)."""
    b = s.b
    if item == "FLAGS":
        return flags_item(s, m), False
    if item == "UID":
        return f"UID {1000000 - m.uid if UID_DESCENDING in b else m.uid}".encode(), False
    if item == "RFC822.SIZE":
        size = len(m.data.replace(b"\r\n", b"\n")) if FETCH_SIZE_LF in b else len(m.data)
        return f"RFC822.SIZE {size}".encode(), False
    if item == "INTERNALDATE":
        text = date_time(m.internaldate, m.tz_offset)
        if INTERNALDATE_FORMAT in b:
            text = text[:7] + text[9:]
        return f'INTERNALDATE "{text}"'.encode(), False
    if item == "ENVELOPE":
        return b"ENVELOPE " + mime.envelope(m.data, quirks(s)), False
    if item in ("BODY", "BODYSTRUCTURE"):
        return item.encode() + b" " + mime.body_structure(
            mime.parse(m.data), extensions=item == "BODYSTRUCTURE", q=quirks(s)
        ), False
    if item == "RFC822":
        return (b"BODY[]" if RFC822_AS_BODY in b else b"RFC822") + b" " + literal(m.data), True
    if item == "RFC822.HEADER":
        head = mime.split_header(m.data)[0]
        return b"RFC822.HEADER " + literal(head), RFC822_HEADER_SETS_SEEN in b
    if item == "RFC822.TEXT":
        text_data = m.data if RFC822_TEXT_WITH_HEADER in b else mime.split_header(m.data)[1]
        return b"RFC822.TEXT " + literal(text_data), True
    sm = _SECTION_ITEM.match(item)
    if sm is None:
        raise Bad(f"unknown fetch item {item}")
    kind, spec = sm.group(1), sm.group(2)
    partial = (int(sm.group(3)), int(sm.group(4))) if sm.group(3) is not None else None
    if partial is not None and partial[1] == 0:
        raise Bad("a partial fetch asks for at least one octet")
    sets_seen = kind in ("BODY", "BINARY") and BODY_NO_SEEN not in b
    if kind.endswith(".PEEK") and PEEK_SETS_SEEN in b:
        sets_seen = True
    return _section(s, m, kind, spec, partial), sets_seen


FETCH_ITEM = [fetch_item]


@command("FETCH", states=(SELECTED,), uid=True)
async def fetch(s: Session, cmd: Cmd) -> None:
    nargs(cmd, 2, 3)
    assert s.view is not None and s.user is not None
    items = _fetch_items(s, cmd.args[1])
    if cmd.uid and "UID" not in items and UID_FETCH_NO_UID not in s.b:
        items.insert(0, "UID")  # UID FETCH always includes UID (RFC 9051 6.4.9)
    for seq, m in select_messages(s, cmd.args[0], cmd.uid):
        parts = []
        seen = False
        for item in items:
            data, sets_seen = FETCH_ITEM[0](s, m, item)
            parts.append(data)
            seen = seen or sets_seen
        if seen and not s.view.readonly and "\\Seen" not in m.flags:
            s.store.set_flags(s.user, s.view.name, m.uid, m.flags | {"\\Seen"})
            s.view.flags[m.uid] = frozenset(m.flags)
            if "FLAGS" not in items and SEEN_NOT_REPORTED not in s.b:
                parts.append(flags_item(s, m))
        s.untagged(f"{seq} FETCH (".encode() + b" ".join(parts) + b")")


# --- STORE -----------------------------------------------------------------------------------------


@command("STORE", states=(SELECTED,), uid=True)
async def store(s: Session, cmd: Cmd) -> None:
    nargs(cmd, 3)
    assert s.view is not None and s.user is not None
    b = s.b
    item = astring(cmd.args[1], "store item").upper()
    silent = item.endswith(".SILENT")
    op = item.removesuffix(".SILENT")
    if op not in ("FLAGS", "+FLAGS", "-FLAGS"):
        raise Bad(f"unknown store item {item}")
    flags = flag_args(cmd.args[2], recent=RECENT_STORABLE in b)
    if s.view.readonly:
        raise No("the mailbox is read-only", code="READ-ONLY")
    if "\\Recent" in flags:
        flags.discard("\\Recent")
        stored = s.extra.setdefault("stored-recent", set())
        assert isinstance(stored, set)
        stored.update(m.uid for _, m in select_messages(s, cmd.args[0], cmd.uid))
    if STORE_ADD_REPLACES in b and op == "+FLAGS":
        op = "FLAGS"
    elif STORE_REPLACE_ADDS in b and op == "FLAGS":
        op = "+FLAGS"
    session_only: set[str] = set()
    if KEYWORDS_SESSION_ONLY in b:
        known = {f for m in s.box().messages for f in m.flags if not f.startswith("\\")}
        session_only = {f for f in flags if not f.startswith("\\") and f not in known}
        flags -= session_only
    targets = select_messages(s, cmd.args[0], cmd.uid)
    if STORE_ONLY_FIRST in b:
        targets = targets[:1]
    for seq, m in targets:
        if silent and SILENT_IGNORED in b:
            continue
        # A change by another session seen now is reported even for .SILENT (RFC 9051 6.4.6).
        external = s.view.flags.get(m.uid) != frozenset(m.flags) and SILENT_HIDES_EXTERNAL not in b
        if op == "FLAGS":
            new = flags
        elif op == "+FLAGS":
            new = m.flags | flags
        else:
            new = m.flags if STORE_REMOVE_IGNORED in b else m.flags - flags
        s.store.set_flags(s.user, s.view.name, m.uid, set(new))
        s.view.flags[m.uid] = frozenset(new)
        if session_only:
            kw = s.extra.setdefault("session-keywords", {})
            assert isinstance(kw, dict)
            kw.setdefault(m.uid, set()).update(session_only)
        if not silent or external or SILENT_NOT_SILENT in b:
            uid = f" UID {m.uid}" if cmd.uid and UID_STORE_NO_UID not in b else ""
            s.untagged(f"{seq} FETCH (".encode() + flags_item(s, m) + f"{uid})".encode())


# --- COPY, MOVE --------------------------------------------------------------------------------------


def _copy(s: Session, cmd: Cmd, *, moving: bool) -> tuple[str, list[int], list[int]] | None:
    """Copy the named messages to the destination: (uidvalidity, source UIDs, new UIDs), None if none."""
    nargs(cmd, 2)
    assert s.user is not None and s.view is not None
    b = s.b
    dest = s.mailbox_name(cmd.args[1])
    targets = select_messages(s, cmd.args[0], cmd.uid)
    if s.store.mailbox(s.user, dest) is None:
        raise No(f"no mailbox {dest}", code=None if COPY_NO_TRYCREATE in b else "TRYCREATE")
    if not targets or (COPY_NOTHING in b and not moving):
        return None
    src_uids, new_uids = [], []
    drop_flags = COPY_DROPS_FLAGS in b or (moving and MOVE_DROPS_FLAGS in b)
    with s.store.lock:
        box = s.store.mailbox(s.user, dest)
        assert box is not None
        for _, m in targets:
            flags = set() if drop_flags else set(m.flags)
            if moving and MOVE_SETS_DELETED in b:
                flags.add("\\Deleted")
            when = time.time() if COPY_NEW_DATE in b else m.internaldate
            new = s.store.append(s.user, dest, m.data, flags, when, m.tz_offset)
            if COPY_KEEPS_UIDS in b:
                new.uid = m.uid
            src_uids.append(m.uid)
            new_uids.append(new.uid + (1 if COPYUID_WRONG in b else 0))
        uidvalidity = str(box.uidvalidity)
    return uidvalidity, src_uids, new_uids


def _uid_set(uids: list[int]) -> str:
    return ",".join(map(str, uids))


@command("COPY", states=(SELECTED,), uid=True)
async def copy(s: Session, cmd: Cmd) -> None:
    done = _copy(s, cmd, moving=False)
    s.sync()
    if done is None:
        s.tagged("OK", "nothing copied")
        return
    v, src, new = done
    s.tagged("OK", "COPY completed", code=f"COPYUID {v} {_uid_set(src)} {_uid_set(new)}")


@command("MOVE", states=(SELECTED,), uid=True)
async def move(s: Session, cmd: Cmd) -> None:
    assert s.view is not None
    if s.view.readonly:
        raise No("the mailbox is read-only", code="READ-ONLY")
    done = _copy(s, cmd, moving=True)
    if done is None:
        s.tagged("OK", "nothing moved")
        return
    v, src, new = done
    code = f"COPYUID {v} {_uid_set(src)} {_uid_set(new)}"
    if MOVE_COPYUID_TAGGED not in s.b:
        s.untagged(f"OK [{code}] moved")
    if MOVE_SETS_DELETED in s.b:
        assert s.user is not None
        for uid in src:
            m = next(x for x in s.box().messages if x.uid == uid)
            s.store.set_flags(s.user, s.view.name, uid, m.flags | {"\\Deleted"})
            s.view.flags[uid] = frozenset(m.flags)
            s.untagged(f"{s.view.uids.index(uid) + 1} FETCH (FLAGS ({s.flag_list(m)}))")
    if MOVE_KEEPS_SOURCE not in s.b:
        _expunge(s, set(src), silent=False, need_deleted=False)
    s.sync()
    s.tagged("OK", "MOVE completed", code=code if MOVE_COPYUID_TAGGED in s.b else None)
