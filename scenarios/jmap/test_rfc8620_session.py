"""RFC 8620 sections 1.7, 2 and 8.3: the Session resource, its discovery and authentication."""

import json
from typing import Any

from conformance.clients.jmap import CORE, JMAPSessions
from conformance.scenario import case
from conformance.servers.jmap import core as srv
from conformance.verdict import check
from conformance.wire import jmap as wire


def _raw(jmap: JMAPSessions) -> dict[str, Any]:
    return jmap.session().raw


def _show(value: object) -> str:
    return json.dumps(value)[:300]


@case("jmap.rfc8620.2.session-object", defect=srv.SESSION_TEXT_TYPE)
def test_session_is_json_object(jmap: JMAPSessions) -> None:
    resp = jmap.main.fetch_session()
    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    check(
        resp.status_code == 200, "an authenticated GET of the Session resource failed", observed=str(resp.status_code)
    )
    check(ctype == "application/json", "the Session is not served as JSON", expected="application/json", observed=ctype)
    try:
        obj = resp.json()
    except ValueError:
        obj = None
    check(isinstance(obj, dict), "the Session resource is not a JSON object", observed=resp.text[:200])


@case("jmap.rfc8620.2.session-object", defect=srv.SESSION_NO_STATE)
def test_session_has_every_member(jmap: JMAPSessions) -> None:
    devs = [d for d in wire.session_deviations(_raw(jmap)) if d.where.count("/") == 1]
    check(
        not devs,
        "the Session lacks members section 2 requires",
        expected="capabilities, accounts, primaryAccounts, username, apiUrl, downloadUrl, uploadUrl, eventSourceUrl, state",
        observed="; ".join(map(str, devs)),
    )


@case("jmap.rfc8620.2.core-capability", defect=srv.SESSION_NO_CORE)
def test_core_capability_present(jmap: JMAPSessions) -> None:
    caps = _raw(jmap).get("capabilities")
    check(
        isinstance(caps, dict) and isinstance(caps.get(CORE), dict),
        f"capabilities has no {CORE} object",
        observed=_show(caps),
    )


@case("jmap.rfc8620.2.core-limits", "jmap.rfc8620.1.3.unsigned-int", defect=srv.SESSION_LIMIT_STRING)
def test_core_limits_are_unsigned_ints(jmap: JMAPSessions) -> None:
    jmap.require(CORE)
    core = jmap.session().core
    bad = {k: core.get(k) for k in wire.CORE_LIMITS if not wire.is_unsigned_int(core.get(k))}
    check(
        not bad, "core limits are missing or not UnsignedInt", expected=", ".join(wire.CORE_LIMITS), observed=_show(bad)
    )


@case("jmap.rfc8620.2.core-limits", defect=srv.SESSION_NO_COLLATIONS)
def test_core_collation_algorithms(jmap: JMAPSessions) -> None:
    jmap.require(CORE)
    algos = jmap.session().core.get("collationAlgorithms")
    check(
        isinstance(algos, list) and all(isinstance(a, str) for a in algos),
        "collationAlgorithms is missing or not a String[]",
        observed=_show(algos),
    )


@case("jmap.rfc8620.2.accounts", defect=srv.ACCOUNT_NO_NAME)
def test_account_objects(jmap: JMAPSessions) -> None:
    accounts = _raw(jmap).get("accounts")
    check(
        isinstance(accounts, dict) and accounts,
        "accounts is missing or empty for an authenticated user",
        observed=_show(accounts),
    )
    assert isinstance(accounts, dict)
    for acc_id, acc in accounts.items():
        check(isinstance(acc, dict), f"account {acc_id} is not an object", observed=_show(acc))
        for key, kind in (("name", "String"), ("isPersonal", "Boolean"), ("isReadOnly", "Boolean")):
            d = wire.type_deviation(acc.get(key), kind, f"/accounts/{acc_id}/{key}")
            check(d is None, f"account {acc_id}: {key} is missing or not a {kind}", observed=str(d))
        check(isinstance(acc.get("accountCapabilities"), dict), f"account {acc_id} has no accountCapabilities object")


