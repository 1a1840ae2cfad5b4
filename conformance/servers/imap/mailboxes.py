"""SELECT, EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, LIST, LSUB, STATUS, NAMESPACE, QUOTA.

RFC 9051 6.3 with RFC 3501 (LSUB, RECENT), RFC 5258 LIST-EXTENDED, RFC 5819
LIST-STATUS, RFC 6154 SPECIAL-USE and CREATE-SPECIAL-USE, RFC 2342 NAMESPACE and
RFC 9208 QUOTA. Names are kept as Unicode in the store with "/" as the
delimiter; a parent DELETEd while it has inferiors stays as a level of hierarchy
(\\Noselect), as in RFC 9051's DELETE example. Every account has a Sent and a
Trash mailbox with their special use.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import re
from collections.abc import Callable

from ...store import Mailbox, StoredMessage
from ...wire import imap as wire
from ...wire.errors import RemoteProtocolError
from .core import AUTH, AUTHED, SELECTED, Bad, Cmd, No, Session, View, astring, command, defect, nargs, offer

# Seeded defects. One line each: what the server does wrong.
SELECT_NO_UIDVALIDITY = defect("select-no-uidvalidity", "leaves the UIDVALIDITY response code out of SELECT")
SELECT_NO_FLAGS = defect("select-no-flags", "sends no FLAGS response on SELECT")
EXISTS_OFF_BY_ONE = defect("select-exists-off-by-one", "counts one message too many in SELECT's EXISTS")
SELECT_NO_UIDNEXT = defect("select-no-uidnext", "leaves the UIDNEXT response code out of SELECT and EXAMINE")
EXAMINE_NO_UIDNEXT = defect("examine-no-uidnext", "leaves the UIDNEXT response code out of EXAMINE only")
SELECT_NO_PERMANENTFLAGS = defect("select-no-permanentflags", "sends no PERMANENTFLAGS on SELECT")
SELECT_NO_LIST = defect("select-no-list", "sends no LIST response on SELECT under IMAP4rev2")
SELECT_NO_UNSEEN = defect("select-no-unseen", "sends no OK [UNSEEN n] on SELECT under IMAP4rev1")
SELECT_NO_RECENT = defect("select-no-recent", "sends no RECENT response on SELECT under IMAP4rev1")
NO_READ_WRITE = defect("select-no-read-write", "completes SELECT without [READ-WRITE]")
EXAMINE_NO_READ_ONLY = defect("examine-no-read-only", "completes EXAMINE without [READ-ONLY]")
EXAMINE_WRITABLE = defect("examine-writable", "opens the mailbox read-write on EXAMINE")
SELECT_MISSING_BAD = defect("select-missing-bad", "answers SELECT/EXAMINE of a missing mailbox with BAD")
FAILED_SELECT_KEEPS = defect("failed-select-keeps", "keeps the previous mailbox selected when SELECT fails")
NO_CLOSED = defect("select-no-closed", "sends no [CLOSED] when SELECT deselects a mailbox under IMAP4rev2")
UIDVALIDITY_SHRINKS = defect("uidvalidity-shrinks", "announces a smaller UIDVALIDITY at every SELECT")
UIDNEXT_IS_LAST_UID = defect("uidnext-is-last-uid", "announces the last UID as UIDNEXT")
UIDNEXT_AHEAD = defect("uidnext-ahead", "announces a UIDNEXT one above the next UID")
UIDNEXT_DRIFTS = defect("uidnext-drifts", "announces a larger UIDNEXT every time it is asked")
UIDNEXT_FROM_LAST = defect("uidnext-from-last", "computes UIDNEXT as the last UID + 1 (lower after an expunge)")
INBOX_CASE_SENSITIVE = defect("inbox-case-sensitive", "treats 'inbox' in another case as another mailbox in SELECT")
CREATE_NOT_CREATED = defect("create-not-created", "answers CREATE OK without creating the mailbox")
CREATE_EXISTING_OK = defect("create-existing-ok", "answers CREATE of an existing name with OK")
CREATE_INBOX_OK = defect("create-inbox-ok", "answers CREATE INBOX (any case) with OK")
CREATE_KEEPS_DELIMITER = defect("create-keeps-delimiter", "creates a name with its trailing delimiter")
CREATE_NO_SUPERIORS = defect("create-no-superiors", "does not create the superiors of a hierarchical name")
RECREATE_REUSES_UIDS = defect("recreate-reuses-uids", "gives a recreated mailbox the old UIDVALIDITY and UIDs from 1")
DELETE_NOT_DELETED = defect("delete-not-deleted", "answers DELETE OK without deleting")
DELETE_MISSING_OK = defect("delete-missing-ok", "answers DELETE of a missing mailbox with OK")
DELETE_INBOX_OK = defect("delete-inbox-ok", "answers DELETE INBOX with OK")
DELETE_RECURSIVE = defect("delete-recursive", "deletes the inferiors of a deleted mailbox too")
DELETE_NOSELECT_OK = defect("delete-noselect-ok", "deletes a \\Noselect level and its inferiors")
DELETE_KEEPS_MESSAGES = defect("delete-keeps-messages", "brings a deleted mailbox's messages back when it is recreated")
DELETE_UNSUBSCRIBES = defect("delete-unsubscribes", "removes a deleted mailbox's name from the subscriptions")
RENAME_COPIES = defect("rename-copies", "leaves the old mailbox in place on RENAME")
RENAME_MISSING_OK = defect("rename-missing-ok", "answers RENAME of a missing mailbox with OK")
RENAME_OVERWRITES = defect("rename-overwrites", "replaces an existing mailbox on RENAME")
RENAME_LEAVES_INFERIORS = defect("rename-leaves-inferiors", "does not rename the inferiors on RENAME")
RENAME_NO_SUPERIORS = defect("rename-no-superiors", "does not create the superiors of RENAME's new name")
RENAME_REUSES_UIDS = defect("rename-reuses-uids", "gives a mailbox created under a renamed one's old name its UIDs")
RENAME_INBOX_COPIES = defect("rename-inbox-copies", "copies INBOX on RENAME INBOX, leaving the messages there")
RENAME_INBOX_REMOVES = defect("rename-inbox-removes", "renames INBOX away like any mailbox (no INBOX left)")
SUBSCRIBE_NOT_RECORDED = defect("subscribe-not-recorded", "answers SUBSCRIBE OK without recording it")
SUBSCRIBE_TWICE_NO = defect("subscribe-twice-no", "answers SUBSCRIBE of a subscribed name with NO")
UNSUBSCRIBE_KEEPS = defect("unsubscribe-keeps", "answers UNSUBSCRIBE OK without removing the name")
UNSUBSCRIBE_UNKNOWN_NO = defect("unsubscribe-unknown-no", "answers UNSUBSCRIBE of a name not subscribed with NO")
LSUB_LISTS_ALL = defect("lsub-lists-all", "lists every mailbox in LSUB")
LSUB_PERCENT_NO_NOSELECT = defect("lsub-percent-no-noselect", "gives LSUB's unsubscribed '%' parents no \\Noselect")
LIST_EMPTY_NOTHING = defect("list-empty-nothing", 'answers LIST "" "" with no LIST response')
LIST_IGNORES_PATTERN = defect("list-ignores-pattern", "lists every mailbox whatever the pattern")
LIST_STAR_ONE_LEVEL = defect("list-star-one-level", "lets '*' match one hierarchy level only")
LIST_PERCENT_DEEP = defect("list-percent-deep", "lets '%' match the hierarchy delimiter")
LIST_PERCENT_NO_LEVELS = defect("list-percent-no-levels", "leaves levels of hierarchy without a mailbox out of '%'")
LIST_NOSELECT_MISSING = defect("list-noselect-missing", "lists levels without a mailbox without \\Noselect")
LIST_HIDES_INBOX = defect("list-hides-inbox", "never lists INBOX")
LIST_NOTHING_NO = defect("list-nothing-no", "answers a LIST that matches nothing with NO")
LIST_BOTH_CHILDREN = defect("list-both-children", "gives both \\HasChildren and \\HasNoChildren to parents")
LIST_NOSELECT_MARKED = defect("list-noselect-marked", "gives \\Noselect levels \\Unmarked too")
LIST_MIXED_DELIMITER = defect("list-mixed-delimiter", "uses '.' as the delimiter of names two levels deep")
CHILDREN_WRONG = defect("children-wrong", "gives every mailbox \\HasNoChildren")
LIST_FIRST_PATTERN_ONLY = defect("list-first-pattern-only", "uses only the first of several LIST patterns")
LIST_DUPLICATES = defect("list-duplicates", "lists a name once per pattern it matches")
EXTENDED_EMPTY_DELIMITER = defect("extended-empty-delimiter", 'answers an extended LIST of "" with the delimiter')
LIST_UNKNOWN_OPTION_OK = defect("list-unknown-option-ok", "ignores unknown LIST options instead of BAD")
LIST_SUBSCRIBED_ALL = defect("list-subscribed-all", "lists every mailbox for LIST (SUBSCRIBED)")
NONEXISTENT_MISSING = defect("nonexistent-missing", "lists subscribed names without a mailbox without \\NonExistent")
RETURN_SUBSCRIBED_WRONG = defect("return-subscribed-wrong", "marks every name \\Subscribed for RETURN (SUBSCRIBED)")
RECURSIVEMATCH_ALONE_OK = defect("recursivematch-alone-ok", "accepts RECURSIVEMATCH as the only selection option")
CHILDINFO_ALWAYS = defect("childinfo-always", "acts as if RECURSIVEMATCH were always given (CHILDINFO)")
NO_CHILDINFO = defect("no-childinfo", "ignores RECURSIVEMATCH (no parents with CHILDINFO)")
RETURN_OPTIONS_EXTRA = defect("return-options-extra", "lists every mailbox when return options are given")
LIST_STATUS_MISSING = defect("list-status-missing", "sends no STATUS for LIST RETURN (STATUS ...)")
LIST_STATUS_WRONG = defect("list-status-wrong", "counts one message too many in LIST RETURN (STATUS)")
SPECIAL_USE_SELECTS_ALL = defect("special-use-selects-all", "lists every mailbox for LIST (SPECIAL-USE)")
SPECIAL_USE_RETURN_MISSING = defect("special-use-return-missing", "never sends special-use attributes")
CREATE_USE_IGNORED = defect("create-use-ignored", "creates the mailbox without the special use CREATE asks for")
CREATE_USE_UNKNOWN_OK = defect("create-use-unknown-ok", "creates a mailbox with an unknown special use")
STATUS_MESSAGES_WRONG = defect("status-messages-wrong", "counts one message too many in STATUS MESSAGES")
STATUS_UNSEEN_WRONG = defect("status-unseen-wrong", "counts the seen messages in STATUS UNSEEN")
STATUS_UIDS_WRONG = defect("status-uids-wrong", "announces another UIDVALIDITY in STATUS than in SELECT")
STATUS_DELETED_WRONG = defect("status-deleted-wrong", "answers STATUS DELETED with 0")
STATUS_NAME_WRONG = defect("status-name-wrong", "names INBOX in every STATUS response")
STATUS_SIZE_SMALL = defect("status-size-small", "counts line ends as one octet in STATUS SIZE")
STATUS_SELECTED_NO = defect("status-selected-no", "refuses STATUS of the selected mailbox")
STATUS_DESELECTS = defect("status-deselects", "deselects the selected mailbox on STATUS")
STATUS_SETS_SEEN = defect("status-sets-seen", "sets \\Seen on the messages of a mailbox STATUS asks about")
STATUS_MISSING_OK = defect("status-missing-ok", "answers STATUS of a missing mailbox with OK and nothing")
NAMESPACE_TWO_RESPONSES = defect("namespace-two-responses", "sends the NAMESPACE response twice")
NAMESPACE_MALFORMED = defect("namespace-malformed", "sends the personal namespace without its outer list")
NAMESPACE_PERSONAL_ELSEWHERE = defect("namespace-personal-elsewhere", "announces a personal prefix INBOX is not in")
QUOTAROOT_NO_QUOTA = defect("quotaroot-no-quota", "sends no QUOTA response with GETQUOTAROOT")
QUOTAROOT_WRONG_MAILBOX = defect("quotaroot-wrong-mailbox", "names another mailbox in QUOTAROOT")
GETQUOTA_NO_QUOTA = defect("getquota-no-quota", "answers GETQUOTA OK without a QUOTA response")
QUOTA_RESOURCE_UNANNOUNCED = defect("quota-resource-unannounced", "reports a MAILBOX resource it does not announce")
MUTF7_CASE_FOLDED = defect("mutf7-case-folded", "lists modified BASE64 runs in lower case")
AMPERSAND_RAW = defect("ampersand-raw", "lists '&' as itself instead of '&-'")
MUTF7_ASCII_ENCODED = defect("mutf7-ascii-encoded", "encodes the first letter of listed names in modified BASE64")
CREATE_ACCEPTS_BAD_MUTF7 = defect("create-accepts-bad-mutf7", "creates names that are not valid modified UTF-7")
UTF8_NAMES_REFUSED = defect("utf8-names-refused", "refuses UTF-8 mailbox names after ENABLE UTF8=ACCEPT")
UTF8_NAMES_ALWAYS = defect("utf8-names-always", "sends UTF-8 mailbox names to sessions without UTF8=ACCEPT")

offer(
    "NAMESPACE",
    "CHILDREN",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "SPECIAL-USE",
    "CREATE-SPECIAL-USE",
    "STATUS=SIZE",
    "QUOTA",
    "QUOTA=RES-STORAGE",
    "QUOTA=RES-MESSAGE",
)

DELIM = "/"
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
SPECIAL_USES = ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash")
DEFAULT_SPECIAL = (("Sent", "\\Sent"), ("Trash", "\\Trash"))
QUOTA_LIMITS = {"STORAGE": 1024 * 1024, "MESSAGE": 100000}  # STORAGE in units of 1024 octets

# Called after a successful SELECT/EXAMINE, before the tagged OK (CONDSTORE/QRESYNC add their data).
AFTER_SELECT: list[Callable[[Session, Cmd, Mailbox], None]] = []

# Seeded-defect memory, per store and user: what a deleted or renamed-away mailbox was.
_FORMER: dict[tuple[int, str, str], int] = {}  # -> its UIDVALIDITY (RECREATE/RENAME_REUSES_UIDS)
_KEPT: dict[tuple[int, str, str], list[StoredMessage]] = {}  # -> its messages (DELETE_KEEPS_MESSAGES)
_COUNTER = itertools.count(1)  # UIDVALIDITY_SHRINKS, UIDNEXT_DRIFTS


# --- names --------------------------------------------------------------------------------------


def _out_name(s: Session, name: str) -> bytes:
    """A mailbox name for a response (modified UTF-7, or UTF-8 once UTF8=ACCEPT is enabled)."""
    if UTF8_NAMES_ALWAYS in s.b:
        return s.encode_name(name, True)
    text = s.encode_name(name, s.utf8).decode()
    if AMPERSAND_RAW in s.b:
        text = text.replace("&-", "&")
    if MUTF7_CASE_FOLDED in s.b:
        text = re.sub(r"&[A-Za-z0-9+,]+-", lambda m: m.group(0).lower(), text)
    if MUTF7_ASCII_ENCODED in s.b and text[1:2].isalpha() and text != '"INBOX"':
        text = '"&' + _b64_ascii(text[1]) + "-" + text[2:]
    return text.encode()


def _b64_ascii(ch: str) -> str:
    return base64.b64encode(ch.encode("utf-16-be")).decode().rstrip("=").replace("/", ",")


def _name_arg(s: Session, v: wire.Value, *, lenient: bool = False) -> str:
    """A mailbox argument as the store names it; ``lenient`` keeps names that are not valid modified UTF-7."""
    if lenient:
        raw = astring(v, "mailbox name")
        try:
            wire.decode_mailbox(raw)
        except RemoteProtocolError:
            return raw
    return s.mailbox_name(v)


def _parent_names(name: str) -> list[str]:
    parts = name.split(DELIM)
    return [DELIM.join(parts[:i]) for i in range(1, len(parts))]


def _user(s: Session) -> str:
    assert s.user is not None
    return s.user


def _ensure_special(s: Session) -> None:
    """Every account has its Sent and Trash (SPECIAL-USE needs mailboxes that have one)."""
    user = _user(s)
    for name, use in DEFAULT_SPECIAL:
        if s.store.mailbox(user, name) is None and name not in s.store.noselect_levels(user):
            with contextlib.suppress(KeyError):
                s.store.create_mailbox(user, name, special_use=use)


# --- UIDNEXT and UIDVALIDITY as announced ---------------------------------------------------------


def _uidnext(s: Session, box: Mailbox) -> int:
    last = box.messages[-1].uid if box.messages else 0
    if UIDNEXT_IS_LAST_UID in s.b:
        return max(last, 1)
    if UIDNEXT_AHEAD in s.b:
        return box.uidnext + 1
    if UIDNEXT_DRIFTS in s.b:
        return box.uidnext + next(_COUNTER)
    if UIDNEXT_FROM_LAST in s.b:
        return last + 1
    return box.uidnext


def _uidvalidity(s: Session, box: Mailbox) -> int:
    if UIDVALIDITY_SHRINKS in s.b:
        return max(1, box.uidvalidity - next(_COUNTER))
    return box.uidvalidity


# --- SELECT / EXAMINE -------------------------------------------------------------------------------


def _children(names: set[str], name: str) -> bool:
    return any(n.startswith(name + DELIM) for n in names)


@command("SELECT", "EXAMINE", states=AUTHED)
async def select(s: Session, cmd: Cmd) -> None:
    nargs(cmd, 1, 2)
    user = _user(s)
    raw = astring(cmd.args[0], "mailbox name")
    name = s.mailbox_name(cmd.args[0])
    previous = s.view
    # Any SELECT deselects the current mailbox first, even when it fails (RFC 9051 6.3.2).
    if FAILED_SELECT_KEEPS not in s.b:
        s.view = None
        s.state = AUTH
    if previous is not None and (s.rev2 or "QRESYNC" in s.enabled) and NO_CLOSED not in s.b:
        s.untagged("OK [CLOSED] previous mailbox is now closed")
    box = s.store.mailbox(user, name)
    if INBOX_CASE_SENSITIVE in s.b and name == "INBOX" and raw != "INBOX":
        box = None
    if box is None:
        if SELECT_MISSING_BAD in s.b:
            raise Bad(f"no mailbox {name}")
        raise No(f"no mailbox {name}", code="NONEXISTENT")
    examine = cmd.name == "EXAMINE"
    v = View(name, examine and EXAMINE_WRITABLE not in s.b, box.uidvalidity)
    for m in box.messages:
        v.uids.append(m.uid)
        v.flags[m.uid] = frozenset(m.flags)
        v.modseqs[m.uid] = m.modseq
    s.view = v
    s.state = SELECTED
    if not s.rev2:
        s.claim_recent(list(v.uids))
    keywords = sorted({f for m in box.messages for f in m.flags if not f.startswith("\\")})
    flags = " ".join([*SYSTEM_FLAGS, *keywords])
    s.untagged(f"{len(v.uids) + (EXISTS_OFF_BY_ONE in s.b)} EXISTS")
    if not s.rev2 and SELECT_NO_RECENT not in s.b:
        s.untagged(f"{len(v.recent)} RECENT")
    unseen = next((n for n, m in enumerate(box.messages, 1) if "\\Seen" not in m.flags), None)
    if not s.rev2 and unseen is not None and SELECT_NO_UNSEEN not in s.b:
        s.untagged(f"OK [UNSEEN {unseen}] first unseen message")  # RFC 3501 6.3.1; IMAP4rev2 dropped it
    if SELECT_NO_FLAGS not in s.b:
        s.untagged(f"FLAGS ({flags})")
    if SELECT_NO_PERMANENTFLAGS not in s.b:
        if examine:
            s.untagged("OK [PERMANENTFLAGS ()] no permanent flags in a read-only mailbox")
        else:
            s.untagged(f"OK [PERMANENTFLAGS ({flags} \\*)] flags and keywords can be stored")
    if SELECT_NO_UIDVALIDITY not in s.b:
        s.untagged(f"OK [UIDVALIDITY {_uidvalidity(s, box)}] UIDs valid")
    if SELECT_NO_UIDNEXT not in s.b and not (examine and EXAMINE_NO_UIDNEXT in s.b):
        s.untagged(f"OK [UIDNEXT {_uidnext(s, box)}] predicted next UID")
    if s.rev2 and SELECT_NO_LIST not in s.b:
        names = set(s.store.mailbox_names(user))
        attrs = "\\HasChildren" if _children(names, name) else "\\HasNoChildren"
        s.untagged(f'LIST ({attrs}) "{DELIM}" '.encode() + _out_name(s, name))
    for hook in AFTER_SELECT:
        hook(s, cmd, box)
    if examine:
        code = None if EXAMINE_NO_READ_ONLY in s.b else "READ-ONLY"
    else:
        code = None if NO_READ_WRITE in s.b else "READ-WRITE"
    s.tagged("OK", f"{cmd.name} completed", code=code)


# --- CREATE / DELETE / RENAME ---------------------------------------------------------------------


def _use_attrs(s: Session, cmd: Cmd) -> list[str]:
    """The special uses of CREATE's ``(USE (\\Attr ...))`` parameter (RFC 6154 3, RFC 4466 2.2)."""
    if len(cmd.args) < 2:
        return []
    params = cmd.args[1]
    if not isinstance(params, list) or len(params) != 2 or str(params[0]).upper() != "USE":
        raise Bad("CREATE parameters must be (USE (attributes))")
    if not isinstance(params[1], list):
        raise Bad("USE takes a parenthesised list of special-use attributes")
    attrs = [str(a) for a in params[1]]
    known = {u.lower(): u for u in SPECIAL_USES}
    unknown = [a for a in attrs if a.lower() not in known]
    if unknown and CREATE_USE_UNKNOWN_OK not in s.b:
        raise No(f"special use {unknown[0]} is not supported", code="USEATTR")
    return [known[a.lower()] for a in attrs if a.lower() in known]


