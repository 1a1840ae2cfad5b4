"""SEARCH (RFC 9051 6.4.4, RFC 3501 6.4.4, RFC 4731 RETURN options), the notifications about
other sessions' changes (RFC 9051 5.2, 7.4.1, 7.5.1), IDLE (RFC 9051 6.3.13 / RFC 2177), and
CONDSTORE / QRESYNC (RFC 7162).

CONDSTORE and QRESYNC extend commands other modules implement (SELECT, FETCH, STORE,
EXPUNGE, APPEND, ENABLE): this module wraps those handlers, taking the RFC 7162 parameters
off before the plain command runs and adding MODSEQ, UID, HIGHESTMODSEQ, VANISHED and
MODIFIED to what it answered. ``notify`` is the session's ``sync`` (core.NOTIFY).
"""

from __future__ import annotations

import asyncio
import calendar
import email
import email.policy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.utils import mktime_tz, parsedate_tz

from ...store import StoredMessage
from ...wire import imap as wire
from ...wire.errors import RemoteProtocolError
from . import core
from .core import AUTHED, COMMANDS, SELECTED, Bad, Close, Cmd, No, Session, astring, command, defect, nargs, offer

offer("ESEARCH", "IDLE", "CONDSTORE", "QRESYNC", "SEARCHRES")

