"""RFC 8621 sections 6, 7 and 8: Identity, EmailSubmission (envelope, implicit Email/set, delivery) and VacationResponse."""

import json
import time
from typing import Any

from conformance.clients.jmap import CORE, MAIL, JMAPClientError, JMAPSessions
from conformance.clients.jmap_mail import SUBMISSION, VACATION, MailCase, token
from conformance.scenario import case
from conformance.servers.jmap import mail as srv
from conformance.verdict import Violation, check, unsupported
from conformance.wire import jmap as wire

USING = (CORE, MAIL, SUBMISSION)


class Sending(MailCase):
    """A case that sends: the account's Identity, drafts in a scratch mailbox, EmailSubmission/set."""

    def __init__(self, jmap: JMAPSessions) -> None:
        super().__init__(jmap, USING)
        self.account_capability(SUBMISSION)
        got = self.need(self.call(("Identity/get", {"ids": None})), "c0", "Identity/get")
        self.identities = [i for i in got.get("list") or [] if isinstance(i, dict)]
        if not self.identities:
            unsupported("the account has no Identity to send from")
        acct = jmap.target.accounts[0].address if jmap.target.accounts else ""
        self.identity = next((i for i in self.identities if i.get("email") == acct), self.identities[0])
        self.address = str(self.identity.get("email") or acct)

    def draft(self, **fields: Any) -> tuple[str, str]:
        """(Email id, Message-ID) of a new draft from the Identity's address."""
        mid = f"{token()}@mailspec.test"
        obj = {
            "mailboxIds": {self.mailbox(): True},
            "keywords": {"$draft": True},
            "from": [{"name": None, "email": self.address}],
            "subject": f"submission {token()}",
            "messageId": [mid],
            "bodyValues": {"b": {"value": "Sent by mailspec.\n"}},
            "textBody": [{"partId": "b", "type": "text/plain"}],
            **fields,
        }
        got = self.set_email(create={"d": obj})
        rec = (got.get("created") or {}).get("d")
        if not isinstance(rec, dict):
            unsupported(f"Email/set could not create the draft: {json.dumps(got)[:300]}")
        return str(rec["id"]), mid

    def submit(self, email_id: str, **extra: Any) -> tuple[dict[str, Any], list[Any]]:
        """(EmailSubmission/set arguments, every response) for one submission of ``email_id``."""
        sub: dict[str, Any] = {"identityId": self.identity["id"], "emailId": email_id}
        sub.update(extra.pop("submission", {}))
        reply = self.call(("EmailSubmission/set", {"create": {"s": sub}, **extra}))
        got = self.must(reply, "c0", "EmailSubmission/set", "EmailSubmission/set")
        return got, reply.responses()

    def delivered(self, mid: str) -> list[str]:
        """Ids of the Emails with Message-ID ``mid`` in the account's inbox, waited for up to 5 s; tracked."""
        got = self.need(self.call(("Mailbox/query", {"filter": {"role": "inbox"}})), "c0", "Mailbox/query")
        inbox = (got.get("ids") or [None])[0]
        if not isinstance(inbox, str):
            unsupported("the account has no mailbox with the role inbox")
        deadline = time.monotonic() + 5
        while True:
            ids = self.query({"inMailbox": inbox, "header": ["Message-ID", mid]})
            if ids or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        for i in ids:
            self.jmap.track("Email", self.acc, i)
        return ids


def _created(got: dict[str, Any]) -> dict[str, Any]:
    rec = (got.get("created") or {}).get("s")
    check(isinstance(rec, dict), "the EmailSubmission was not created", observed=json.dumps(got)[:400])
    assert isinstance(rec, dict)
    return rec


def _submission(s: Sending, got: dict[str, Any], prop: str) -> Any:
    rec = _created(got)
    if prop in rec:
        return rec[prop]
    res = s.need(
        s.call(("EmailSubmission/get", {"ids": [rec["id"]], "properties": [prop]})), "c0", "EmailSubmission/get"
    )
    return next((x.get(prop) for x in res.get("list") or []), None)


# --- 6 Identity -------------------------------------------------------------------------------


