"""RFC 8620 2, 2.2, 6.2 and RFC 8621 1.3.1: a JMAP client finds everything through the Session
(its URLs, its primary account), follows redirects to it, ignores what it does not know in it,
and fetches it again when its state changes."""

from urllib.parse import urlsplit

from conformance.agents import mailspec_jmap as agent
from conformance.agents.harness import ClientCase
from conformance.agents.jmap import check_exact, fetch_all, jmap_message, jmap_server
from conformance.scenario import case
from conformance.servers.jmap import client_habits as habit
from conformance.verdict import check

MESSAGES = [jmap_message(1), jmap_message(2)]
SESSION_PATHS = ("/.well-known/jmap", "/discovery/next", "/jmap/session")


@case("jmap.rfc8620.2.client-ignore-unknown-session-properties", defect=agent.STRICT_SESSION)
def test_unknown_session_properties(client: ClientCase) -> None:
    fetch_all(client, jmap_server(client, habit.SESSION_EXTRAS, messages=MESSAGES).srv, MESSAGES)


@case("jmap.rfc8620.2.client-ignore-unknown-capability-properties", defect=agent.STRICT_CAPABILITIES)
def test_unknown_capabilities_and_properties(client: ClientCase) -> None:
    fetch_all(client, jmap_server(client, habit.CAPABILITY_EXTRAS, messages=MESSAGES).srv, MESSAGES)


@case("jmap.rfc8621.1.3.1.client-ignore-unknown-sort-options", defect=agent.STRICT_SORT_OPTIONS)
def test_unknown_sort_options(client: ClientCase) -> None:
    fetch_all(client, jmap_server(client, habit.SORT_OPTION_EXTRAS, messages=MESSAGES).srv, MESSAGES)


@case("jmap.rfc8620.2.client-api-url", defect=agent.FIXED_API_PATH)
def test_api_requests_go_to_the_session_api_url(client: ClientCase) -> None:
    served = jmap_server(client, habit.ODD_API_URL, messages=MESSAGES)
    run = client.run("jmap.fetch-all", served.srv)
    posts = [f"{s.path}?{s.query}" for s in served.seen if s.method == "POST"]
    elsewhere = [p for p in posts if p != habit.ODD_API]
    check(
        bool(posts) and not elsewhere,
        "the client sent API requests somewhere other than the Session's apiUrl",
        expected=f"POST {habit.ODD_API}",
        observed="; ".join(elsewhere[:3]) or run.summary(),
    )
    check(run.ok, "the client did not complete the fetch", observed=run.summary())
    check_exact(run, MESSAGES)


def _downloads(seen: list[habit.Seen]) -> list[str]:
    """The client's GET requests other than for the Session (downloads, wherever they went)."""
    return [f"{s.path}?{s.query} -> {s.status}" for s in seen if s.method == "GET" and s.path not in SESSION_PATHS]


@case("jmap.rfc8620.6.2.client-download-url", defect=agent.FIXED_DOWNLOAD_PATH)
def test_downloads_use_the_session_download_url(client: ClientCase) -> None:
    served = jmap_server(client, habit.ODD_DOWNLOAD_URL, messages=MESSAGES)
    run = client.run("jmap.fetch-all", served.srv)
    gets = _downloads(served.seen)
    bad = [g for g in gets if not g.startswith("/files/fetch?") or not g.endswith("200")]
    check(
        len(gets) >= len(MESSAGES) and not bad,
        "the client did not download the messages from the Session's downloadUrl with its variables filled in",
        expected=f"GET {habit.ODD_DOWNLOAD} for each message",
        observed="; ".join(bad[:3]) or f"{len(gets)} download(s); {run.summary()}",
    )
    check(run.ok, "the client did not complete the fetch", observed=run.summary())
    check_exact(run, MESSAGES)