@case("jmap.rfc8620.2.accounts", defect=srv.ACCOUNT_FLAGS_STRINGS)
def test_account_flags_are_booleans(jmap: JMAPSessions) -> None:
    accounts = _raw(jmap).get("accounts") or {}
    flags = {
        f"{a}/{k}": v.get(k) for a, v in accounts.items() if isinstance(v, dict) for k in ("isPersonal", "isReadOnly")
    }
    check(flags, "no account to inspect")
    bad = {k: v for k, v in flags.items() if not isinstance(v, bool)}
    check(not bad, "isPersonal/isReadOnly are not JSON booleans", expected="true or false", observed=_show(bad))


@case("jmap.rfc8620.1.2.id", defect=srv.ACCOUNT_ID_BAD)
def test_account_ids_are_ids(jmap: JMAPSessions) -> None:
    accounts = _raw(jmap).get("accounts") or {}
    bad = [a for a in accounts if not wire.is_id(a)]
    check(
        accounts and not bad, "account ids are not Ids (1-255 of A-Za-z0-9, '-', '_')", observed=_show(list(accounts))
    )


@case("jmap.rfc8620.2.account-capabilities", defect=srv.ACCOUNT_NO_MAIL_CAP)
def test_account_capabilities_cover_method_capabilities(jmap: JMAPSessions) -> None:
    # urn:ietf:params:jmap:mail defines methods: the account it is usable with must list it.
    jmap.require("urn:ietf:params:jmap:mail")
    accounts = _raw(jmap).get("accounts") or {}
    with_mail = [a for a, v in accounts.items() if "urn:ietf:params:jmap:mail" in (v.get("accountCapabilities") or {})]
    check(
        with_mail,
        "no account lists urn:ietf:params:jmap:mail in accountCapabilities although the server offers it",
        observed=_show(accounts),
    )


@case("jmap.rfc8620.2.primary-accounts", defect=srv.PRIMARY_UNKNOWN)
def test_primary_accounts_name_known_accounts(jmap: JMAPSessions) -> None:
    raw = _raw(jmap)
    primary, accounts = raw.get("primaryAccounts"), raw.get("accounts") or {}
    check(isinstance(primary, dict), "primaryAccounts is missing or not an object", observed=_show(primary))
    assert isinstance(primary, dict)
    bad = {uri: a for uri, a in primary.items() if a not in accounts}
    check(not bad, "primaryAccounts names accounts that are not in accounts", observed=_show(bad))


@case("jmap.rfc8620.2.primary-no-core", defect=srv.PRIMARY_CORE)
def test_primary_accounts_without_core(jmap: JMAPSessions) -> None:
    primary = _raw(jmap).get("primaryAccounts") or {}
    check(CORE not in primary, f"primaryAccounts lists {CORE}", observed=_show(primary))


@case("jmap.rfc8620.2.username", defect=srv.USERNAME_MISSING)
def test_username(jmap: JMAPSessions) -> None:
    username = _raw(jmap).get("username")
    check(isinstance(username, str), "username is missing or not a String", observed=_show(username))


@case("jmap.rfc8620.2.api-url", defect=srv.API_URL_MISSING)
def test_api_url_works(jmap: JMAPSessions) -> None:
    api = _raw(jmap).get("apiUrl")
    check(isinstance(api, str) and api, "apiUrl is missing or empty", observed=_show(api))
    reply = jmap.main.call([["Core/echo", {"x": 1}, "e"]], (CORE,))
    check(
        reply.status == 200 and reply.response is not None,
        "a request to apiUrl got no JMAP Response",
        observed=reply.summary(),
    )


@case("jmap.rfc8620.2.download-url-variables", defect=srv.DOWNLOAD_URL_NO_NAME)
def test_download_url_variables(jmap: JMAPSessions) -> None:
    _template(jmap, "downloadUrl")