@case("jmap.rfc8621.6.identity-email", defect=srv.IDENTITY_NO_EMAIL)
def test_identity_has_email(jmap: JMAPSessions) -> None:
    s = Sending(jmap)
    bad = [i for i in s.identities if not (isinstance(i.get("email"), str) and "@" in i["email"])]
    check(not bad, "an Identity has no From email address", observed=json.dumps(bad)[:300])


@case("jmap.rfc8621.9.6.identity-forbidden-from", defect=srv.IDENTITY_ANY_FROM)
def test_identity_foreign_address(jmap: JMAPSessions) -> None:
    s = Sending(jmap)
    reply = s.call(
        ("Identity/set", {"create": {"k": {"name": "Not mine", "email": "mailspec-nobody@example.invalid"}}})
    )
    got = s.must(reply, "c0", "Identity/set", "Identity/set")
    rec = (got.get("created") or {}).get("k")
    if isinstance(rec, dict) and isinstance(rec.get("id"), str):
        jmap.track("Identity", s.acc, rec["id"])
    err = (got.get("notCreated") or {}).get("k") or {}
    check(
        rec is None and err.get("type") == "forbiddenFrom",
        "an Identity for an address the user may not send from was created",
        expected="notCreated: forbiddenFrom",
        observed=json.dumps(got)[:400],
    )


# --- 7 EmailSubmission -----------------------------------------------------------------------------


@case("jmap.rfc8621.7.envelope-generated", defect=srv.ENVELOPE_NO_BCC)
def test_envelope_generated(jmap: JMAPSessions) -> None:
    s = Sending(jmap)
    bob = "bob@mailspec.test"
    eid, mid = s.draft(to=[{"name": None, "email": bob}], bcc=[{"name": None, "email": s.address}])
    got, _ = s.submit(eid)
    s.delivered(mid)
    env = _submission(s, got, "envelope") or {}
    rcpts = {r.get("email") for r in env.get("rcptTo") or [] if isinstance(r, dict)}
    sender = (env.get("mailFrom") or {}).get("email")
    check(
        sender == s.address, "the generated mailFrom is not the From address", expected=s.address, observed=repr(sender)
    )
    check(
        rcpts == {bob, s.address},
        "the generated rcptTo is not the To, Cc and Bcc addresses",
        expected=repr(sorted({bob, s.address})),
        observed=repr(sorted(map(str, rcpts))),
    )


@case("jmap.rfc8621.7.undo-status", defect=srv.UNDO_STATUS_SENT)
def test_undo_status(jmap: JMAPSessions) -> None:
    s = Sending(jmap)
    eid, _ = s.draft(to=[{"name": None, "email": "bob@mailspec.test"}])
    got, _ = s.submit(eid)
    status = _submission(s, got, "undoStatus")
    check(
        status in ("pending", "final", "canceled"),
        "undoStatus is not pending, final or canceled",
        observed=repr(status),
    )