def _make(s: Session, name: str, special: str = "") -> None:
    """Create ``name`` in the store (a level of hierarchy becomes a mailbox), with the defects' memories."""
    user = _user(s)
    key = (id(s.store), user, name)
    s.store.set_noselect_level(user, name, False)
    box = s.store.create_mailbox(user, name, special_use=special)
    if key in _FORMER and (RECREATE_REUSES_UIDS in s.b or RENAME_REUSES_UIDS in s.b):
        box.uidvalidity = _FORMER.pop(key)
    if key in _KEPT and DELETE_KEEPS_MESSAGES in s.b:
        box.messages = _KEPT.pop(key)


@command("CREATE", states=AUTHED)
async def create(s: Session, cmd: Cmd) -> None:
    nargs(cmd, 1, 2)
    user = _user(s)
    name = _name_arg(s, cmd.args[0], lenient=CREATE_ACCEPTS_BAD_MUTF7 in s.b)
    uses = _use_attrs(s, cmd)
    if CREATE_USE_IGNORED in s.b:
        uses = []
    if CREATE_KEEPS_DELIMITER not in s.b:
        # A trailing delimiter only declares that inferiors will follow (RFC 9051 6.3.4).
        name = name.rstrip(DELIM)
    if name.upper() == "INBOX":
        if CREATE_INBOX_OK in s.b:
            return
        raise No("INBOX exists already", code="ALREADYEXISTS")
    if s.store.mailbox(user, name) is not None:
        if CREATE_EXISTING_OK in s.b:
            return
        raise No(f"mailbox {name} exists already", code="ALREADYEXISTS")
    if not name or DELIM * 2 in name.rstrip(DELIM) or name.startswith(DELIM):
        raise No("not a valid mailbox name", code="CANNOT")
    if UTF8_NAMES_REFUSED in s.b and not name.isascii():
        raise No("UTF-8 mailbox names are not accepted", code="CANNOT")
    if CREATE_NOT_CREATED in s.b:
        return
    if CREATE_NO_SUPERIORS not in s.b:
        for parent in _parent_names(name):
            if parent.upper() != "INBOX" and s.store.mailbox(user, parent) is None:
                _make(s, parent)
    _make(s, name, " ".join(uses))


