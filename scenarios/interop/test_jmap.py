"""JMAP and IMAP on one store (RFC 8621): an Email's blob is the message delivered over SMTP (or LMTP)
and the message IMAP gives; IMAP system flags are JMAP keywords both ways; an Email destroyed over
JMAP is gone over IMAP."""

from conformance import corpus
from conformance import interop as io
from conformance.interop import Draft, Interop
from conformance.scenario import case
from conformance.servers import interop as srv
from conformance.servers.jmap import mail as jmap_srv
from conformance.verdict import check

BLOB = "interop.rfc8621.4.1.1.blob-is-the-message"
KEYWORDS = "interop.rfc8621.4.1.1.system-keywords"
KEYWORD_OF = {"\\Seen": "$seen", "\\Flagged": "$flagged", "\\Answered": "$answered", "\\Draft": "$draft"}


@case(BLOB, "interop.rfc5321.4.4.trace-on-top-only", defect=srv.ALTERS_BODY_BYTE, protocols=("imap",))
def test_delivered_message_is_the_email_blob(interop: Interop) -> None:
    interop.jmap_sessions().account()  # UNSUPPORTED at once without JMAP Mail

    def run(d: Draft) -> None:
        data = d.message(io.new_token())
        token = io.token_of(data)
        interop.deliver(data, token)
        jm, acc, email = interop.jmap_email(token, ["blobId"])
        io.expect_same(data, interop.jmap_blob(jm, acc, str(email.get("blobId"))), "over JMAP (the Email's blob)")

    io.explore(io.multipart_drafts(), run, examples=4)


@case(BLOB, defect=jmap_srv.EMAIL_BLOB_BODY_ONLY, protocols=("imap",))
def test_email_blob_is_the_imap_message(interop: Interop) -> None:
    data = Draft(fields=(b"X-Folded: one\r\n two\r\n",), body=b"a\r\n.b\r\n").message(io.new_token())
    token = io.token_of(data)
    interop.deliver(data, token)
    over_imap = interop.imap_message(token)
    jm, acc, email = interop.jmap_email(token, ["blobId", "size"])
    blob = interop.jmap_blob(jm, acc, str(email.get("blobId")))
    assert over_imap is not None
    check(
        blob == over_imap,
        "the Email's blob is not the message IMAP FETCH BODY[] gives",
        expected=f"{len(over_imap)} octets as over IMAP",
        observed=io.first_difference(over_imap, blob),
    )


@case(KEYWORDS, defect=srv.FLAGS_LOST, protocols=("imap",))
def test_imap_flags_are_jmap_keywords(interop: Interop) -> None:
    interop.jmap_sessions().account()
    data = Draft(body=b"flags to keywords\r\n").message(io.new_token())
    token = io.token_of(data)
    uid = interop.deliver(data, token)
    flags = ("\\Seen", "\\Flagged", "\\Answered", "\\Draft")
    res = interop.imap_session().store(str(uid), "+FLAGS.SILENT", flags, uid=True)
    check(res.ok, "UID STORE +FLAGS of the system flags failed", observed=str(res))
    _, _, email = interop.jmap_email(token, ["keywords"])
    keywords = {str(k).lower() for k, v in (email.get("keywords") or {}).items() if v is True}
    missing = sorted(KEYWORD_OF[f] for f in flags if KEYWORD_OF[f] not in keywords)
    check(
        not missing,
        "IMAP system flags set on a message are not its JMAP keywords",
        expected=" ".join(sorted(KEYWORD_OF.values())),
        observed=" ".join(sorted(keywords)),
    )


@case(KEYWORDS, defect=srv.FLAGS_LOST, protocols=("imap",))
def test_jmap_keywords_are_imap_flags(interop: Interop) -> None:
    jm = interop.jmap_sessions()
    jm.account()
    data = Draft(body=b"keywords to flags\r\n").message(io.new_token())
    token = io.token_of(data)
    uid = interop.deliver(data, token)
    jm, acc, email = interop.jmap_email(token, ["keywords"])
    update = {"keywords/$flagged": True, "keywords/$answered": True, "keywords/$seen": True}
    reply = jm.one("Email/set", {"accountId": acc, "update": {email["id"]: update}})
    args = jm.ok(reply, "c", "Email/set")
    check(
        email["id"] in (args.get("updated") or {}), "Email/set did not update the keywords", observed=reply.summary(300)
    )
    got = corpus.flag_set(interop.fetch(uid, "(FLAGS)", interop.fresh_imap()).get("FLAGS"))
    want = {"\\Flagged", "\\Answered", "\\Seen"}
    check(
        want <= got,
        "JMAP keywords set on an Email are not the IMAP flags of its message",
        expected=" ".join(sorted(want)),
        observed=" ".join(sorted(got)),
    )


@case("interop.rfc8620.5.3.destroy-permanent", defect=srv.EXPUNGE_KEEPS, protocols=("imap",))
def test_jmap_destroy_seen_over_imap(interop: Interop) -> None:
    jm = interop.jmap_sessions()
    jm.account()
    data = Draft(body=b"destroy me over JMAP\r\n").message(io.new_token())
    token = io.token_of(data)
    interop.deliver(data, token)
    jm, acc, email = interop.jmap_email(token, [])
    reply = jm.one("Email/set", {"accountId": acc, "destroy": [email["id"]]})
    args = jm.ok(reply, "c", "Email/set")
    check(
        email["id"] in (args.get("destroyed") or []), "Email/set did not destroy the Email", observed=reply.summary(300)
    )
    check(
        interop.find_uid(token, interop.fresh_imap(), wait=0) is None,
        "an Email destroyed over JMAP is still in INBOX over IMAP",
        expected="not found by UID SEARCH HEADER",
        observed="still there",
    )