@case("jmap.rfc8621.7.send-at", defect=srv.SEND_AT_EPOCH)
def test_send_at_is_creation_time(jmap: JMAPSessions) -> None:
    s = Sending(jmap)
    eid, _ = s.draft(to=[{"name": None, "email": "bob@mailspec.test"}])
    got, _ = s.submit(eid)
    when = _submission(s, got, "sendAt")
    check(wire.is_utc_date(when), "sendAt is not a UTCDate", observed=repr(when))
    stamp = time.mktime(time.strptime(str(when)[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    check(
        abs(stamp - time.time()) < 600,
        "sendAt is not the time the EmailSubmission was created",
        expected="about now",
        observed=repr(when),
    )


@case("jmap.rfc8621.7.5.implicit-email-set", defect=srv.IMPLICIT_SET_SKIPPED)
def test_on_success_update_email(jmap: JMAPSessions) -> None:
    s = Sending(jmap)
    eid, _ = s.draft(to=[{"name": None, "email": "bob@mailspec.test"}])
    _, responses = s.submit(eid, onSuccessUpdateEmail={"#s": {"keywords/$draft": None}})
    sets = [r for r in responses if r.name == "Email/set"]
    check(
        len(sets) == 1 and eid in (sets[0].arguments.get("updated") or {}),
        "no implicit Email/set updated the Email",
        observed=json.dumps([r.to_json() for r in responses])[:500],
    )
    kw = s.get(eid, ["keywords"]).get("keywords") or {}
    check("$draft" not in kw, "onSuccessUpdateEmail was not applied", expected="no $draft", observed=json.dumps(kw))


@case("jmap.rfc8621.7.5.implicit-after", defect=srv.IMPLICIT_BEFORE)
def test_implicit_response_after(jmap: JMAPSessions) -> None:
    s = Sending(jmap)
    eid, _ = s.draft(to=[{"name": None, "email": "bob@mailspec.test"}])
    _, responses = s.submit(eid, onSuccessUpdateEmail={"#s": {"keywords/$draft": None}})
    names = [(r.name, r.call_id) for r in responses]
    check(
        names == [("EmailSubmission/set", "c0"), ("Email/set", "c0")],
        "the implicit Email/set response does not follow EmailSubmission/set (same call id)",
        observed=repr(names),
    )


@case("jmap.rfc8621.7.5.remove-bcc", defect=srv.BCC_KEPT)
def test_bcc_removed(jmap: JMAPSessions) -> None:
    s = Sending(jmap)
    eid, mid = s.draft(to=[{"name": None, "email": s.address}], bcc=[{"name": None, "email": "bob@mailspec.test"}])
    _created(s.submit(eid)[0])
    copies = s.delivered(mid)
    if not copies:
        unsupported("the message did not arrive in the sender's own mailbox within 5 s")
    got = s.get(copies[0], ["header:Bcc"])
    check(
        got.get("header:Bcc") is None,
        "the delivered message still has its Bcc header field",
        observed=repr(got.get("header:Bcc")),
    )


@case("jmap.rfc8621.7.5.no-recipients", defect=srv.NO_RECIPIENTS_OK)
def test_no_recipients(jmap: JMAPSessions) -> None:
    s = Sending(jmap)
    eid, _ = s.draft()
    got, _ = s.submit(eid)
    err = (got.get("notCreated") or {}).get("s") or {}
    check(
        err.get("type") == "noRecipients",
        "a submission with no recipients was not rejected with noRecipients",
        observed=json.dumps(got)[:400],
    )


@case("jmap.rfc8621.7.5.invalid-recipients", defect=srv.INVALID_RECIPIENTS_NO_LIST)
def test_invalid_recipients(jmap: JMAPSessions) -> None:
    s = Sending(jmap)
    eid, _ = s.draft(to=[{"name": None, "email": "bob@mailspec.test"}])
    env = {
        "mailFrom": {"email": s.address, "parameters": None},
        "rcptTo": [{"email": "not an address", "parameters": None}],
    }
    got, _ = s.submit(eid, submission={"envelope": env})
    err = (got.get("notCreated") or {}).get("s") or {}
    check(
        err.get("type") == "invalidRecipients" and err.get("invalidRecipients") == ["not an address"],
        "an invalid rcptTo did not give invalidRecipients with the list",
        observed=json.dumps(got)[:400],
    )


# --- 8 VacationResponse ------------------------------------------------------------------------


def _vacations(jmap: JMAPSessions) -> list[dict[str, Any]]:
    m = MailCase(jmap, (CORE, VACATION))
    m.account_capability(VACATION)
    try:
        reply = m.call(("VacationResponse/get", {"ids": None}))
    except JMAPClientError as e:
        # A valid request the server drops (Cyrus 3.6's httpd dies on it) is no answer at all.
        raise Violation(
            f"VacationResponse/get got no HTTP response: {e}", expected="a VacationResponse/get response"
        ) from None
    got = m.must(reply, "c0", "VacationResponse/get", "VacationResponse/get")
    return [v for v in got.get("list") or [] if isinstance(v, dict)]


@case("jmap.rfc8621.8.1.vacation-singleton", defect=srv.VACATION_TWO)
def test_vacation_singleton(jmap: JMAPSessions) -> None:
    found = _vacations(jmap)
    check(len(found) == 1, "the account does not have exactly one VacationResponse", observed=json.dumps(found)[:300])


@case("jmap.rfc8621.8.1.vacation-id", defect=srv.VACATION_ID_WRONG)
def test_vacation_id(jmap: JMAPSessions) -> None:
    ids = [v.get("id") for v in _vacations(jmap)]
    check(ids == ["singleton"], "the VacationResponse's id is not singleton", observed=repr(ids))