@command("DELETE", states=AUTHED)
async def delete(s: Session, cmd: Cmd) -> None:
    nargs(cmd, 1)
    user = _user(s)
    name = s.mailbox_name(cmd.args[0])
    if name == "INBOX":
        if DELETE_INBOX_OK in s.b:
            return
        raise No("INBOX cannot be deleted", code="CANNOT")
    names = set(s.store.mailbox_names(user))
    box = s.store.mailbox(user, name)
    if box is None:
        if name in s.store.noselect_levels(user):
            if _children(names, name) and DELETE_NOSELECT_OK not in s.b:
                raise No(f"{name} is a \\Noselect name with inferior hierarchical names", code="HASCHILDREN")
            s.store.set_noselect_level(user, name, False)
            for child in sorted(n for n in names if n.startswith(name + DELIM)):
                s.store.delete_mailbox(user, child)
            return
        if DELETE_MISSING_OK in s.b:
            return
        raise No(f"no mailbox {name}", code="NONEXISTENT")
    if DELETE_NOT_DELETED in s.b:
        return
    if s.view is not None and s.view.name == name:
        s.view = None
        s.state = AUTH
    key = (id(s.store), user, name)
    _FORMER[key] = box.uidvalidity
    if DELETE_KEEPS_MESSAGES in s.b:
        _KEPT[key] = list(box.messages)
    s.store.delete_mailbox(user, name)
    inferiors = sorted((n for n in names if n.startswith(name + DELIM)), reverse=True)
    if DELETE_RECURSIVE in s.b:
        for child in inferiors:
            s.store.delete_mailbox(user, child)
    elif inferiors:
        s.store.set_noselect_level(user, name)
    if DELETE_UNSUBSCRIBES in s.b:
        s.store.subscribe(user, name, False)


