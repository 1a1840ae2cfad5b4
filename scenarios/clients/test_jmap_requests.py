"""RFC 8620 2, 3.1, 3.6.2, 5.1: what a JMAP client puts into its requests (the capabilities it
uses, the content type, no more ids than maxObjectsInGet) and how it reads method responses
(unknown error types, records that vanished)."""

from conformance.agents import mailspec_jmap as agent
from conformance.agents.harness import USER, ClientCase
from conformance.agents.jmap import check_exact, jmap_message, jmap_server
from conformance.scenario import case
from conformance.servers.jmap import client_habits as habit
from conformance.verdict import check, unsupported

CORE, MAIL = "urn:ietf:params:jmap:core", "urn:ietf:params:jmap:mail"


@case("jmap.rfc8620.2.client-opt-in-capabilities", defect=agent.NO_MAIL_USING)
def test_declares_the_mail_capability(client: ClientCase) -> None:
    msgs = [jmap_message(1)]
    served = jmap_server(client, messages=msgs)
    run = client.run("jmap.fetch-all", served.srv)
    bad = []
    for s in served.seen:
        body = s.json if s.method == "POST" else None
        if not isinstance(body, dict):
            continue
        mail_calls = [c[0] for c in s.calls() if str(c[0]).split("/")[0] in ("Mailbox", "Email", "Thread")]
        if mail_calls and MAIL not in (body.get("using") or []):
            bad.append(f"using {body.get('using')} for {', '.join(mail_calls)}")
    check(
        not bad,
        "the client called Mail methods without opting in to urn:ietf:params:jmap:mail",
        expected=f'"using": ["{CORE}", "{MAIL}"]',
        observed="; ".join(bad[:2]),
    )
    check(run.ok, "the client did not complete the fetch", observed=run.summary())
    check_exact(run, msgs)


@case("jmap.rfc8620.3.1.client-json-content-type", defect=agent.TEXT_CONTENT_TYPE)
def test_api_requests_are_application_json(client: ClientCase) -> None:
    msgs = [jmap_message(1)]
    served = jmap_server(client, messages=msgs)
    run = client.run("jmap.fetch-all", served.srv)
    types = [
        s.headers.get("content-type", "(none)") for s in served.seen if s.method == "POST" and s.path == "/jmap/api/"
    ]
    bad = [t for t in types if t.split(";")[0].strip().lower() != "application/json"]
    check(
        bool(types) and not bad,
        "the client sent an API request that is not of type application/json",
        expected="Content-Type: application/json",
        observed=f"Content-Type: {bad[0]}" if bad else run.summary(),
    )
    check(run.ok, "the client did not complete the fetch", observed=run.summary())


@case("jmap.rfc8620.2.client-max-objects-in-get", defect=agent.IGNORES_MAX_GET)
def test_respects_max_objects_in_get(client: ClientCase) -> None:
    msgs = [jmap_message(i) for i in range(1, 6)]
    served = jmap_server(client, habit.SMALL_GET, messages=msgs)
    run = client.run("jmap.fetch-all", served.srv)
    sizes = [
        len(c[1]["ids"]) for c in served.api_calls() if str(c[0]).endswith("/get") and isinstance(c[1].get("ids"), list)
    ]
    check(
        all(n <= 2 for n in sizes),
        "the client asked for more objects in one /get than the Session's maxObjectsInGet (2)",
        expected="at most 2 ids per /get",
        observed=f"/get with {max(sizes)} ids" if sizes else "",
    )
    check(run.ok, "the client did not complete the fetch", observed=run.summary())
    check_exact(run, msgs)


@case("jmap.rfc8620.3.6.2.client-unknown-error-as-server-fail", defect=agent.UNKNOWN_ERROR_EMPTY)
def test_unknown_error_type_is_a_failure(client: ClientCase) -> None:
    msgs = [jmap_message(1), jmap_message(2)]
    served = jmap_server(client, habit.UNKNOWN_ERROR, messages=msgs)
    run = client.run("jmap.fetch-all", served.srv)
    if not served.events:
        unsupported(f"the client made no Email/query, so it never met the unknown error type ({run.summary()})")
    fetched = len(run.produced())
    # serverFail: the call failed. Reporting the failure, or trying again and getting the mail, are both right;
    # finishing "successfully" without the messages is not.
    check(
        not run.ok or fetched >= len(msgs),
        f"Email/query failed with the error type {habit.UNKNOWN_ERROR_TYPE!r}; the client took it for an empty result",
        expected="a failure (as for serverFail), or a retry that fetches the 2 messages",
        observed=f"exit 0 with {fetched} message(s) fetched",
    )


@case("jmap.rfc8620.5.1.client-not-found", defect=agent.FAILS_ON_NOT_FOUND)
def test_message_gone_between_query_and_get(client: ClientCase) -> None:
    msgs = [jmap_message(i) for i in (1, 2, 3)]
    served = jmap_server(client, habit.VANISHING, messages=msgs)
    run = client.run("jmap.fetch-all", served.srv)
    if not any(e.startswith("vanished") for e in served.events):
        unsupported(f"the client never asked Email/get for messages its Email/query returned ({run.summary()})")
    left = [m.data for m in served.srv.store.messages(USER)]
    check(
        run.ok,
        "one message was destroyed between Email/query and Email/get (notFound); the client gave up on the rest",
        expected="the other messages fetched, the vanished one skipped",
        observed=run.summary(),
    )
    check_exact(run, left)