# --- seeded defects: SEARCH keys (each answers its key with the messages that do NOT match it) ---
KEY_ALL = defect("search-all-negated", "SEARCH ALL finds no message")
KEY_SEQUENCE_SET = defect("search-seqset-negated", "a sequence set in SEARCH finds the messages outside it")
KEY_ANSWERED = defect("search-answered-negated", "SEARCH ANSWERED finds the messages without \\Answered")
KEY_DELETED = defect("search-deleted-negated", "SEARCH DELETED finds the messages without \\Deleted")
KEY_DRAFT = defect("search-draft-negated", "SEARCH DRAFT finds the messages without \\Draft")
KEY_FLAGGED = defect("search-flagged-negated", "SEARCH FLAGGED finds the messages without \\Flagged")
KEY_SEEN = defect("search-seen-negated", "SEARCH SEEN finds the messages without \\Seen")
KEY_KEYWORD = defect("search-keyword-negated", "SEARCH KEYWORD finds the messages without the keyword")
KEY_UNANSWERED = defect("search-unanswered-negated", "SEARCH UNANSWERED finds the messages with \\Answered")
KEY_UNDELETED = defect("search-undeleted-negated", "SEARCH UNDELETED finds the messages with \\Deleted")
KEY_UNDRAFT = defect("search-undraft-negated", "SEARCH UNDRAFT finds the messages with \\Draft")
KEY_UNFLAGGED = defect("search-unflagged-negated", "SEARCH UNFLAGGED finds the messages with \\Flagged")
KEY_UNSEEN = defect("search-unseen-negated", "SEARCH UNSEEN finds the messages with \\Seen")
KEY_UNKEYWORD = defect("search-unkeyword-negated", "SEARCH UNKEYWORD finds the messages with the keyword")
KEY_UID = defect("search-uid-negated", "SEARCH UID finds the messages outside the UID set")
KEY_NOT = defect("search-not-ignored", "SEARCH NOT key finds the messages matching key")
KEY_OR = defect("search-or-negated", "SEARCH OR finds the messages matching neither key")
KEY_LARGER = defect("search-larger-negated", "SEARCH LARGER finds the messages not larger")
KEY_SMALLER = defect("search-smaller-negated", "SEARCH SMALLER finds the messages not smaller")
KEY_BEFORE = defect("search-before-negated", "SEARCH BEFORE finds the messages of that day or later")
KEY_ON = defect("search-on-negated", "SEARCH ON finds the messages of other days")
KEY_SINCE = defect("search-since-negated", "SEARCH SINCE finds the messages of earlier days")
KEY_SENTBEFORE = defect("search-sentbefore-negated", "SEARCH SENTBEFORE finds the messages sent that day or later")
KEY_SENTON = defect("search-senton-negated", "SEARCH SENTON finds the messages sent on other days")
KEY_SENTSINCE = defect("search-sentsince-negated", "SEARCH SENTSINCE finds the messages sent earlier")
KEY_FROM = defect("search-from-negated", "SEARCH FROM finds the messages whose From does not contain the string")
KEY_TO = defect("search-to-negated", "SEARCH TO finds the messages whose To does not contain the string")
KEY_CC = defect("search-cc-negated", "SEARCH CC finds the messages whose Cc does not contain the string")
KEY_BCC = defect("search-bcc-negated", "SEARCH BCC finds the messages whose Bcc does not contain the string")
KEY_SUBJECT = defect("search-subject-negated", "SEARCH SUBJECT finds the messages whose Subject lacks the string")
KEY_HEADER = defect("search-header-negated", "SEARCH HEADER finds the messages whose field lacks the string")
KEY_TEXT = defect("search-text-negated", "SEARCH TEXT finds the messages that do not contain the string")
KEY_RECENT = defect("search-recent-negated", "SEARCH RECENT (IMAP4rev1) finds the messages without \\Recent")
KEY_NEW = defect("search-new-negated", "SEARCH NEW (IMAP4rev1) finds the messages that are not new")
KEY_OLD = defect("search-old-negated", "SEARCH OLD (IMAP4rev1) finds the recent messages")
# --- SEARCH matching and CHARSET ---
AND_IS_OR = defect("search-and-is-or", "combines juxtaposed search keys with OR")
PAREN_FIRST_ONLY = defect("search-paren-first-only", "reads a parenthesised list of keys as its first key")
SENT_DATE_UTC = defect("search-sent-date-utc", "converts the Date: field to UTC before comparing SENT* dates")
HEADER_EMPTY_NONE = defect("search-header-empty-none", "HEADER with an empty string matches no message")
BODY_MATCHES_HEADER = defect("search-body-header", "SEARCH BODY also matches the header fields")
WHOLE_WORDS = defect("search-whole-words", "matches search strings only as whole words")
CASE_SENSITIVE = defect("search-case-sensitive", "matches search strings case-sensitively")
NO_UTF8 = defect("search-no-utf8", "refuses SEARCH CHARSET UTF-8")
NO_DECODE = defect("search-no-decode", "compares search strings with undecoded encoded-words and base64 bodies")
BADCHARSET_BAD = defect("search-badcharset-bad", "answers an unknown CHARSET with BAD")
NO_BADCHARSET_CODE = defect("search-no-badcharset-code", "refuses an unknown CHARSET without the BADCHARSET code")
# --- SEARCH and ESEARCH responses ---
SEARCH_UID_AS_SEQ = defect("search-uid-as-seq", "answers UID SEARCH with message numbers")
REV1_ESEARCH = defect("search-rev1-esearch", "answers SEARCH with ESEARCH in IMAP4rev1 sessions")
REV2_SEARCH_RESPONSE = defect("search-rev2-search-response", "answers SEARCH with a SEARCH response in IMAP4rev2")
ESEARCH_NO_TAG = defect("esearch-no-tag", "leaves the (TAG ...) correlator out of ESEARCH")
ESEARCH_NO_UID = defect("esearch-no-uid", "leaves the UID indicator out of the ESEARCH answer to UID SEARCH")
UNKNOWN_RETURN_OK = defect("esearch-unknown-return-ok", "ignores unknown SEARCH RETURN options")
COUNT_OMITTED_WHEN_ZERO = defect("esearch-no-count-zero", "leaves COUNT out when nothing matches")
MIN_WRONG = defect("esearch-min-wrong", "gives the mailbox's first message as MIN")
MAX_WRONG = defect("esearch-max-wrong", "gives the mailbox's last message as MAX")
ALL_NOT_SET = defect("esearch-all-list", "gives ALL as space-separated numbers, not a sequence-set")
MIN_WHEN_NONE = defect("esearch-min-when-none", "sends MIN 0, MAX 0 and ALL 0 when nothing matches")
RETURN_AS_SEARCH = defect("esearch-return-as-search", "answers SEARCH RETURN with a SEARCH response")
# --- notifications about other sessions' changes ---
NO_SIZE_UPDATE = defect("sync-no-exists", "does not tell a session about messages other sessions added")
NO_FLAG_UPDATE = defect("sync-no-flag-fetch", "does not tell a session about other sessions' flag changes")
EXISTS_AFTER_FETCH = defect(
    "sync-exists-after-fetch", "sends FETCH for a new message before the EXISTS that announces it"
)
EXPUNGE_DURING_FETCH = defect("sync-expunge-during-fetch", "sends other sessions' EXPUNGEs during FETCH")
EXPUNGE_DURING_STORE = defect("sync-expunge-during-store", "sends other sessions' EXPUNGEs during STORE")
EXPUNGE_DURING_SEARCH = defect("sync-expunge-during-search", "sends other sessions' EXPUNGEs during SEARCH")
RENUMBER_SILENTLY = defect("sync-renumber-silently", "renumbers messages for other sessions' expunges without telling")
NO_UNILATERAL_EXPUNGE = defect("sync-no-expunge", "never tells a session about other sessions' expunges")
EXISTS_DECREASE = defect("sync-exists-decrease", "reports other sessions' expunges as a smaller EXISTS")
NO_DECREMENT = defect("sync-no-decrement", "numbers successive EXPUNGEs as if the earlier ones had not happened")
RECENT_LATER_SESSIONS = defect("recent-later-sessions", "shows \\Recent to sessions selecting after the first one")
# --- IDLE ---
IDLE_NO_CONTINUATION = defect("idle-no-continuation", "does not send the + continuation request to IDLE")
IDLE_NO_UPDATES = defect("idle-no-updates", "sends nothing while IDLE runs")
IDLE_FETCH_NO_UID = defect("idle-fetch-no-uid", "leaves UID out of unsolicited FETCH responses")
IDLE_DONE_NO_TAGGED = defect("idle-done-no-tagged", "answers DONE with an untagged OK instead of the tagged one")
# --- CONDSTORE ---
NO_HIGHESTMODSEQ = defect("condstore-no-highestmodseq", "leaves HIGHESTMODSEQ out of SELECT (CONDSTORE)")
HIGHESTMODSEQ_STALE = defect(
    "condstore-highestmodseq-stale", "reports HIGHESTMODSEQ one below the highest mod-sequence"
)
FETCH_NO_MODSEQ = defect("condstore-fetch-no-modseq", "ignores the MODSEQ fetch item")
MODSEQ_STATIC = defect("condstore-modseq-static", "keeps a message's mod-sequence when STORE changes its flags")
NOOP_STORE_BUMPS = defect("condstore-noop-store-bumps", "raises the mod-sequence when STORE changes no flag")
APPEND_LOW_MODSEQ = defect("condstore-append-modseq-1", "gives appended messages mod-sequence 1")
UNSOLICITED_NO_MODSEQ = defect("condstore-unsolicited-no-modseq", "leaves MODSEQ out of unsolicited FETCH responses")
SILENT_NO_MODSEQ = defect("condstore-silent-no-fetch", "sends no FETCH MODSEQ for STORE (UNCHANGEDSINCE) .SILENT")
UNCHANGEDSINCE_IGNORED = defect("condstore-unchangedsince-ignored", "stores flags whatever UNCHANGEDSINCE says")
NO_MODIFIED_CODE = defect("condstore-no-modified", "leaves the MODIFIED code out when UNCHANGEDSINCE refuses messages")
CHANGEDSINCE_IGNORED = defect("condstore-changedsince-ignored", "FETCH (CHANGEDSINCE) returns unchanged messages too")
CHANGEDSINCE_NO_MODSEQ = defect("condstore-changedsince-no-modseq", "FETCH (CHANGEDSINCE) does not add MODSEQ")
SEARCH_MODSEQ_GREATER = defect("condstore-search-modseq-greater", "SEARCH MODSEQ n finds only mod-sequences above n")
# --- QRESYNC ---
ENABLE_QRESYNC_IGNORED = defect("qresync-enable-ignored", "does not enable QRESYNC at ENABLE QRESYNC")
QRESYNC_WITHOUT_ENABLE = defect("qresync-without-enable", "accepts SELECT (QRESYNC ...) without ENABLE QRESYNC")
VANISHED_WITHOUT_ENABLE = defect(
    "qresync-vanished-without-enable", "accepts UID FETCH (VANISHED) without ENABLE QRESYNC"
)
UIDVALIDITY_MISMATCH_IGNORED = defect("qresync-uidvalidity-ignored", "resynchronises even when UIDVALIDITY differs")
QRESYNC_NO_VANISHED_EARLIER = defect("qresync-no-vanished-earlier", "leaves expunged UIDs out of SELECT (QRESYNC)")
VANISHED_AFTER_FETCH = defect("qresync-vanished-after-fetch", "sends VANISHED (EARLIER) after the FETCH responses")
EXPUNGE_NOT_VANISHED = defect("qresync-expunge-not-vanished", "sends EXPUNGE, not VANISHED, once QRESYNC is enabled")
VANISHED_EARLIER_LIVE = defect("qresync-earlier-live", "reports expunges in the selected mailbox as VANISHED (EARLIER)")
SEARCHRES_NUMBERS = defect("searchres-numbers", "saves message numbers for $ and reads them back as UIDs")
SEARCHRES_SAVE_IGNORED = defect("searchres-save-ignored", "answers SEARCH RETURN (SAVE) with OK but saves nothing")
SEARCHRES_KEY_BAD = defect("searchres-key-bad", "refuses $ as a search key")
QRESYNC_KNOWN_UIDS_DROPPED = defect(
    "qresync-known-uids-dropped", "reports no changes at SELECT (QRESYNC) when the client lists known UIDs"
)
QRESYNC_KNOWN_UIDS_IGNORED = defect(
    "qresync-known-uids-ignored", "reports changes to every message at SELECT (QRESYNC), listed as known or not"
)
QRESYNC_SEQ_MATCH_IGNORED = defect(
    "qresync-seq-match-ignored", "reports expunges the client's matching sequence match data says it knows of"
)
EXPUNGE_NO_HIGHESTMODSEQ = defect(
    "qresync-expunge-no-highestmodseq",
    "leaves HIGHESTMODSEQ out of the tagged OK to (UID) EXPUNGE after ENABLE QRESYNC",
)
QRESYNC_FETCH_NO_UID = defect("qresync-fetch-no-uid", "leaves UID out of STORE's FETCH responses after ENABLE QRESYNC")