@command("RENAME", states=AUTHED)
async def rename(s: Session, cmd: Cmd) -> None:
    nargs(cmd, 2)
    user = _user(s)
    old, new = s.mailbox_name(cmd.args[0]), s.mailbox_name(cmd.args[1]).rstrip(DELIM)
    box = s.store.mailbox(user, old)
    if box is None:
        if RENAME_MISSING_OK in s.b:
            return
        raise No(f"no mailbox {old}", code="NONEXISTENT")
    if s.store.mailbox(user, new) is not None or new.upper() == "INBOX":
        if RENAME_OVERWRITES not in s.b or new.upper() == "INBOX":
            raise No(f"mailbox {new} exists already", code="ALREADYEXISTS")
        s.store.delete_mailbox(user, new)
    if not new or new.startswith(DELIM) or (new + DELIM).startswith(old + DELIM):
        raise No("not a valid new name", code="CANNOT")
    if RENAME_NO_SUPERIORS not in s.b:
        for parent in _parent_names(new):
            if s.store.mailbox(user, parent) is None:
                _make(s, parent)
    if old == "INBOX" and RENAME_INBOX_REMOVES not in s.b:
        # RENAME INBOX moves its messages to the new name and leaves INBOX, empty (RFC 9051 6.3.6).
        _make(s, new)
        if RENAME_INBOX_COPIES in s.b:
            for m in box.messages:
                s.store.append(user, new, m.data, set(m.flags), m.internaldate, m.tz_offset)
        else:
            s.store.move_all(user, "INBOX", new)
        return
    if s.view is not None and s.view.name == old:
        s.view = None
        s.state = AUTH
    if RENAME_COPIES in s.b:
        _make(s, new)
        for m in box.messages:
            s.store.append(user, new, m.data, set(m.flags), m.internaldate, m.tz_offset)
        return
    _FORMER[(id(s.store), user, old)] = box.uidvalidity
    if RENAME_LEAVES_INFERIORS in s.b:
        s.store.rename_one(user, old, new)
    else:
        s.store.rename_mailbox(user, old, new)


