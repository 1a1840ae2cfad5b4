"""A minimal Mailbox type (RFC 8621 2) over the store's mailboxes, for the core methods.

It is what the RFC 8620 scenarios need: Mailbox/get, /changes, /set, /query,
/queryChanges with the RFC 8621 properties. ``mail.py`` (the full RFC 8621
data model) replaces it when present. Ids are "M" plus the store mailbox's
uidvalidity, which a rename keeps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ...wire import jmap as wire
from .core import MAIL, Call, DataType, SetError

if TYPE_CHECKING:
    from .core import JMAPCore

ROLES = {"\\Sent": "sent", "\\Drafts": "drafts", "\\Trash": "trash", "\\Junk": "junk", "\\Archive": "archive"}
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
COUNTS = ("totalEmails", "unreadEmails", "totalThreads", "unreadThreads")


class MailboxType(DataType):
    name = "Mailbox"
    capability = MAIL
    properties = frozenset({"id", "name", "parentId", "role", "sortOrder", "isSubscribed", "myRights", *COUNTS})
    server_set = frozenset({"id", "myRights", *COUNTS})
    id_refs = frozenset({"parentId"})
    filters = frozenset({"parentId", "name", "role", "hasAnyRole", "isSubscribed"})
    sorts = frozenset({"sortOrder", "name"})
    extra_args: ClassVar[dict[str, frozenset[str]]] = {
        "set": frozenset({"onDestroyRemoveEmails"}),
        "query": frozenset({"sortAsTree", "filterAsTree"}),
    }

    def __init__(self) -> None:
        self.sort_orders: dict[tuple[str, str], int] = {}

    @staticmethod
    def _split(name: str) -> tuple[str, str]:
        parent, _, leaf = name.rpartition("/")
        return parent, leaf

    def records(self, call: Call) -> dict[str, dict[str, Any]]:
        store, user = call.store, call.user
        with store.lock:
            names = store.mailbox_names(user)
            subscribed = store.subscribed(user)
            boxes = {n: store.mailbox(user, n) for n in names}
        ids = {n: f"M{b.uidvalidity}" for n, b in boxes.items() if b is not None}
        out = {}
        for n, box in boxes.items():
            if box is None:
                continue
            parent, leaf = self._split(n)
            unread = sum(1 for m in box.messages if "\\Seen" not in m.flags)
            rid = ids[n]
            out[rid] = {
                "id": rid,
                "name": leaf,
                "parentId": ids.get(parent) if parent else None,
                "role": "inbox" if n == "INBOX" else ROLES.get(box.special_use),
                "sortOrder": self.sort_orders.get((user, rid), 0),
                "totalEmails": len(box.messages),
                "unreadEmails": unread,
                "totalThreads": len(box.messages),
                "unreadThreads": unread,
                "myRights": dict.fromkeys(RIGHTS, True),
                "isSubscribed": n in subscribed,
            }
        return out

    def _full_name(self, call: Call, obj: dict[str, Any], records: dict[str, dict[str, Any]]) -> str:
        name, parent_id = obj.get("name"), obj.get("parentId")
        if not isinstance(name, str) or not name or "/" in name:
            raise SetError("invalidProperties", "name must be a non-empty String without '/'", properties=["name"])
        if parent_id is None:
            return name
        if not isinstance(parent_id, str) or parent_id not in records:
            raise SetError("invalidProperties", "parentId names no mailbox", properties=["parentId"])
        return self._store_name(call, parent_id) + "/" + name

    @staticmethod
    def _store_name(call: Call, rid: str) -> str:
        for n in call.store.mailbox_names(call.user):
            box = call.store.mailbox(call.user, n)
            if box is not None and f"M{box.uidvalidity}" == rid:
                return n
        raise SetError("notFound", f"no mailbox {rid}")

    def _check_simple(self, obj: dict[str, Any]) -> None:
        if "sortOrder" in obj and not wire.is_unsigned_int(obj["sortOrder"]):
            raise SetError("invalidProperties", "sortOrder is an UnsignedInt", properties=["sortOrder"])
        if "isSubscribed" in obj and not isinstance(obj["isSubscribed"], bool):
            raise SetError("invalidProperties", "isSubscribed is a Boolean", properties=["isSubscribed"])
        if obj.get("role") is not None:
            raise SetError("invalidProperties", "this server assigns no roles", properties=["role"])

    def create(self, call: Call, obj: dict[str, Any]) -> dict[str, Any]:
        self._check_simple(obj)
        with call.store.lock:
            full = self._full_name(call, obj, self.records(call))
            if call.store.mailbox(call.user, full) is not None:
                raise SetError("invalidProperties", f"a mailbox {full} exists", properties=["name"])
            box = call.store.create_mailbox(call.user, full)
            rid = f"M{box.uidvalidity}"
            self.sort_orders[(call.user, rid)] = int(obj.get("sortOrder", 0))
            call.store.subscribe(call.user, full, bool(obj.get("isSubscribed", False)))
            rec = self.records(call)[rid]
        given = set(obj)
        return {k: v for k, v in rec.items() if k not in given}

    def update(self, call: Call, record_id: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
        self._check_simple({k: v for k, v in new.items() if new.get(k) != old.get(k)})
        with call.store.lock:
            records = self.records(call)
            current = self._store_name(call, record_id)
            if new.get("name") != old["name"] or new.get("parentId") != old["parentId"]:
                target = self._full_name(call, new, records)
                if target == current or target.startswith(current + "/"):
                    raise SetError("invalidProperties", "a mailbox cannot move under itself", properties=["parentId"])
                if call.store.mailbox(call.user, target) is not None:
                    raise SetError("invalidProperties", f"a mailbox {target} exists", properties=["name"])
                call.store.rename_mailbox(call.user, current, target)
                current = target
            self.sort_orders[(call.user, record_id)] = int(new.get("sortOrder", 0))
            call.store.subscribe(call.user, current, bool(new.get("isSubscribed", False)))
        return None

    def destroy(self, call: Call, record_id: str, old: dict[str, Any]) -> None:
        with call.store.lock:
            if old["role"] == "inbox":
                raise SetError("forbidden", "the inbox cannot be destroyed")
            if any(r["parentId"] == record_id for r in self.records(call).values()):
                raise SetError("mailboxHasChild", "the mailbox has child mailboxes")
            name = self._store_name(call, record_id)
            if old["totalEmails"] and not call.args.get("onDestroyRemoveEmails"):
                raise SetError("mailboxHasEmail", "the mailbox has emails")
            call.store.delete_mailbox(call.user, name)
            call.store.subscribe(call.user, name, False)

    def match(self, call: Call, record: dict[str, Any], condition: dict[str, Any]) -> bool:
        for key, value in condition.items():
            if key == "name":
                if not isinstance(value, str) or value.casefold() not in record["name"].casefold():
                    return False
            elif key == "hasAnyRole":
                if (record["role"] is not None) != bool(value):
                    return False
            elif record.get(key) != value:
                return False
        return True


def register(core: JMAPCore) -> None:
    core.add_capability(
        MAIL,
        {},
        {
            "maxMailboxesPerEmail": None,
            "maxMailboxDepth": None,
            "maxSizeMailboxName": 255,
            "maxSizeAttachmentsPerEmail": 50_000_000,
            "emailQuerySortOptions": ["receivedAt"],
            "mayCreateTopLevelMailbox": True,
        },
    )
    core.register(MailboxType())
