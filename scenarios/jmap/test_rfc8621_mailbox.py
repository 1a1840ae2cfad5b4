"""RFC 8621 sections 1.3, 2 and 3: the mail capabilities, Mailbox (properties, counts, /set, /query) and Thread."""

import json
from collections.abc import Callable
from typing import Any

from conformance.clients.jmap import MAIL, JMAPSessions
from conformance.clients.jmap_mail import SUBMISSION, VACATION, MailCase, message, token
from conformance.scenario import case
from conformance.servers.jmap import core
from conformance.servers.jmap import mail as srv
from conformance.verdict import check, unsupported
from conformance.wire import jmap as wire

RIGHTS = (
    "mayReadItems",
    "mayAddItems",
    "mayRemoveItems",
    "maySetSeen",
    "maySetKeywords",
    "mayCreateChild",
    "mayRename",
    "mayDelete",
    "maySubmit",
)
ROLES = {"all", "archive", "drafts", "flagged", "important", "inbox", "junk", "sent", "trash", "snoozed", "scheduled"}


def _mailbox_set(m: MailCase, **args: Any) -> dict[str, Any]:
    got = m.must(m.call(("Mailbox/set", args)), "c0", "Mailbox/set", "Mailbox/set")
    for rec in (got.get("created") or {}).values():
        if isinstance(rec, dict) and isinstance(rec.get("id"), str):
            m.jmap.track("Mailbox", m.acc, rec["id"])
    return got


def _all_mailboxes(m: MailCase) -> list[dict[str, Any]]:
    got = m.need(m.call(("Mailbox/get", {"ids": None})), "c0", "Mailbox/get")
    return [x for x in got.get("list") or [] if isinstance(x, dict)]


# --- 1.3 capabilities --------------------------------------------------------------------


@case("jmap.rfc8621.1.3.1.account-capability", defect=srv.MAIL_CAP_INCOMPLETE)
def test_mail_account_capability(jmap: JMAPSessions) -> None:
    cap = MailCase(jmap).account_capability(MAIL)
    kinds: dict[str, Callable[[Any], bool]] = {
        "maxMailboxesPerEmail": lambda v: v is None or wire.is_unsigned_int(v),
        "maxMailboxDepth": lambda v: v is None or wire.is_unsigned_int(v),
        "maxSizeMailboxName": wire.is_unsigned_int,
        "maxSizeAttachmentsPerEmail": wire.is_unsigned_int,
        "emailQuerySortOptions": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "mayCreateTopLevelMailbox": lambda v: isinstance(v, bool),
    }
    bad = [k for k, ok in kinds.items() if k not in cap or not ok(cap[k])]
    check(
        not bad,
        "the mail account capability lacks or mistypes members",
        expected=", ".join(kinds),
        observed=f"bad: {bad}; {json.dumps(cap)[:400]}",
    )


@case("jmap.rfc8621.1.3.1.max-mailboxes-per-email", defect=srv.MAIL_CAP_ZERO)
def test_max_mailboxes_per_email(jmap: JMAPSessions) -> None:
    cap = MailCase(jmap).account_capability(MAIL)
    v = cap.get("maxMailboxesPerEmail", "absent")
    check(
        v is None or (wire.is_unsigned_int(v) and v >= 1),
        "maxMailboxesPerEmail is not an integer >= 1 or null",
        observed=repr(v),
    )


@case("jmap.rfc8621.1.3.1.max-size-mailbox-name", defect=srv.MAIL_CAP_SMALL_NAME)
def test_max_size_mailbox_name(jmap: JMAPSessions) -> None:
    cap = MailCase(jmap).account_capability(MAIL)
    v = cap.get("maxSizeMailboxName")
    check(
        isinstance(v, int) and wire.is_unsigned_int(v) and v >= 100,
        "maxSizeMailboxName is missing or below 100",
        expected=">= 100",
        observed=repr(v),
    )


@case("jmap.rfc8621.1.3.2.submission-capability", defect=srv.SUBMISSION_CAP_EMPTY)
def test_submission_account_capability(jmap: JMAPSessions) -> None:
    jmap.require(SUBMISSION)
    cap = MailCase(jmap).account_capability(SUBMISSION)
    check(
        wire.is_unsigned_int(cap.get("maxDelayedSend")) and isinstance(cap.get("submissionExtensions"), dict),
        "the submission account capability lacks maxDelayedSend or submissionExtensions",
        expected='{"maxDelayedSend": UnsignedInt, "submissionExtensions": {...}}',
        observed=json.dumps(cap)[:300],
    )