# --- SUBSCRIBE / UNSUBSCRIBE -------------------------------------------------------------------------


@command("SUBSCRIBE", states=AUTHED)
async def subscribe(s: Session, cmd: Cmd) -> None:
    nargs(cmd, 1)
    user, name = _user(s), s.mailbox_name(cmd.args[0])
    if SUBSCRIBE_TWICE_NO in s.b and name in s.store.subscribed(user):
        raise No(f"{name} is subscribed already")
    if SUBSCRIBE_NOT_RECORDED not in s.b:
        s.store.subscribe(user, name)


@command("UNSUBSCRIBE", states=AUTHED)
async def unsubscribe(s: Session, cmd: Cmd) -> None:
    nargs(cmd, 1)
    user, name = _user(s), s.mailbox_name(cmd.args[0])
    if UNSUBSCRIBE_UNKNOWN_NO in s.b and name not in s.store.subscribed(user):
        raise No(f"{name} is not subscribed")
    if UNSUBSCRIBE_KEEPS not in s.b:
        s.store.subscribe(user, name, False)


# --- LIST and LSUB ---------------------------------------------------------------------------------


def _pattern(s: Session, ref: str, pat: str) -> re.Pattern[str]:
    """A LIST reference + pattern as a regular expression: ``*`` anything, ``%`` anything but the delimiter."""
    star = f"[^{re.escape(DELIM)}]*" if LIST_STAR_ONE_LEVEL in s.b else ".*"
    percent = ".*" if LIST_PERCENT_DEEP in s.b else f"[^{re.escape(DELIM)}]*"
    out = [star if ch == "*" else percent if ch == "%" else re.escape(ch) for ch in ref + pat]
    return re.compile("^" + "".join(out) + "$", re.DOTALL)