KEY_DEFECTS = {
    "ALL": KEY_ALL,
    "SEQUENCE-SET": KEY_SEQUENCE_SET,
    "ANSWERED": KEY_ANSWERED,
    "DELETED": KEY_DELETED,
    "DRAFT": KEY_DRAFT,
    "FLAGGED": KEY_FLAGGED,
    "SEEN": KEY_SEEN,
    "KEYWORD": KEY_KEYWORD,
    "UNANSWERED": KEY_UNANSWERED,
    "UNDELETED": KEY_UNDELETED,
    "UNDRAFT": KEY_UNDRAFT,
    "UNFLAGGED": KEY_UNFLAGGED,
    "UNSEEN": KEY_UNSEEN,
    "UNKEYWORD": KEY_UNKEYWORD,
    "UID": KEY_UID,
    "NOT": KEY_NOT,
    "OR": KEY_OR,
    "LARGER": KEY_LARGER,
    "SMALLER": KEY_SMALLER,
    "BEFORE": KEY_BEFORE,
    "ON": KEY_ON,
    "SINCE": KEY_SINCE,
    "SENTBEFORE": KEY_SENTBEFORE,
    "SENTON": KEY_SENTON,
    "SENTSINCE": KEY_SENTSINCE,
    "FROM": KEY_FROM,
    "TO": KEY_TO,
    "CC": KEY_CC,
    "BCC": KEY_BCC,
    "SUBJECT": KEY_SUBJECT,
    "HEADER": KEY_HEADER,
    "TEXT": KEY_TEXT,
    "RECENT": KEY_RECENT,
    "NEW": KEY_NEW,
    "OLD": KEY_OLD,
}
FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True),
    "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True),
    "SEEN": ("\\Seen", True),
    "UNANSWERED": ("\\Answered", False),
    "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
}
ADDRESS_KEYS = {"FROM": "From", "TO": "To", "CC": "Cc", "BCC": "Bcc", "SUBJECT": "Subject"}
_DATE = re.compile(r"^(\d{1,2})-([A-Za-z]{3})-(\d{4})$")
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
RETURN_OPTIONS = ("MIN", "MAX", "ALL", "COUNT", "SAVE")
CHARSETS = ("UTF-8", "US-ASCII")
DURING = {"FETCH": EXPUNGE_DURING_FETCH, "STORE": EXPUNGE_DURING_STORE, "SEARCH": EXPUNGE_DURING_SEARCH}

Pred = Callable[[int, StoredMessage], bool]
Day = tuple[int, int, int]


# --- message text as SEARCH sees it ----------------------------------------------------------


class _Text:
    """One message's fields, body and dates, decoded (RFC 9051 6.4.4: MIME decoded before comparing)."""

    def __init__(self, m: StoredMessage, decode: bool) -> None:
        self.m = m
        self.decode = decode
        policy = email.policy.default if decode else email.policy.compat32
        self.msg: Message = email.message_from_bytes(m.data, policy=policy)

    def field(self, name: str) -> str | None:
        values = self.msg.get_all(name)
        return None if values is None else "\n".join(str(v) for v in values)

    def header(self) -> str:
        return "\n".join(f"{k}: {v}" for k, v in self.msg.items())

    def body(self) -> str:
        if not self.decode:
            raw = self.m.data.split(b"\r\n\r\n", 1)
            return raw[1].decode("utf-8", "replace") if len(raw) == 2 else ""
        out = []
        for part in self.msg.walk():
            if part.is_multipart() or part.get_content_maintype() not in ("text", "message"):
                continue
            try:
                out.append(str(part.get_content()))  # type: ignore[attr-defined]
            except (LookupError, ValueError, KeyError, AttributeError):
                payload = part.get_payload(decode=True)
                out.append(payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload))
        return "\n".join(out)

    def internal_day(self) -> Day:
        t = time.gmtime(self.m.internaldate + self.m.tz_offset * 60)
        return t.tm_year, t.tm_mon, t.tm_mday

    def sent_day(self, utc: bool) -> Day:
        parsed = parsedate_tz(self.field("Date") or "")
        if parsed is None:
            return self.internal_day()  # no usable Date: field: the internal date stands in
        if utc:
            t = time.gmtime(mktime_tz(parsed))
            return t.tm_year, t.tm_mon, t.tm_mday
        return parsed[0], parsed[1], parsed[2]