@case("jmap.rfc8621.1.4.capability-keys", defect=srv.VACATION_CAP_MISSING)
def test_capabilities_in_account(jmap: JMAPSessions) -> None:
    s = jmap.session()
    primary = s.raw.get("primaryAccounts") or {}
    accounts = s.raw.get("accounts") or {}
    missing = []
    for uri in (MAIL, SUBMISSION, VACATION):
        if uri in s.capabilities:
            acc = primary.get(uri) if isinstance(primary, dict) else None
            caps = (accounts.get(acc) or {}).get("accountCapabilities") if isinstance(accounts, dict) else None
            if not isinstance(caps, dict) or uri not in caps:
                missing.append(uri)
    check(
        not missing,
        "a capability the server offers is not a key of its primary account's accountCapabilities",
        observed=", ".join(missing),
    )


# --- 2 Mailbox properties ------------------------------------------------------------------


@case("jmap.rfc8621.2.name-length", defect=srv.MAILBOX_EMPTY_NAME_OK)
def test_empty_name_rejected(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    got = _mailbox_set(m, create={"k": {"name": "", "parentId": None}})
    err = (got.get("notCreated") or {}).get("k")
    check(
        isinstance(err, dict) and err.get("type") == "invalidProperties",
        "a Mailbox with an empty name was not rejected with invalidProperties",
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8621.2.unique-sibling-names", defect=srv.MAILBOX_DUPLICATE_OK)
def test_duplicate_sibling_rejected(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    parent = m.mailbox()
    name = jmap.unique("twin")
    first = m.mailbox(name, parent)
    got = _mailbox_set(m, create={"k": {"name": name, "parentId": parent}})
    made = (got.get("created") or {}).get("k")
    kids = [x for x in _all_mailboxes(m) if x.get("parentId") == parent and x.get("name") == name]
    check(
        not made and len(kids) == 1,
        "a second sibling with the same name was created",
        expected=f"notCreated (the existing one is {first})",
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8621.2.no-loop", defect=srv.MAILBOX_LOOP_OK)
def test_no_parent_loop(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    top = m.mailbox()
    child = m.mailbox(parent=top)
    got = _mailbox_set(m, update={top: {"parentId": child}})
    rec = m.mailbox_record(top)
    check(
        top in (got.get("notUpdated") or {}) and rec.get("parentId") != child,
        "moving a mailbox under its own child was not rejected",
        expected=f"notUpdated: {top}",
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8621.2.single-role", defect=srv.ROLE_DUPLICATE_OK)
def test_role_unique(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    _mailbox_set(m, create={f"k{i}": {"name": jmap.unique("role"), "role": "archive"} for i in range(2)})
    roles = [x.get("role") for x in _all_mailboxes(m) if x.get("role")]
    dup = sorted({str(r) for r in roles if roles.count(r) > 1})
    check(not dup, "two mailboxes of the account have the same role", observed=f"duplicated roles: {dup}")


@case("jmap.rfc8621.2.role-iana", defect=srv.ROLE_UPPERCASE)
def test_roles_are_iana_lowercase(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    roles = [x.get("role") for x in _all_mailboxes(m)]
    bad = [r for r in roles if r is not None and r not in ROLES]
    check("inbox" in roles, "no mailbox has the role inbox", observed=repr(roles))
    check(not bad, "a role is not a lower-case IANA mailbox attribute name", observed=repr(bad))


@case("jmap.rfc8621.2.sort-order-range", defect=srv.SORT_ORDER_UNCHECKED)
def test_sort_order_range(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    got = _mailbox_set(m, create={"k": {"name": jmap.unique("so"), "sortOrder": 2**31}})
    rec = (got.get("created") or {}).get("k")
    if isinstance(rec, dict):
        stored = m.mailbox_record(rec["id"]).get("sortOrder")
        check(
            isinstance(stored, int) and stored < 2**31,
            "a sortOrder of 2^31 was accepted and kept",
            expected="0 <= sortOrder < 2^31",
            observed=repr(stored),
        )
    bad = [
        x.get("sortOrder")
        for x in _all_mailboxes(m)
        if not (isinstance(x.get("sortOrder"), int) and 0 <= x["sortOrder"] < 2**31)
    ]
    check(not bad, "a Mailbox has a sortOrder outside 0 .. 2^31-1", observed=repr(bad))


@case("jmap.rfc8621.2.total-emails", defect=srv.TOTAL_EMAILS_OFF)
def test_total_emails(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    for _ in range(2):
        m.import_(message(), box)
    total = m.mailbox_record(box).get("totalEmails")
    check(total == 2, "totalEmails is not the number of Emails in the mailbox", expected="2", observed=repr(total))


@case("jmap.rfc8621.2.unread-emails", defect=srv.UNREAD_COUNTS_DRAFTS)
def test_unread_emails(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    m.import_(message(), box, keywords={"$seen": True})
    m.import_(message(), box, keywords={"$draft": True})
    m.import_(message(), box, keywords={})
    unread = m.mailbox_record(box).get("unreadEmails")
    check(
        unread == 1,
        "unreadEmails counts Emails with $seen or $draft",
        expected="1 (of: $seen, $draft, none)",
        observed=repr(unread),
    )


@case("jmap.rfc8621.2.total-threads", defect=srv.THREADS_ARE_EMAILS)
def test_total_threads(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    subject = f"thread {token()}"
    first = message(subject)
    mid = first.split(b"Message-ID: ")[1].split(b"\r\n")[0].decode()
    a = m.import_(first, box)
    b = m.import_(message(f"Re: {subject}", headers=[("In-Reply-To", mid), ("References", mid)]), box)
    m.import_(message(), box)
    if a.get("threadId") != b.get("threadId"):
        unsupported("the server did not put the reply in the thread of its parent (threading is its choice)")
    threads = m.mailbox_record(box).get("totalThreads")
    check(
        threads == 2,
        "totalThreads is not the number of Threads in the mailbox",
        expected="2 (3 Emails)",
        observed=repr(threads),
    )


@case("jmap.rfc8621.2.my-rights", defect=srv.RIGHTS_MISSING)
def test_my_rights(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    bad = []
    for x in _all_mailboxes(m):
        rights = x.get("myRights")
        if not isinstance(rights, dict) or any(not isinstance(rights.get(r), bool) for r in RIGHTS):
            bad.append({"id": x.get("id"), "myRights": rights})
    check(
        not bad,
        "myRights lacks one of the nine MailboxRights booleans",
        expected=", ".join(RIGHTS),
        observed=json.dumps(bad)[:400],
    )


@case("jmap.rfc8621.2.subscribed-default", defect=srv.SUBSCRIBED_DEFAULT_FALSE)
def test_subscribed_by_default(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    got = m.mailbox_record(box).get("isSubscribed")
    check(
        got is True,
        "a new mailbox created by the user is not subscribed",
        expected="isSubscribed true",
        observed=repr(got),
    )


@case("jmap.rfc8621.2.2.updated-properties", defect=srv.UPDATED_PROPERTIES_ALWAYS)
def test_updated_properties_after_rename(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    state = jmap.state("Mailbox", m.acc)
    _mailbox_set(m, update={box: {"name": jmap.unique("renamed")}})
    got = m.must(m.call(("Mailbox/changes", {"sinceState": state})), "c0", "Mailbox/changes", "Mailbox/changes")
    check(box in (got.get("updated") or []), "the renamed mailbox is not in updated", observed=json.dumps(got)[:400])
    props = got.get("updatedProperties")
    check(
        props is None or "name" in props,
        "updatedProperties lists only counts although the name changed",
        expected="null (or a list with name)",
        observed=repr(props),
    )


@case("jmap.rfc8621.2.3.query-sorts", defect=core.QUERY_SORT_IGNORED)
def test_query_sort_by_name(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    parent = m.mailbox()
    ids = {n: m.mailbox(n, parent) for n in ("cc", "bb", "aa")}
    reply = m.call(("Mailbox/query", {"filter": {"parentId": parent}, "sort": [{"property": "name"}]}))
    got = m.must(reply, "c0", "Mailbox/query", "sorting by name")
    check(
        got.get("ids") == [ids["aa"], ids["bb"], ids["cc"]],
        "Mailbox/query did not sort by name",
        expected="aa, bb, cc",
        observed=repr(got.get("ids")),
    )


@case("jmap.rfc8621.2.3.query-sorts", defect=core.QUERY_SORT_IGNORED)
def test_query_sort_by_sort_order(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    parent = m.mailbox()
    got = _mailbox_set(m, create={f"k{o}": {"name": f"n{o}", "parentId": parent, "sortOrder": o} for o in (30, 10, 20)})
    ids = {k: v["id"] for k, v in (got.get("created") or {}).items()}
    if len(ids) != 3:
        unsupported(f"could not create the mailboxes: {json.dumps(got)[:300]}")
    reply = m.call(("Mailbox/query", {"filter": {"parentId": parent}, "sort": [{"property": "sortOrder"}]}))
    res = m.must(reply, "c0", "Mailbox/query", "sorting by sortOrder")
    check(
        res.get("ids") == [ids["k10"], ids["k20"], ids["k30"]],
        "Mailbox/query did not sort by sortOrder",
        observed=repr(res.get("ids")),
    )


@case("jmap.rfc8621.2.3.query-parent-id", defect=core.QUERY_FILTER_IGNORED)
def test_query_filter_parent(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    parent = m.mailbox()
    kids = {m.mailbox(parent=parent), m.mailbox(parent=parent)}
    got = m.must(
        m.call(("Mailbox/query", {"filter": {"parentId": parent}})), "c0", "Mailbox/query", "filtering by parentId"
    )
    check(
        set(got.get("ids") or []) == kids,
        "the parentId filter does not give exactly the children",
        observed=repr(got.get("ids")),
    )


@case("jmap.rfc8621.2.3.query-name", defect=srv.NAME_FILTER_EXACT)
def test_query_filter_name_contains(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    word = token()
    box = m.mailbox(f"pre {word} post")
    got = m.must(m.call(("Mailbox/query", {"filter": {"name": word}})), "c0", "Mailbox/query", "filtering by name")
    check(
        box in (got.get("ids") or []),
        "the name filter does not match a name that contains the string",
        observed=repr(got.get("ids")),
    )


@case("jmap.rfc8621.2.5.mailbox-has-child", defect=srv.HAS_CHILD_FORBIDDEN)
def test_destroy_parent_has_child(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    parent = m.mailbox()
    m.mailbox(parent=parent)
    got = _mailbox_set(m, destroy=[parent])
    err = (got.get("notDestroyed") or {}).get(parent)
    check(
        isinstance(err, dict) and err.get("type") == "mailboxHasChild",
        "destroying a parent was not rejected with mailboxHasChild",
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8621.2.5.mailbox-has-email", defect=srv.HAS_EMAIL_DESTROYS)
def test_destroy_with_email_rejected(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    m.import_(message(), box)
    got = _mailbox_set(m, destroy=[box])
    err = (got.get("notDestroyed") or {}).get(box)
    check(
        isinstance(err, dict) and err.get("type") == "mailboxHasEmail",
        "destroying a mailbox with Emails was not rejected with mailboxHasEmail",
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8621.2.5.remove-emails", defect=srv.REMOVE_EMAILS_EVERYWHERE)
def test_destroy_remove_emails(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    doomed, other = m.mailbox(), m.mailbox()
    only = m.import_(message(), doomed)["id"]
    both = m.import_(message(), doomed, other)["id"]
    got = _mailbox_set(m, destroy=[doomed], onDestroyRemoveEmails=True)
    check(
        doomed in (got.get("destroyed") or []),
        "the mailbox was not destroyed with onDestroyRemoveEmails",
        observed=json.dumps(got)[:400],
    )
    res = m.must(
        m.call(("Email/get", {"ids": [only, both], "properties": ["mailboxIds"]})),
        "c0",
        "Email/get",
        "after the destroy",
    )
    found = {e.get("id"): e for e in res.get("list") or []}
    check(
        only not in found,
        "an Email that was only in the destroyed mailbox still exists",
        observed=json.dumps(res)[:400],
    )
    check(
        both in found and found[both].get("mailboxIds") == {other: True},
        "an Email also in another mailbox did not stay there (without the destroyed one)",
        expected=json.dumps({other: True}),
        observed=json.dumps(found.get(both))[:300],
    )


# --- 3 Threads ---------------------------------------------------------------------------------


def _thread(m: MailCase, thread_id: str) -> dict[str, Any]:
    got = m.must(m.call(("Thread/get", {"ids": [thread_id]})), "c0", "Thread/get", "Thread/get")
    found = [t for t in got.get("list") or [] if isinstance(t, dict)]
    check(len(found) == 1, "Thread/get did not return the Thread of an Email", observed=json.dumps(got)[:400])
    return found[0]


@case("jmap.rfc8621.3.every-email-thread", defect=srv.THREAD_GET_EMPTY)
def test_email_has_thread(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    rec = m.import_(message(), m.mailbox())
    tid = m.get(rec["id"], ["threadId"]).get("threadId")
    check(wire.is_id(tid), "the Email has no threadId", observed=repr(tid))
    ids = _thread(m, str(tid)).get("emailIds")
    check(isinstance(ids, list) and rec["id"] in ids, "the Email is not in its Thread's emailIds", observed=repr(ids))


@case("jmap.rfc8621.3.email-ids-sorted", defect=srv.THREAD_UNSORTED)
def test_thread_sorted_oldest_first(jmap: JMAPSessions) -> None:
    m = MailCase(jmap)
    box = m.mailbox()
    subject = f"thread {token()}"
    first = message(subject)
    mid = first.split(b"Message-ID: ")[1].split(b"\r\n")[0].decode()
    reply = message(f"Re: {subject}", headers=[("In-Reply-To", mid), ("References", mid)])
    new = m.import_(reply, box, received_at="2020-02-02T10:00:00Z")
    old = m.import_(first, box, received_at="2020-01-01T10:00:00Z")
    if new.get("threadId") != old.get("threadId"):
        unsupported("the server did not put the reply in the thread of its parent (threading is its choice)")
    ids = _thread(m, str(old["threadId"])).get("emailIds")
    check(
        ids == [old["id"], new["id"]],
        "Thread emailIds are not sorted by receivedAt, oldest first",
        expected=repr([old["id"], new["id"]]),
        observed=repr(ids),
    )