def _matches(s: Session, rx: re.Pattern[str], name: str) -> bool:
    if LIST_IGNORES_PATTERN in s.b:
        return True
    if name == "INBOX":
        if LIST_HIDES_INBOX in s.b:
            return False
        # INBOX is matched case-insensitively: its pattern's first five characters may be in any case.
        return bool(re.match(rx.pattern, name, re.IGNORECASE | re.DOTALL))
    return bool(rx.match(name))


def _status_items(s: Session, box: Mailbox, items: list[str]) -> list[str]:
    """``MESSAGES 3 UIDNEXT 5`` ... for STATUS and LIST RETURN (STATUS)."""
    msgs = box.messages
    user = _user(s)
    values: dict[str, int] = {
        "MESSAGES": len(msgs) + (STATUS_MESSAGES_WRONG in s.b),
        "UIDNEXT": _uidnext(s, box),
        "UIDVALIDITY": _uidvalidity(s, box) + (STATUS_UIDS_WRONG in s.b),
        "UNSEEN": sum(("\\Seen" in m.flags) == (STATUS_UNSEEN_WRONG in s.b) for m in msgs),
        "DELETED": 0 if STATUS_DELETED_WRONG in s.b else sum("\\Deleted" in m.flags for m in msgs),
        "SIZE": sum(len(m.data) - (m.data.count(b"\r\n") if STATUS_SIZE_SMALL in s.b else 0) for m in msgs),
        "DELETED-STORAGE": sum(len(m.data) for m in msgs if "\\Deleted" in m.flags) // 1024,
        "HIGHESTMODSEQ": box.highestmodseq,
    }
    claimed = s.cfg.recent_claims.get((user, box.name, box.uidvalidity), set())
    values["RECENT"] = sum(m.uid not in claimed for m in msgs)
    out = []
    for item in items:
        key = item.upper()
        if key not in values or (key == "RECENT" and s.rev2):
            raise Bad(f"unknown STATUS item {item}")
        out.append(f"{key} {values[key]}")
    return out


def _options(v: wire.Value, what: str) -> list[wire.Value]:
    if not isinstance(v, list):
        raise Bad(f"{what} must be a parenthesised list")
    return v