@case("jmap.rfc8620.2.upload-url-variables", defect=srv.UPLOAD_URL_NO_ACCOUNT)
def test_upload_url_variables(jmap: JMAPSessions) -> None:
    _template(jmap, "uploadUrl")


@case("jmap.rfc8620.2.eventsource-url-variables", defect=srv.EVENTSOURCE_URL_NO_PING)
def test_eventsource_url_variables(jmap: JMAPSessions) -> None:
    _template(jmap, "eventSourceUrl")


def _template(jmap: JMAPSessions, key: str) -> None:
    value = _raw(jmap).get(key)
    check(isinstance(value, str), f"{key} is missing or not a String", observed=_show(value))
    assert isinstance(value, str)
    missing = set(wire.URL_VARIABLES[key]) - wire.template_variables(value)
    check(not missing, f"{key} lacks template variables", expected=", ".join(wire.URL_VARIABLES[key]), observed=value)


@case("jmap.rfc8620.2.state", defect=srv.SESSION_NO_STATE)
def test_session_state(jmap: JMAPSessions) -> None:
    state = _raw(jmap).get("state")
    check(isinstance(state, str) and state, "the Session has no state string", observed=_show(state))


@case("jmap.rfc8620.3.4.session-state", defect=srv.SESSION_STATE_MISMATCH)
def test_response_session_state_matches(jmap: JMAPSessions) -> None:
    state = jmap.session().state()
    reply = jmap.main.call([["Core/echo", {}, "e"]], (CORE,))
    observed = reply.response.session_state if reply.response else None
    check(
        observed == state,
        "the Response's sessionState is not the Session's state",
        expected=state,
        observed=str(observed),
    )


@case("jmap.rfc8620.8.3.well-known", defect=srv.WELLKNOWN_404)
def test_well_known_resolves(jmap: JMAPSessions) -> None:
    t = jmap.ctx.target
    scheme = "https" if t.implicit_tls else "http"
    resp = jmap.main.request("GET", f"{scheme}://{t.host}:{t.port}/.well-known/jmap", follow=True)
    try:
        obj = resp.json()
    except ValueError:
        obj = None
    check(
        resp.status_code == 200 and isinstance(obj, dict) and "capabilities" in obj,
        "/.well-known/jmap neither serves nor redirects to the Session resource",
        expected="200 with the Session (after redirects)",
        observed=f"{resp.status_code} {resp.text[:120]}",
    )


@case("jmap.rfc8620.1.7.authenticated", defect=srv.NO_AUTH)
def test_session_needs_credentials(jmap: JMAPSessions) -> None:
    resp = jmap.main.fetch_session(auth=False)
    check(
        resp.status_code == 401,
        "the Session resource was served without credentials",
        expected="401",
        observed=str(resp.status_code),
    )


@case("jmap.rfc8620.1.7.authenticated", defect=srv.ANY_PASSWORD)
def test_wrong_password_refused(jmap: JMAPSessions) -> None:
    user, _ = jmap.ctx.credentials()
    bad = jmap.client(label="wrong password", user=user, password="mailspec-wrong-password")
    resp = bad.fetch_session()
    check(
        resp.status_code in (401, 403),
        "the Session resource was served for a wrong password",
        expected="401 or 403",
        observed=str(resp.status_code),
    )


@case("jmap.rfc8620.1.7.authenticated", defect=srv.NO_AUTH)
def test_api_needs_credentials(jmap: JMAPSessions) -> None:
    api = jmap.session().url_of("apiUrl")
    body = b'{"using":["urn:ietf:params:jmap:core"],"methodCalls":[["Core/echo",{},"e"]]}'
    resp = jmap.main.request("POST", api, body=body, headers={"Content-Type": "application/json"}, auth=False)
    check(
        resp.status_code == 401,
        "an API request without credentials was processed",
        expected="401",
        observed=str(resp.status_code),
    )