@case("jmap.rfc8620.2.client-download-url-template", defect=agent.NO_PERCENT_ENCODING)
def test_download_url_template_is_percent_encoded(client: ClientCase) -> None:
    """downloadUrl is a level 1 URI Template: a value is percent-encoded as it is put in, so the "/" of
    "message/rfc822" becomes %2F in a path segment (the server keeps type out of the query on purpose)."""
    served = jmap_server(client, habit.PATH_DOWNLOAD_URL, messages=MESSAGES)
    run = client.run("jmap.fetch-all", served.srv)
    gets = _downloads(served.seen)
    bad = [g for g in gets if not g.endswith("200")]
    check(
        bool(gets) and not bad,
        "the client did not percent-encode the values it put into the downloadUrl template",
        expected=f"GET {habit.PATH_DOWNLOAD.replace('{type}', 'message%2Frfc822')} (any type and name, encoded)",
        observed="; ".join(bad[:2]) or run.summary(),
    )
    check(run.ok, "the client did not complete the fetch", observed=run.summary())
    check_exact(run, MESSAGES)


@case("jmap.rfc8620.2.client-primary-account", defect=agent.FIRST_ACCOUNT)
def test_fetches_the_primary_mail_account(client: ClientCase) -> None:
    """The Session lists a shared, read-only archive account first; "the user's main or default
    account" for mail is primaryAccounts[urn:ietf:params:jmap:mail], and the inbox fetched is its."""
    served = jmap_server(client, habit.SHARED_ACCOUNT, messages=MESSAGES)
    run = client.run("jmap.fetch-all", served.srv)
    got = run.produced()
    archived = [m for m in habit.SHARED_MAIL if m in got]
    check(
        not archived,
        "the client fetched the inbox of the shared account listed first, not of the primary account for mail",
        expected="alice's messages (primaryAccounts[urn:ietf:params:jmap:mail])",
        observed=f"{len(archived)} message(s) of the shared archive account",
    )
    check(run.ok, "the client did not complete the fetch", observed=run.summary())
    check_exact(run, MESSAGES)


@case("jmap.rfc8620.2.2.client-follow-redirects", defect=agent.ONE_REDIRECT)
def test_follows_redirects_to_the_session(client: ClientCase) -> None:
    served = jmap_server(client, habit.REDIRECT_CHAIN, messages=MESSAGES)
    run = client.run("jmap.fetch-all", served.srv)
    hops = [f"{s.method} {s.path} -> {s.status}" for s in served.seen if s.method == "GET"][:4]
    check(
        any(s.path == "/jmap/session" and s.status == 200 for s in served.seen),
        "the client did not reach the Session through the redirects from /.well-known/jmap",
        expected="/.well-known/jmap -> 301 /discovery/next -> 308 /jmap/session",
        observed="; ".join(hops) or run.summary(),
    )
    check(run.ok, "the client did not complete the fetch", observed=run.summary())
    check_exact(run, MESSAGES)


@case("jmap.rfc8620.2.client-refetch-session", defect=agent.STALE_SESSION)
def test_fetches_the_session_again_when_its_state_changes(client: ClientCase) -> None:
    served = jmap_server(client, habit.SESSION_CHANGE, messages=MESSAGES)
    run = client.run("jmap.fetch-all", served.srv)
    seen = served.seen
    first = next((i for i, s in enumerate(seen) if s.method == "POST"), None)
    check(first is not None, "the client made no API request", observed=run.summary())
    assert first is not None
    later = seen[first + 1 :]
    session = next((i for i, s in enumerate(later) if s.path in SESSION_PATHS), None)
    used = next((i for i, s in enumerate(later) if s.path not in SESSION_PATHS), None)
    check(
        used is None or (session is not None and session < used),
        "the API response said the Session had changed (a new sessionState); the client went on with the old one",
        expected="GET the Session again before the next request",
        observed=" ; ".join(f"{s.method} {urlsplit(s.path).path}" for s in later[:4]),
    )
    check(run.ok, "the client did not complete the fetch", observed=run.summary())