class _ListArgs:
    """The basic or extended LIST syntax (RFC 5258 / RFC 9051 6.3.9), parsed."""

    def __init__(self, s: Session, cmd: Cmd) -> None:
        args = list(cmd.args)
        self.selection: set[str] = set()
        self.returns: set[str] = set()
        self.status: list[str] = []
        self.extended = False
        if args and isinstance(args[0], list):
            self.extended = True
            self.selection = {str(o).upper() for o in _options(args.pop(0), "selection options")}
        if len(args) < 2:
            raise Bad("LIST takes a reference and a mailbox pattern")
        self.ref = astring(args[0], "reference")
        pats = args[1]
        if isinstance(pats, list):
            self.extended = True
            self.patterns = [astring(p, "mailbox pattern") for p in pats]
        else:
            self.patterns = [astring(pats, "mailbox pattern")]
        rest = args[2:]
        if rest:
            self.extended = True
            if len(rest) != 2 or str(rest[0]).upper() != "RETURN":
                raise Bad("LIST takes RETURN (options) after the patterns")
            opts = _options(rest[1], "RETURN options")
            i = 0
            while i < len(opts):
                opt = str(opts[i]).upper()
                self.returns.add(opt)
                if opt == "STATUS":
                    if i + 1 >= len(opts):
                        raise Bad("RETURN (STATUS) needs a list of status items")
                    self.status = [str(x) for x in _options(opts[i + 1], "STATUS items")]
                    i += 1
                i += 1
        unknown = (self.selection - {"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"}) | (
            self.returns - {"SUBSCRIBED", "CHILDREN", "STATUS", "SPECIAL-USE"}
        )
        if unknown and LIST_UNKNOWN_OPTION_OK not in s.b:
            raise Bad(f"unknown LIST option {sorted(unknown)[0]}")
        alone = "RECURSIVEMATCH" in self.selection and self.selection <= {"RECURSIVEMATCH", "REMOTE"}
        if alone and RECURSIVEMATCH_ALONE_OK not in s.b:
            raise Bad("RECURSIVEMATCH needs another selection option")


@command("LIST", states=AUTHED)
async def list_(s: Session, cmd: Cmd) -> None:
    user = _user(s)
    a = _ListArgs(s, cmd)
    _ensure_special(s)
    if a.patterns == [""] and (not a.extended or EXTENDED_EMPTY_DELIMITER in s.b):
        # An empty pattern asks for the hierarchy delimiter and the root (RFC 9051 6.3.9).
        if LIST_EMPTY_NOTHING not in s.b:
            s.untagged(f'LIST (\\Noselect) "{DELIM}" ""')
        return
    patterns = [p for p in a.patterns if p][: 1 if LIST_FIRST_PATTERN_ONLY in s.b else None]
    rxs = [_pattern(s, a.ref, p) for p in patterns]
    percent_last = any(p.endswith("%") for p in patterns)
    existing = set(s.store.mailbox_names(user))
    levels = set() if LIST_PERCENT_NO_LEVELS in s.b else s.store.noselect_levels(user) - existing
    subscribed = s.store.subscribed(user)
    known = existing | levels
    # Levels of hierarchy without a mailbox of their own: superiors of existing names (RFC 9051 6.3.9).
    implied = set() if LIST_PERCENT_NO_LEVELS in s.b else {p for n in known for p in _parent_names(n)} - known
    sel_sub = "SUBSCRIBED" in a.selection and LIST_SUBSCRIBED_ALL not in s.b
    recursive = ("RECURSIVEMATCH" in a.selection or CHILDINFO_ALWAYS in s.b) and NO_CHILDINFO not in s.b
    candidates = set(subscribed) if sel_sub else known | (implied if percent_last else set())
    if "SPECIAL-USE" in a.selection and SPECIAL_USE_SELECTS_ALL not in s.b:
        candidates = {n for n in candidates if (b := s.store.mailbox(user, n)) is not None and b.special_use}

    def hits(name: str) -> int:
        return sum(_matches(s, rx, name) for rx in rxs)

    results: dict[str, list[str]] = {}  # name -> extended data
    for name in candidates:
        if hits(name) or (a.returns and RETURN_OPTIONS_EXTRA in s.b):
            results[name] = []
    if sel_sub and "SUBSCRIBED" in a.selection and recursive:
        # Parents that match but are not subscribed, with a subscribed descendant the pattern does not match.
        for name in known | implied:
            if name in results or not hits(name):
                continue
            if any(d.startswith(name + DELIM) and not hits(d) for d in subscribed):
                results[name] = ['("CHILDINFO" ("SUBSCRIBED"))']
    if not results and LIST_NOTHING_NO in s.b:
        raise No("nothing matches")
    all_names = known | implied
    for name in sorted(results, key=lambda n: (n != "INBOX", n)):
        box = s.store.mailbox(user, name)
        attrs: list[str] = []
        if box is None:
            if name in levels or name in implied:
                if LIST_NOSELECT_MISSING not in s.b:
                    attrs.append("\\Noselect")
                if LIST_NOSELECT_MARKED in s.b:
                    attrs.append("\\Unmarked")
            elif NONEXISTENT_MISSING not in s.b:
                attrs.append("\\NonExistent")
        has_children = _children(all_names, name)
        if CHILDREN_WRONG in s.b:
            attrs.append("\\HasNoChildren")
        elif LIST_BOTH_CHILDREN in s.b and has_children:
            attrs += ["\\HasChildren", "\\HasNoChildren"]
        else:
            attrs.append("\\HasChildren" if has_children else "\\HasNoChildren")
        wants_sub = "SUBSCRIBED" in a.selection or "SUBSCRIBED" in a.returns
        if wants_sub and (name in subscribed or ("SUBSCRIBED" in a.returns and RETURN_SUBSCRIBED_WRONG in s.b)):
            attrs.append("\\Subscribed")
        if (
            box is not None
            and box.special_use
            and not (SPECIAL_USE_RETURN_MISSING in s.b and "SPECIAL-USE" in a.returns)
        ):
            attrs += box.special_use.split()
        delim = "." if LIST_MIXED_DELIMITER in s.b and name.count(DELIM) >= 2 else DELIM
        line = f'LIST ({" ".join(attrs)}) "{delim}" '.encode() + _out_name(s, name)
        if results[name]:
            line += b" " + " ".join(results[name]).encode()
        for _ in range(hits(name) if LIST_DUPLICATES in s.b else 1):
            s.untagged(line)
        if "STATUS" in a.returns and box is not None and LIST_STATUS_MISSING not in s.b:
            items = _status_items(s, box, a.status)
            if LIST_STATUS_WRONG in s.b:
                items = [f"{k} {int(v) + 1}" for k, v in (i.split() for i in items)]
            s.untagged(b"STATUS " + _out_name(s, name) + f" ({' '.join(items)})".encode())