def _day(v: wire.Value) -> Day:
    text = astring(v, "date")
    m = _DATE.match(text)
    if m is None or m.group(2).lower() not in _MONTHS:
        raise Bad(f"not a date: {text!r}")
    return int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1))


class _Criteria:
    """Search keys -> one predicate, read before any message is looked at (a syntax error is BAD)."""

    def __init__(self, s: Session, args: list[wire.Value]) -> None:
        self.s = s
        self.args = args
        self.i = 0
        self.texts: dict[int, _Text] = {}
        self.modseq = False  # a MODSEQ key was used: the response reports the highest mod-sequence

    def text(self, m: StoredMessage) -> _Text:
        if m.uid not in self.texts:
            self.texts[m.uid] = _Text(m, NO_DECODE not in self.s.b)
        return self.texts[m.uid]

    def take(self, what: str) -> wire.Value:
        if self.i >= len(self.args):
            raise Bad(f"{what} is missing")
        self.i += 1
        return self.args[self.i - 1]

    def all(self) -> Pred:
        preds = []
        while self.i < len(self.args):
            preds.append(self.key())
        if not preds:
            raise Bad("SEARCH needs a search key")
        return self.conj(preds)

    def conj(self, preds: list[Pred]) -> Pred:
        if AND_IS_OR in self.s.b:
            return lambda n, m: any(p(n, m) for p in preds)
        return lambda n, m: all(p(n, m) for p in preds)

    def contains(self, hay: str | None, needle: str) -> bool:
        if hay is None:
            return False
        if needle == "":
            return HEADER_EMPTY_NONE not in self.s.b
        if WHOLE_WORDS in self.s.b:
            flags = 0 if CASE_SENSITIVE in self.s.b else re.IGNORECASE
            return re.search(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", hay, flags) is not None
        if CASE_SENSITIVE in self.s.b:
            return needle in hay
        return needle.casefold() in hay.casefold()

    def key(self) -> Pred:
        v = self.take("search key")
        if isinstance(v, list):
            sub = _Criteria(self.s, v)
            sub.texts = self.texts
            preds = []
            while sub.i < len(v):
                preds.append(sub.key())
            if not preds:
                raise Bad("empty parenthesised search key")
            self.modseq = self.modseq or sub.modseq
            return preds[0] if PAREN_FIRST_ONLY in self.s.b else self.conj(preds)
        k = astring(v, "search key").upper()
        name, pred = self.plain(k, v)
        if name in KEY_DEFECTS and KEY_DEFECTS[name] in self.s.b:
            inner = pred
            return lambda n, m: not inner(n, m)
        return pred

    def plain(self, k: str, v: wire.Value) -> tuple[str, Pred]:
        s = self.s
        assert s.view is not None
        if k == "ALL":
            return k, lambda n, m: True
        if k in FLAG_KEYS:
            flag, wanted = FLAG_KEYS[k]
            return k, lambda n, m: (flag in m.flags) == wanted
        if k in ("KEYWORD", "UNKEYWORD"):
            kw = astring(self.take("keyword"), "keyword")
            return k, lambda n, m: (kw in m.flags) == (k == "KEYWORD")
        if k in ("RECENT", "NEW", "OLD") and not s.rev2:
            recent = s.view.recent
            if k == "RECENT":
                return k, lambda n, m: m.uid in recent
            if k == "NEW":
                return k, lambda n, m: m.uid in recent and "\\Seen" not in m.flags
            return k, lambda n, m: m.uid not in recent
        if k == "UID":
            uidset = self.take("UID set")
            uids = {m.uid for _, m in s.messages(uidset, uid=True)} if s.view.uids else set()
            return k, lambda n, m: m.uid in uids
        if k[:1].isdigit() or k[:1] == "*" or (k == "$" and SEARCHRES_KEY_BAD not in s.b):
            nums = {n for n, _ in s.messages(v, uid=False)} if s.view.uids else set()
            return "SEQUENCE-SET", lambda n, m: n in nums
        if k == "NOT":
            p = self.key()
            if KEY_NOT in s.b:
                return "", p
            return "", lambda n, m: not p(n, m)
        if k == "OR":
            a, b = self.key(), self.key()
            return k, lambda n, m: a(n, m) or b(n, m)
        if k in ("LARGER", "SMALLER"):
            size = astring(self.take(f"{k} size"), "size")
            if not size.isdigit():
                raise Bad(f"{k} needs a number")
            limit = int(size)
            if k == "LARGER":
                return k, lambda n, m: len(m.data) > limit
            return k, lambda n, m: len(m.data) < limit
        if k in ("BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"):
            day = _day(self.take(f"{k} date"))
            utc = SENT_DATE_UTC in s.b

            def when(m: StoredMessage) -> Day:
                t = self.text(m)
                return t.sent_day(utc) if k.startswith("SENT") else t.internal_day()

            if k.endswith("BEFORE"):
                return k, lambda n, m: when(m) < day
            if k.endswith("ON"):
                return k, lambda n, m: when(m) == day
            return k, lambda n, m: when(m) >= day
        if k in ADDRESS_KEYS:
            needle = astring(self.take(f"{k} string"), "search string")
            field = ADDRESS_KEYS[k]
            return k, lambda n, m: self.contains(self.text(m).field(field), needle)
        if k == "HEADER":
            field_name = astring(self.take("header field name"), "field name")
            needle = astring(self.take("header string"), "search string")
            return k, lambda n, m: self.contains(self.text(m).field(field_name), needle)
        if k in ("BODY", "TEXT"):
            needle = astring(self.take(f"{k} string"), "search string")
            both = k == "TEXT" or BODY_MATCHES_HEADER in s.b

            def found(m: StoredMessage) -> bool:
                t = self.text(m)
                return self.contains(t.body(), needle) or (both and self.contains(t.header(), needle))

            return k, lambda n, m: found(m)
        if k == "MODSEQ":
            nxt = self.take("mod-sequence")
            if isinstance(nxt, bytes):  # entry-name entry-type-req: one mod-sequence per message here
                self.take("entry type")
                nxt = self.take("mod-sequence")
            text = astring(nxt, "mod-sequence")
            if not text.isdigit():
                raise Bad("MODSEQ needs a mod-sequence")
            floor = int(text)
            self.modseq = True
            s.enabled.add("CONDSTORE")
            if SEARCH_MODSEQ_GREATER in s.b:
                return k, lambda n, m: m.modseq > floor
            return k, lambda n, m: m.modseq >= floor
        raise Bad(f"unknown search key {k}")


# --- SEARCH -----------------------------------------------------------------------------------


def _return_options(s: Session, arg: wire.Value) -> list[str]:
    if not isinstance(arg, list):
        raise Bad("RETURN needs a parenthesised list of options")
    opts = []
    for o in arg:
        name = astring(o, "return option").upper()
        if name not in RETURN_OPTIONS:
            if UNKNOWN_RETURN_OK in s.b:
                continue
            raise Bad(f"unknown RETURN option {name}")
        opts.append(name)
    return opts or ["ALL"]


@command("SEARCH", states=(SELECTED,), uid=True)
async def search(s: Session, cmd: Cmd) -> None:
    assert s.view is not None
    args = list(cmd.args)
    options: list[str] | None = None
    if len(args) >= 2 and isinstance(args[0], str) and args[0].upper() == "RETURN":
        options = _return_options(s, args[1])
        args = args[2:]
    if len(args) >= 2 and isinstance(args[0], str) and args[0].upper() == "CHARSET":
        charset = astring(args[1], "charset").upper()
        if charset not in CHARSETS or (charset == "UTF-8" and NO_UTF8 in s.b):
            known = " ".join(c for c in CHARSETS if not (c == "UTF-8" and NO_UTF8 in s.b))
            code = None if NO_BADCHARSET_CODE in s.b else f"BADCHARSET ({known})"
            if BADCHARSET_BAD in s.b:
                raise Bad(f"charset {charset} is not supported", code=code)
            raise No(f"charset {charset} is not supported", code=code)
        args = args[2:]
    criteria = _Criteria(s, args)
    pred = criteria.all()
    hits: list[tuple[int, StoredMessage]] = []
    for seq, m in s.messages(wire.Atom("1:*"), uid=False) if s.view.uids else []:
        if pred(seq, m):
            hits.append((seq, m))
    uid = cmd.uid and SEARCH_UID_AS_SEQ not in s.b
    found = [m.uid if uid else seq for seq, m in hits]
    top = max((m.modseq for _, m in hits), default=0) if criteria.modseq else 0
    if options is not None and "SAVE" in options:
        saved = [m.uid for _, m in hits]
        if hits and not {"ALL", "COUNT"} & set(options) and {"MIN", "MAX"} & set(options):
            # SAVE with MIN and/or MAX only saves what those return (RFC 9051 6.4.4.1, table 4).
            saved = sorted({saved[0] if "MIN" in options else saved[-1], saved[-1] if "MAX" in options else saved[0]})
        if SEARCHRES_NUMBERS in s.b:
            saved = [seq for seq, _ in hits]  # message numbers kept as if they were UIDs
        if SEARCHRES_SAVE_IGNORED not in s.b:
            s.extra["search_result"] = (s.view, saved)
        options = [o for o in options if o != "SAVE"]
        if not options:
            return
    esearch = (s.rev2 and REV2_SEARCH_RESPONSE not in s.b) or (not s.rev2 and REV1_ESEARCH in s.b)
    if options is not None:
        esearch = RETURN_AS_SEARCH not in s.b
    if not esearch:
        mod = f" (MODSEQ {top})" if top else ""
        s.untagged("SEARCH" + "".join(f" {n}" for n in found) + mod)
        return
    s.untagged(_esearch(s, cmd, options or ["ALL"], found, top))


def _esearch(s: Session, cmd: Cmd, options: list[str], found: list[int], top: int) -> str:
    assert s.view is not None
    parts = [] if ESEARCH_NO_TAG in s.b else [f'(TAG "{cmd.tag}")']
    if cmd.uid and ESEARCH_NO_UID not in s.b:
        parts.append("UID")
    view = s.view.uids if cmd.uid else list(range(1, len(s.view.uids) + 1))
    none = "0" if MIN_WHEN_NONE in s.b else None
    if "MIN" in options and (found or none):
        parts.append(f"MIN {view[0] if MIN_WRONG in s.b and view else min(found) if found else none}")
    if "MAX" in options and (found or none):
        parts.append(f"MAX {view[-1] if MAX_WRONG in s.b and view else max(found) if found else none}")
    if "ALL" in options and (found or none):
        listed = " ".join(map(str, sorted(found))) if ALL_NOT_SET in s.b else None
        parts.append(f"ALL {listed or (wire.format_sequence_set(found) if found else none)}")
    if "COUNT" in options and (found or COUNT_OMITTED_WHEN_ZERO not in s.b):
        parts.append(f"COUNT {len(found)}")
    if top:
        parts.append(f"MODSEQ {top}")
    return " ".join(["ESEARCH", *parts])


# --- notifications about other sessions' changes (core.Session.sync) ----------------------------


def _fetch_extras(s: Session, m: StoredMessage, *, unsolicited: bool) -> str:
    """UID and MODSEQ items that FETCH responses carry for this session (RFC 9051 6.3.13, RFC 7162 3.1, 3.2.4)."""
    out = ""
    if unsolicited and IDLE_FETCH_NO_UID not in s.b and (s.rev2 or "QRESYNC" in s.enabled):
        out += f" UID {m.uid}"
    if "CONDSTORE" in s.enabled and not (unsolicited and UNSOLICITED_NO_MODSEQ in s.b):
        out += f" MODSEQ ({m.modseq})"
    return out


def notify(s: Session, expunges: bool) -> None:
    """Tell the session what changed in its selected mailbox since it was last told.

    New messages (EXISTS) and flag changes (FETCH) are always sent; EXPUNGE (VANISHED once
    QRESYNC is enabled) only when ``expunges``: never while FETCH, STORE or SEARCH run (7.5.1).
    """
    v = s.view
    if v is None or s.user is None:
        return
    box = s.store.mailbox(s.user, v.name)
    if box is None or box.uidvalidity != v.uidvalidity:
        return
    current = {m.uid: m for m in box.messages}
    name = s.current.name if s.current is not None and not s.current.uid else ""
    if not expunges and name in DURING and DURING[name] in s.b:
        expunges = True
    gone = [u for u in v.uids if u not in current]
    if gone and expunges and NO_UNILATERAL_EXPUNGE not in s.b:
        before = list(v.uids)
        for uid in gone:
            v.uids.remove(uid)
            v.flags.pop(uid, None)
        if "QRESYNC" in s.enabled and EXPUNGE_NOT_VANISHED not in s.b:
            earlier = "(EARLIER) " if VANISHED_EARLIER_LIVE in s.b else ""
            s.untagged(f"VANISHED {earlier}{wire.format_sequence_set(gone)}")
        elif EXISTS_DECREASE in s.b:
            s.untagged(f"{len(v.uids)} EXISTS")
        else:
            # Lower to higher: each EXPUNGE's number already counts the earlier ones as gone.
            for i, uid in enumerate(gone):
                seq = before.index(uid) + 1
                s.untagged(f"{seq if NO_DECREMENT in s.b else seq - i} EXPUNGE")
    for uid in v.uids:
        m = current.get(uid)
        if m is not None and frozenset(m.flags) != v.flags.get(uid):
            v.flags[uid] = frozenset(m.flags)
            if NO_FLAG_UPDATE not in s.b:
                extras = _fetch_extras(s, m, unsolicited=True)
                s.untagged(f"{v.uids.index(uid) + 1} FETCH (FLAGS ({s.flag_list(m)}){extras})")
    _announce_new(s, [m for m in box.messages if m.uid > max(v.uids, default=0) and m.uid not in v.flags])


def _announce_new(s: Session, new: list[StoredMessage]) -> None:
    v = s.view
    if not new or v is None or NO_SIZE_UPDATE in s.b:
        return
    for m in new:
        v.uids.append(m.uid)
        v.flags[m.uid] = frozenset(m.flags)
    s.claim_recent([m.uid for m in new])
    s.untagged(f"{len(v.uids)} EXISTS")
    if not s.rev2:
        s.untagged(f"{len(v.recent)} RECENT")


core.NOTIFY.append(notify)


# --- IDLE -------------------------------------------------------------------------------------

IDLE_POLL = 0.05  # how often an idling session looks for other sessions' changes


@command("IDLE", states=AUTHED)
async def idle(s: Session, cmd: Cmd) -> None:
    nargs(cmd, 0)
    if IDLE_NO_CONTINUATION not in s.b:
        s.continuation("idling")
    await s.flush()
    deadline = time.monotonic() + s.cfg.idle_timeout
    while (line := s.parser.take_line()) is None:
        if time.monotonic() > deadline:
            s.untagged("BYE autologout: idle for too long")
            raise Close
        try:
            data = await asyncio.wait_for(s.reader.read(65536), IDLE_POLL)
        except TimeoutError:
            if IDLE_NO_UPDATES not in s.b:
                s.sync()
                await s.flush()
            continue
        if not data:
            raise Close
        s.parser.feed(data)
    if line.strip().upper() != b"DONE":
        raise Bad("IDLE ends with DONE")
    if IDLE_DONE_NO_TAGGED in s.b:
        s.untagged("OK IDLE terminated")
        s.completed = True


# --- CONDSTORE / QRESYNC: wrappers around the plain commands --------------------------------------

_ORIGINAL = {name: COMMANDS[name].handler for name in ("SELECT", "FETCH", "STORE", "EXPUNGE", "APPEND", "ENABLE")}
_FETCH_LINE = re.compile(rb"^\* (\d+) FETCH \(")
_EXPUNGE_LINE = re.compile(rb"^\* (\d+) EXPUNGE\r\n$")


def _modifiers(arg: wire.Value, known: tuple[str, ...]) -> dict[str, str | None]:
    """``(CHANGEDSINCE 5 VANISHED)`` -> {"CHANGEDSINCE": "5", "VANISHED": None}."""
    if not isinstance(arg, list):
        raise Bad("modifiers are a parenthesised list")
    out: dict[str, str | None] = {}
    i = 0
    while i < len(arg):
        name = astring(arg[i], "modifier").upper()
        i += 1
        if name not in known:
            raise Bad(f"unknown modifier {name}")
        if name == "VANISHED":
            out[name] = None
            continue
        if i >= len(arg) or not astring(arg[i], "mod-sequence").isdigit():
            raise Bad(f"{name} needs a mod-sequence")
        out[name] = astring(arg[i])
        i += 1
    return out


def _set_of(s: Session, msgs: list[tuple[int, StoredMessage]], uid: bool) -> wire.Atom:
    return wire.Atom(wire.format_sequence_set([m.uid if uid else n for n, m in msgs]))


def _decorate(s: Session, mark: int, *, modseq: bool, uid: bool) -> set[int]:
    """Add MODSEQ (and UID) to the FETCH responses emitted since ``mark``; the numbers they were for."""
    assert s.view is not None and s.user is not None
    current = {m.uid: m for m in s.box().messages}
    seen: set[int] = set()
    for i in range(mark, len(s.out)):
        hit = _FETCH_LINE.match(s.out[i])
        if hit is None:
            continue
        seq = int(hit.group(1))
        seen.add(seq)
        m = current.get(s.view.uids[seq - 1]) if seq <= len(s.view.uids) else None
        if m is None:
            continue
        add = b""
        if uid and b" UID " not in s.out[i] and b"(UID " not in s.out[i]:
            add += b"UID %d " % m.uid
        if modseq and b"MODSEQ (" not in s.out[i]:
            add += b"MODSEQ (%d) " % m.modseq
        s.out[i] = s.out[i][: hit.end()] + add + s.out[i][hit.end() :]
    return seen


def _uid_set(s: Session, uidset: wire.Value, what: str = "UID set") -> list[int]:
    largest = max([s.box().uidnext - 1, 1])
    try:
        return wire.expand_sequence_set(astring(uidset, what), largest)
    except RemoteProtocolError:
        raise Bad(f"malformed {what}") from None


def _vanished_earlier(s: Session, uidset: wire.Value, since: int, above: int = 0) -> str | None:
    """VANISHED (EARLIER) for the UIDs of ``uidset`` above ``above`` expunged after ``since``."""
    assert s.user is not None and s.view is not None
    box = s.box()
    wanted = set(_uid_set(s, uidset))
    gone = sorted(u for u, ms in box.expunged.items() if ms > since and u in wanted and u > above)
    return f"VANISHED (EARLIER) {wire.format_sequence_set(gone)}" if gone else None


@command("FETCH", states=(SELECTED,), uid=True)
async def fetch(s: Session, cmd: Cmd) -> None:
    assert s.view is not None and s.user is not None
    args = list(cmd.args)
    mods: dict[str, str | None] = {}
    if len(args) == 3:
        mods = _modifiers(args.pop(), ("CHANGEDSINCE", "VANISHED"))
    if len(args) != 2:
        raise Bad("FETCH sequence-set items [(modifiers)]")
    if "VANISHED" in mods:
        if not cmd.uid:
            raise Bad("VANISHED is a UID FETCH modifier")
        if "QRESYNC" not in s.enabled and VANISHED_WITHOUT_ENABLE not in s.b:
            raise Bad("VANISHED needs ENABLE QRESYNC first")
        if "CHANGEDSINCE" not in mods:
            raise Bad("VANISHED needs CHANGEDSINCE")
    items = args[1]
    names = [astring(x, "fetch item").upper() for x in items] if isinstance(items, list) else [astring(items).upper()]
    names_asked = list(names)
    asked = "MODSEQ" in names and FETCH_NO_MODSEQ not in s.b
    since = int(mods["CHANGEDSINCE"] or 0) if "CHANGEDSINCE" in mods else None
    if "MODSEQ" in names:
        names.remove("MODSEQ")
    if asked or since is not None:
        s.enabled.add("CONDSTORE")
    if RENUMBER_SILENTLY in s.b:
        live = {m.uid for m in s.box().messages}
        s.view.uids = [u for u in s.view.uids if u in live]
    late: list[StoredMessage] = []
    if EXISTS_AFTER_FETCH in s.b:
        late = [m for m in s.box().messages if m.uid > max(s.view.uids, default=0)]
        s.view.uids += [m.uid for m in late]
        s.view.flags.update({m.uid: frozenset(m.flags) for m in late})
    msgs = s.messages(args[0], cmd.uid)
    if since is not None and CHANGEDSINCE_IGNORED not in s.b:
        msgs = [(n, m) for n, m in msgs if m.modseq > since]
    vanished = _vanished_earlier(s, args[0], since or 0) if "VANISHED" in mods else None
    if vanished and VANISHED_AFTER_FETCH not in s.b:
        s.untagged(vanished)
    mark = len(s.out)
    if msgs and names:
        item_arg = items
        if "MODSEQ" in names_asked:
            item_arg = [wire.Atom(x) for x in names] if isinstance(items, list) else wire.Atom(names[0])
        await _ORIGINAL["FETCH"](s, Cmd(cmd.tag, cmd.name, (_set_of(s, msgs, cmd.uid), item_arg), cmd.uid, cmd.raw))
    elif msgs and not asked:
        await _ORIGINAL["FETCH"](
            s, Cmd(cmd.tag, cmd.name, (_set_of(s, msgs, cmd.uid), wire.Atom("UID")), cmd.uid, cmd.raw)
        )
    elif msgs:
        for n, m in msgs:
            s.untagged(f"{n} FETCH ({f'UID {m.uid} ' if cmd.uid else ''}MODSEQ ({m.modseq}))")
    modseq = asked or (since is not None and CHANGEDSINCE_NO_MODSEQ not in s.b)
    _decorate(s, mark, modseq=modseq, uid=False)
    if vanished and VANISHED_AFTER_FETCH in s.b:
        s.untagged(vanished)
    if late:
        s.untagged(f"{len(s.view.uids)} EXISTS")


@command("STORE", states=(SELECTED,), uid=True)
async def store(s: Session, cmd: Cmd) -> None:
    assert s.view is not None and s.user is not None
    args = list(cmd.args)
    mods: dict[str, str | None] = {}
    if len(args) == 4:
        mods = _modifiers(args.pop(1), ("UNCHANGEDSINCE",))
        s.enabled.add("CONDSTORE")
    if len(args) != 3:
        raise Bad("STORE sequence-set [(modifiers)] item flags")
    silent = astring(args[1], "store item").upper().endswith(".SILENT")
    msgs = s.messages(args[0], cmd.uid)
    failed: list[tuple[int, StoredMessage]] = []
    if "UNCHANGEDSINCE" in mods and UNCHANGEDSINCE_IGNORED not in s.b:
        limit = int(mods["UNCHANGEDSINCE"] or 0)
        failed = [(n, m) for n, m in msgs if m.modseq > limit]
        msgs = [(n, m) for n, m in msgs if m.modseq <= limit]
    before = {m.uid: m.modseq for _, m in msgs}
    mark = len(s.out)
    if msgs:
        await _ORIGINAL["STORE"](s, Cmd(cmd.tag, cmd.name, (_set_of(s, msgs, cmd.uid), *args[1:]), cmd.uid, cmd.raw))
    with s.store.lock:
        box = s.box()
        for _, m in msgs:
            if MODSEQ_STATIC in s.b:
                m.modseq = before[m.uid]
            elif NOOP_STORE_BUMPS in s.b and m.modseq == before[m.uid]:
                box.highestmodseq += 1
                m.modseq = box.highestmodseq
    qresync = "QRESYNC" in s.enabled and QRESYNC_FETCH_NO_UID not in s.b
    told = _decorate(s, mark, modseq="CONDSTORE" in s.enabled, uid=qresync)
    if "UNCHANGEDSINCE" in mods and silent and SILENT_NO_MODSEQ not in s.b:
        for n, m in msgs:
            if n not in told:
                s.untagged(f"{n} FETCH ({f'UID {m.uid} ' if cmd.uid or qresync else ''}MODSEQ ({m.modseq}))")
    if failed and NO_MODIFIED_CODE not in s.b:
        s.sync(expunges=False)
        s.tagged("OK", "conditional STORE completed", code=f"MODIFIED {_set_of(s, failed, cmd.uid)}")


@command("EXPUNGE", states=(SELECTED,), uid=True)
async def expunge(s: Session, cmd: Cmd) -> None:
    assert s.view is not None
    before = list(s.view.uids)
    mark = len(s.out)
    await _ORIGINAL["EXPUNGE"](s, cmd)
    if "QRESYNC" not in s.enabled or EXPUNGE_NOT_VANISHED in s.b:
        return
    # Once QRESYNC is enabled, one VANISHED (UIDs) replaces the EXPUNGE responses (RFC 7162 3.2.10.2).
    gone = []
    kept = []
    for chunk in s.out[mark:]:
        hit = _EXPUNGE_LINE.match(chunk)
        if hit is None:
            kept.append(chunk)
            continue
        gone.append(before.pop(int(hit.group(1)) - 1))
    del s.out[mark:]
    if gone:
        earlier = "(EARLIER) " if VANISHED_EARLIER_LIVE in s.b else ""
        s.untagged(f"VANISHED {earlier}{wire.format_sequence_set(gone)}")
    s.out.extend(kept)
    if gone and not s.completed and EXPUNGE_NO_HIGHESTMODSEQ not in s.b:
        # The new per-mailbox mod-sequence, in the tagged OK (RFC 7162 3.2.7 and 3.2.9).
        s.tagged("OK", "EXPUNGE completed", code=f"HIGHESTMODSEQ {s.box().highestmodseq}")


@command("APPEND", states=AUTHED)
async def append(s: Session, cmd: Cmd) -> None:
    await _ORIGINAL["APPEND"](s, cmd)
    if APPEND_LOW_MODSEQ in s.b and s.user is not None and cmd.args:
        box = s.store.mailbox(s.user, s.mailbox_name(cmd.args[0]))
        if box is not None and box.messages:
            box.messages[-1].modseq = 1


@command("ENABLE", states=AUTHED)
async def enable(s: Session, cmd: Cmd) -> None:
    args = cmd.args
    if ENABLE_QRESYNC_IGNORED in s.b:
        args = tuple(a for a in args if not (isinstance(a, str) and a.upper() == "QRESYNC"))
    await _ORIGINAL["ENABLE"](s, Cmd(cmd.tag, cmd.name, args, cmd.uid, cmd.raw))
    if "QRESYNC" in s.enabled:
        s.enabled.add("CONDSTORE")  # ENABLE QRESYNC is a CONDSTORE enabling command (RFC 7162 3.2.3)


@dataclass(frozen=True)
class _Resync:
    """``(uidvalidity modseq [known-uids] [(known-seqs known-uids)])`` of SELECT (QRESYNC ...)."""

    uidvalidity: int
    since: int
    known: wire.Value | None
    seq_match: tuple[wire.Value, wire.Value] | None


def _qresync_params(arg: wire.Value) -> _Resync:
    if not isinstance(arg, list) or not 2 <= len(arg) <= 4:
        raise Bad("QRESYNC (uidvalidity mod-sequence [known-uids] [seq-match-data])")
    uv, ms = astring(arg[0], "uidvalidity"), astring(arg[1], "mod-sequence")
    if not (uv.isdigit() and ms.isdigit()):
        raise Bad("QRESYNC needs a uidvalidity and a mod-sequence")
    rest = arg[2:]
    known = rest.pop(0) if rest and not isinstance(rest[0], list) else None
    match = rest.pop(0) if rest else None
    if rest or (match is not None and (not isinstance(match, list) or len(match) != 2)):
        raise Bad("seq-match-data is (known-sequence-set known-uid-set)")
    return _Resync(int(uv), int(ms), known, (match[0], match[1]) if isinstance(match, list) else None)


def _seq_match_floor(s: Session, match: tuple[wire.Value, wire.Value]) -> int:
    """The UID of the last pair that matches the mailbox, before the first that does not: the client
    knows every expunge up to it, which VANISHED leaves out (RFC 7162 3.2.5.2)."""
    assert s.view is not None
    seqs, uids = _uid_set(s, match[0], "known sequence set"), _uid_set(s, match[1])
    if len(seqs) != len(uids):
        raise Bad("seq-match-data: as many sequence numbers as UIDs")
    floor = 0
    for seq, uid in zip(seqs, uids, strict=True):
        if seq > len(s.view.uids) or s.view.uids[seq - 1] != uid:
            break
        floor = uid
    return floor


@command("SELECT", "EXAMINE", states=AUTHED)
async def select(s: Session, cmd: Cmd) -> None:
    args = list(cmd.args)
    qresync: _Resync | None = None
    if len(args) == 2 and isinstance(params := args[1], list):
        args = args[:1]
        i = 0
        while i < len(params):
            name = astring(params[i], "select parameter").upper()
            i += 1
            if name == "CONDSTORE":
                s.enabled.add("CONDSTORE")
            elif name == "QRESYNC" and i < len(params):
                if "QRESYNC" not in s.enabled and QRESYNC_WITHOUT_ENABLE not in s.b:
                    raise Bad("SELECT (QRESYNC ...) needs ENABLE QRESYNC first")
                qresync = _qresync_params(params[i])
                i += 1
            else:
                raise Bad(f"unknown SELECT parameter {name}")
    await _ORIGINAL["SELECT"](s, Cmd(cmd.tag, cmd.name, tuple(args), cmd.uid, cmd.raw))
    if s.view is None or not s.completed or s.user is None:
        return
    tagged = s.out.pop()
    box = s.box()
    v = s.view
    if RECENT_LATER_SESSIONS in s.b and not s.rev2:
        v.recent |= set(v.uids)
    if "CONDSTORE" in s.enabled and NO_HIGHESTMODSEQ not in s.b:
        highest = box.highestmodseq - (1 if HIGHESTMODSEQ_STALE in s.b else 0)
        s.untagged(f"OK [HIGHESTMODSEQ {highest}] highest mod-sequence")
    if qresync is not None and not (qresync.known and QRESYNC_KNOWN_UIDS_DROPPED in s.b):
        since = qresync.since
        known = None if QRESYNC_KNOWN_UIDS_IGNORED in s.b else qresync.known
        match = None if QRESYNC_SEQ_MATCH_IGNORED in s.b else qresync.seq_match
        if qresync.uidvalidity == box.uidvalidity or UIDVALIDITY_MISMATCH_IGNORED in s.b:
            above = _seq_match_floor(s, match) if match else 0
            vanished = _vanished_earlier(s, known or wire.Atom("1:*"), since, above)
            if vanished and QRESYNC_NO_VANISHED_EARLIER not in s.b:
                s.untagged(vanished)
            wanted = set(_uid_set(s, known)) if known else set(v.uids)
            for n, m in s.messages(wire.Atom("1:*"), uid=False) if v.uids else []:
                if m.modseq > since and m.uid in wanted:
                    s.untagged(f"{n} FETCH (UID {m.uid} FLAGS ({s.flag_list(m)}) MODSEQ ({m.modseq}))")
    s.out.append(tagged)
