"""RFC 8620 2, 2.2, 6.2 and RFC 8621 1.3.1: a JMAP client finds everything through the Session
(its URLs, its primary account), follows redirects to it, ignores what it does not know in it,
and fetches it again when its state changes."""

from conformance.agents import mailspec_jmap as agent
from conformance.agents.harness import USER, ClientCase
from conformance.agents.jmap import api_calls, check_exact, fetch_all, jmap_message, jmap_server
from conformance.scenario import case
from conformance.servers.jmap import client_habits as habit
from conformance.verdict import check

MESSAGES = [jmap_message(1), jmap_message(2)]


@case("jmap.rfc8620.2.client-ignore-unknown-session-properties", defect=agent.STRICT_SESSION)
def test_unknown_session_properties(client: ClientCase) -> None:
    srv, _ = jmap_server(client, habit.SESSION_EXTRAS, messages=MESSAGES)
    fetch_all(client, srv, MESSAGES)


@case(
    "jmap.rfc8620.2.client-ignore-unknown-capability-properties",
    "jmap.rfc8621.1.3.1.client-ignore-unknown-sort-options",
    defect=agent.STRICT_CAPABILITIES,
)
def test_unknown_capabilities_and_properties(client: ClientCase) -> None:
    srv, _ = jmap_server(client, habit.CAPABILITY_EXTRAS, messages=MESSAGES)
    fetch_all(client, srv, MESSAGES)


@case("jmap.rfc8620.2.client-api-url", defect=agent.FIXED_PATHS)
def test_api_requests_go_to_the_session_api_url(client: ClientCase) -> None:
    srv, seen = jmap_server(client, habit.ODD_URLS, messages=MESSAGES)
    run = client.run("jmap.fetch-all", srv)
    posts = [s.path + "?" + s.query for s in seen if s.method == "POST"]
    elsewhere = [p for p in posts if not p.startswith(habit.ODD_API.split("?")[0])]
    check(
        bool(posts) and not elsewhere,
        "the client sent API requests somewhere other than the Session's apiUrl",
        expected=f"POST {habit.ODD_API}",
        observed="; ".join(elsewhere[:3]) or run.summary(),
    )
    check(run.ok, "the client did not complete the fetch", observed=run.summary())


@case("jmap.rfc8620.6.2.client-download-url", defect=agent.FIXED_PATHS)
def test_downloads_use_the_session_download_url(client: ClientCase) -> None:
    srv, seen = jmap_server(client, habit.ODD_URLS, messages=MESSAGES)
    run = client.run("jmap.fetch-all", srv)
    gets = [f"{s.path}?{s.query} -> {s.status}" for s in seen if s.method == "GET" and "session" not in s.path]
    gets = [g for g in gets if not g.startswith("/.well-known/")]
    bad = [g for g in gets if not g.startswith("/files/fetch?") or not g.endswith("200")]
    check(
        len(gets) >= len(MESSAGES) and not bad,
        "the client did not download the messages from the Session's downloadUrl with its variables filled in",
        expected=f"GET {habit.ODD_DOWNLOAD} for each message",
        observed="; ".join(bad[:3]) or f"{len(gets)} download(s); {run.summary()}",
    )
    check(run.ok, "the client did not complete the fetch", observed=run.summary())


@case("jmap.rfc8620.2.client-primary-account", defect=agent.FIRST_ACCOUNT)
def test_uses_the_primary_mail_account(client: ClientCase) -> None:
    srv, seen = jmap_server(client, habit.SHARED_ACCOUNT, messages=MESSAGES)
    run = client.run("jmap.fetch-all", srv)
    own = "A" + USER
    other = sorted({str(c[1].get("accountId")) for c in api_calls(seen) if c[1].get("accountId") != own})
    check(
        not other,
        "the client used an account other than the Session's primary account for mail",
        expected=f"accountId {own} (primaryAccounts[urn:ietf:params:jmap:mail])",
        observed=f"accountId {', '.join(other)}",
    )
    check(run.ok, "the client did not complete the fetch", observed=run.summary())


@case("jmap.rfc8620.2.2.client-follow-redirects", defect=agent.ONE_REDIRECT)
def test_follows_redirects_to_the_session(client: ClientCase) -> None:
    srv, seen = jmap_server(client, habit.REDIRECT_CHAIN, messages=MESSAGES)
    run = client.run("jmap.fetch-all", srv)
    hops = [f"{s.method} {s.path} -> {s.status}" for s in seen if s.method == "GET"][:4]
    check(
        any(s.path == "/jmap/session" and s.status == 200 for s in seen),
        "the client did not reach the Session through the redirects from /.well-known/jmap",
        expected="/.well-known/jmap -> 301 /discovery/next -> 308 /jmap/session",
        observed="; ".join(hops) or run.summary(),
    )
    check(run.ok, "the client did not complete the fetch", observed=run.summary())
    check_exact(run, MESSAGES)


@case("jmap.rfc8620.2.client-refetch-session", defect=agent.STALE_SESSION)
def test_fetches_the_session_again_when_its_state_changes(client: ClientCase) -> None:
    srv, seen = jmap_server(client, habit.SESSION_CHANGE, messages=MESSAGES)
    run = client.run("jmap.fetch-all", srv)
    first = next((i for i, s in enumerate(seen) if s.method == "POST"), None)
    check(first is not None, "the client made no API request", observed=run.summary())
    assert first is not None
    later = seen[first + 1 :]
    session = next((i for i, s in enumerate(later) if s.path in ("/.well-known/jmap", "/jmap/session")), None)
    used = next((i for i, s in enumerate(later) if s.path not in ("/.well-known/jmap", "/jmap/session")), None)
    check(
        used is None or (session is not None and session < used),
        "the API response said the Session had changed (a new sessionState); the client went on with the old one",
        expected="GET /.well-known/jmap again before the next request",
        observed=" ; ".join(f"{s.method} {s.path}" for s in later[:4]),
    )
    check(run.ok, "the client did not complete the fetch", observed=run.summary())