@command("LSUB", states=AUTHED)
async def lsub(s: Session, cmd: Cmd) -> None:
    nargs(cmd, 2)
    user = _user(s)
    ref, pat = astring(cmd.args[0], "reference"), astring(cmd.args[1], "mailbox pattern")
    if not pat:
        s.untagged(f'LSUB (\\Noselect) "{DELIM}" ""')
        return
    rx = _pattern(s, ref, pat)
    subscribed = set(s.store.mailbox_names(user)) if LSUB_LISTS_ALL in s.b else s.store.subscribed(user)
    out: dict[str, bool] = {n: False for n in subscribed if _matches(s, rx, n)}
    if pat.endswith("%"):
        # A "%" must return foo for a subscribed foo/bar, flagged \Noselect (RFC 3501 6.3.9).
        for n in subscribed:
            for parent in _parent_names(n):
                if parent not in out and parent not in subscribed and _matches(s, rx, parent):
                    out[parent] = True
    for name in sorted(out, key=lambda n: (n != "INBOX", n)):
        attrs = "\\Noselect" if out[name] and LSUB_PERCENT_NO_NOSELECT not in s.b else ""
        s.untagged(f'LSUB ({attrs}) "{DELIM}" '.encode() + _out_name(s, name))


# --- STATUS ----------------------------------------------------------------------------------------


@command("STATUS", states=AUTHED)
async def status(s: Session, cmd: Cmd) -> None:
    nargs(cmd, 2)
    user = _user(s)
    name = s.mailbox_name(cmd.args[0])
    items = [str(x) for x in _options(cmd.args[1], "STATUS items")]
    box = s.store.mailbox(user, name)
    if box is None:
        if STATUS_MISSING_OK in s.b:
            return
        raise No(f"no mailbox {name}", code="NONEXISTENT")
    if s.view is not None and s.view.name == name and STATUS_SELECTED_NO in s.b:
        raise No("STATUS of the selected mailbox is not supported")
    values = _status_items(s, box, items)
    shown = "INBOX" if STATUS_NAME_WRONG in s.b else name
    s.untagged(b"STATUS " + _out_name(s, shown) + f" ({' '.join(values)})".encode())
    if STATUS_SETS_SEEN in s.b:
        for m in list(box.messages):
            s.store.set_flags(user, name, m.uid, m.flags | {"\\Seen"})
    if STATUS_DESELECTS in s.b:
        s.view = None
        s.state = AUTH


# --- NAMESPACE and QUOTA ---------------------------------------------------------------------------


@command("NAMESPACE", states=AUTHED)
async def namespace(s: Session, cmd: Cmd) -> None:
    nargs(cmd, 0)
    prefix = "Mail/" if NAMESPACE_PERSONAL_ELSEWHERE in s.b else ""
    personal = f'("{prefix}" "{DELIM}")' if NAMESPACE_MALFORMED in s.b else f'(("{prefix}" "{DELIM}"))'
    for _ in range(2 if NAMESPACE_TWO_RESPONSES in s.b else 1):
        s.untagged(f"NAMESPACE {personal} NIL NIL")


def _quota(s: Session) -> str:
    """The account's one quota root "" and its usage (RFC 9208 4.2.1)."""
    user = _user(s)
    boxes = [b for n in s.store.mailbox_names(user) if (b := s.store.mailbox(user, n)) is not None]
    storage = sum(len(m.data) for b in boxes for m in b.messages) // 1024
    count = sum(len(b.messages) for b in boxes)
    res = f"STORAGE {storage} {QUOTA_LIMITS['STORAGE']} MESSAGE {count} {QUOTA_LIMITS['MESSAGE']}"
    if QUOTA_RESOURCE_UNANNOUNCED in s.b:
        res += f" MAILBOX {len(boxes)} 1000"
    return f'QUOTA "" ({res})'


@command("GETQUOTAROOT", states=AUTHED)
async def getquotaroot(s: Session, cmd: Cmd) -> None:
    nargs(cmd, 1)
    name = s.mailbox_name(cmd.args[0])
    shown = "Elsewhere" if QUOTAROOT_WRONG_MAILBOX in s.b else name
    s.untagged(b"QUOTAROOT " + _out_name(s, shown) + b' ""')
    if QUOTAROOT_NO_QUOTA not in s.b:
        s.untagged(_quota(s))


@command("GETQUOTA", states=AUTHED)
async def getquota(s: Session, cmd: Cmd) -> None:
    nargs(cmd, 1)
    if astring(cmd.args[0], "quota root") != "":
        raise No("no such quota root")
    if GETQUOTA_NO_QUOTA not in s.b:
        s.untagged(_quota(s))
