"""What SEARCH answers with: the SEARCH response (RFC 3501 7.2.5) under IMAP4rev1, ESEARCH under
IMAP4rev2 (RFC 9051 6.4.4, 6.4.9, 7.3.4), and the RETURN options MIN, MAX, COUNT, ALL (RFC 4731)."""

from dataclasses import dataclass, field

from conformance.clients.imap import IMAPClient, IMAPSessions, Result
from conformance.context import make_message
from conformance.scenario import case
from conformance.servers.imap import search as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire
from conformance.wire.errors import RemoteProtocolError

# Messages 2 and 4 of five are \Flagged.
FLAGGED = {2, 4}


@dataclass
class ESearch:
    """One ``* ESEARCH [(TAG "t")] [UID] name value...`` response."""

    tag: str | None
    uid: bool
    data: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""


def _esearches(res: Result) -> list[ESearch]:
    out = []
    for u in res.named("ESEARCH"):
        vals = list(u.values)
        tag = None
        if vals and isinstance(corr := vals[0], list):
            vals.pop(0)
            if len(corr) == 2 and isinstance(corr[0], str) and corr[0].upper() == "TAG":
                tag = corr[1].decode() if isinstance(corr[1], bytes) else str(corr[1])
        uid = bool(vals) and isinstance(vals[0], str) and vals[0].upper() == "UID"
        if uid:
            vals.pop(0)
        data = {str(vals[i]).upper(): str(vals[i + 1]) for i in range(0, len(vals) - 1, 2)}
        out.append(ESearch(tag, uid, data, u.raw))
    return out


def _box(imap: IMAPSessions, *, rev1: bool = False, client: IMAPClient | None = None) -> IMAPClient:
    """Five messages, 2 and 4 \\Flagged, selected (in ``client``'s session when given, else a new one)."""
    client = client or (imap.login(rev="imap4rev1") if rev1 else imap.login())
    imap.scratch(client, [make_message(f"esearch {i + 1}")[0] for i in range(5)])
    res = client.store("2,4", "+FLAGS", ("\\Flagged",))
    if not res.ok:
        unsupported(f"cannot set \\Flagged on the case's messages: {res}")
    return client


def _esearch_box(imap: IMAPSessions) -> IMAPClient:
    """As ``_box``, on a server that offers SEARCH RETURN (ESEARCH capability or IMAP4rev2)."""
    client = imap.login()
    if imap.mode(client) != "imap4rev2":
        imap.require(client, "ESEARCH")
    return _box(imap, client=client)  # the session whose capabilities were checked (review F6)


def _one(res: Result, what: str) -> ESearch:
    """The single ESEARCH response a SEARCH RETURN must give."""
    found = _esearches(res)
    check(res.ok, f"{what} was refused", expected="OK", observed=str(res))
    check(
        len(found) == 1,
        f"{what} did not give exactly one ESEARCH response",
        expected="one * ESEARCH",
        observed=f"{len(found)} ESEARCH, {len(res.named('SEARCH'))} SEARCH",
    )
    return found[0]


def _returning(client: IMAPClient, options: list[wire.Arg], *criteria: wire.Arg, uid: bool = False) -> Result:
    return client.command("UID SEARCH" if uid else "SEARCH", wire.Atom("RETURN"), options, *criteria)


# --- IMAP4rev1: the SEARCH response ---------------------------------------------------


@case("imap.rfc3501.6.4.4.search-response", defect=srv.REV1_ESEARCH)
def test_search_response_rev1(imap: IMAPSessions) -> None:
    client = _box(imap, rev1=True)
    res = client.command("SEARCH", wire.Atom("FLAGGED"))
    check(res.ok, "SEARCH FLAGGED was refused", observed=str(res))
    lines = res.named("SEARCH")
    check(len(lines) >= 1, "SEARCH gave no untagged SEARCH response", expected="* SEARCH 2 4", observed=str(res))
    found = {int(v) for u in lines for v in u.values if isinstance(v, str) and v.isdigit()}
    check(
        found == FLAGGED, "the SEARCH response does not list the matching messages", expected="2 4", observed=str(found)
    )


@case("imap.rfc3501.6.4.4.search-response", defect=srv.REV1_ESEARCH)
def test_search_response_empty_rev1(imap: IMAPSessions) -> None:
    client = _box(imap, rev1=True)
    res = client.command("SEARCH", wire.Atom("DELETED"))
    check(res.ok, "SEARCH DELETED was refused", observed=str(res))
    lines = res.named("SEARCH")
    check(
        len(lines) == 1 and not lines[0].values,
        "no match: SEARCH must still send a SEARCH response, with no numbers",
        expected="* SEARCH",
        observed=" | ".join(u.raw.decode(errors="replace").strip() for u in res.untagged) or "(nothing)",
    )


@case("imap.rfc3501.7.2.5.search-uids", defect=srv.SEARCH_UID_AS_SEQ)
def test_uid_search_gives_uids_rev1(imap: IMAPSessions) -> None:
    client = _box(imap, rev1=True)
    # Expunge message 1 so that UIDs and message numbers differ.
    client.store("1", "+FLAGS", ("\\Deleted",))
    client.command("EXPUNGE")
    uids = imap.uids(client)
    res, found = client.search(wire.Atom("FLAGGED"), uid=True)
    want = {uids[n - 2] for n in FLAGGED}
    check(res.ok, "UID SEARCH FLAGGED was refused", observed=str(res))
    check(
        set(found) == want, "UID SEARCH did not answer with the UIDs", expected=str(sorted(want)), observed=str(found)
    )


# --- IMAP4rev2: ESEARCH ---------------------------------------------------------------


@case("imap.rfc9051.6.4.4.default-all", defect=srv.REV2_SEARCH_RESPONSE)
def test_search_answers_esearch_rev2(imap: IMAPSessions) -> None:
    client = _box(imap)
    imap.require_profile(client, "imap4rev2")
    res = client.command("SEARCH", wire.Atom("FLAGGED"))
    es = _one(res, "SEARCH FLAGGED")
    got = wire.expand_sequence_set(es.data["ALL"], 5) if "ALL" in es.data else []
    check(
        set(got) == FLAGGED,
        "the ESEARCH response does not give ALL the matches",
        expected="ALL 2,4",
        observed=str(es.raw),
    )


@case("imap.rfc9051.7.3.4.esearch-correlator", defect=srv.ESEARCH_NO_TAG)
def test_esearch_correlator_rev2(imap: IMAPSessions) -> None:
    client = _box(imap)
    imap.require_profile(client, "imap4rev2")
    res = client.command("SEARCH", wire.Atom("FLAGGED"))
    es = _one(res, "SEARCH FLAGGED")
    tag = res.tagged.tag
    check(
        es.tag == tag,
        "the ESEARCH response does not carry the command's tag",
        expected=f'(TAG "{tag}")',
        observed=str(es.raw),
    )


@case("imap.rfc9051.6.4.9.uid-indicator", defect=srv.ESEARCH_NO_UID)
def test_uid_search_uid_indicator_rev2(imap: IMAPSessions) -> None:
    client = _box(imap)
    imap.require_profile(client, "imap4rev2")
    es = _one(client.command("UID SEARCH", wire.Atom("FLAGGED")), "UID SEARCH FLAGGED")
    check(
        es.uid,
        "the ESEARCH response to UID SEARCH has no UID indicator",
        expected="* ESEARCH (TAG ..) UID ALL ..",
        observed=str(es.raw),
    )


@case("imap.rfc9051.6.4.9.uid-search-uids", defect=srv.SEARCH_UID_AS_SEQ)
def test_uid_search_gives_uids_rev2(imap: IMAPSessions) -> None:
    client = _box(imap)
    imap.require_profile(client, "imap4rev2")
    client.store("1", "+FLAGS", ("\\Deleted",))
    client.command("EXPUNGE")
    uids = imap.uids(client)
    want = {uids[n - 2] for n in FLAGGED}
    es = _one(client.command("UID SEARCH", wire.Atom("FLAGGED")), "UID SEARCH FLAGGED")
    got = set(wire.expand_sequence_set(es.data["ALL"], max(uids))) if "ALL" in es.data else set()
    check(got == want, "UID SEARCH did not answer with the UIDs", expected=str(sorted(want)), observed=str(es.raw))


@case("imap.rfc9051.6.4.4.unknown-option-bad", defect=srv.UNKNOWN_RETURN_OK)
def test_unknown_return_option_bad_rev2(imap: IMAPSessions) -> None:
    client = _box(imap)
    imap.require_profile(client, "imap4rev2")
    res = _returning(client, [wire.Atom("X-MAILSPEC-NO-SUCH-OPTION")], wire.Atom("ALL"))
    check(res.status == "BAD", "an unknown RETURN option was not rejected with BAD", expected="BAD", observed=str(res))


@case("imap.rfc9051.6.4.4.count-always", defect=srv.COUNT_OMITTED_WHEN_ZERO)
def test_count_zero_rev2(imap: IMAPSessions) -> None:
    client = _box(imap)
    imap.require_profile(client, "imap4rev2")
    es = _one(_returning(client, [wire.Atom("COUNT")], wire.Atom("DELETED")), "SEARCH RETURN (COUNT) DELETED")
    check(
        es.data.get("COUNT") == "0", "COUNT is missing when nothing matches", expected="COUNT 0", observed=str(es.raw)
    )


# --- RFC 4731 RETURN options ---------------------------------------------------------------


@case("imap.rfc4731.3.1.min-lowest", defect=srv.MIN_WRONG)
def test_return_min(imap: IMAPSessions) -> None:
    client = _esearch_box(imap)
    es = _one(_returning(client, [wire.Atom("MIN")], wire.Atom("FLAGGED")), "SEARCH RETURN (MIN) FLAGGED")
    check(es.data.get("MIN") == "2", "MIN is not the lowest matching number", expected="MIN 2", observed=str(es.raw))


@case("imap.rfc4731.3.1.max-highest", defect=srv.MAX_WRONG)
def test_return_max(imap: IMAPSessions) -> None:
    client = _esearch_box(imap)
    es = _one(_returning(client, [wire.Atom("MAX")], wire.Atom("FLAGGED")), "SEARCH RETURN (MAX) FLAGGED")
    check(es.data.get("MAX") == "4", "MAX is not the highest matching number", expected="MAX 4", observed=str(es.raw))


@case("imap.rfc4731.3.1.count-always", defect=srv.COUNT_OMITTED_WHEN_ZERO)
def test_return_count(imap: IMAPSessions) -> None:
    client = _esearch_box(imap)
    es = _one(_returning(client, [wire.Atom("COUNT")], wire.Atom("FLAGGED")), "SEARCH RETURN (COUNT) FLAGGED")
    check(es.data.get("COUNT") == "2", "COUNT is not the number of matches", expected="COUNT 2", observed=str(es.raw))
    es = _one(_returning(client, [wire.Atom("COUNT")], wire.Atom("DELETED")), "SEARCH RETURN (COUNT) DELETED")
    check(
        es.data.get("COUNT") == "0", "COUNT is missing when nothing matches", expected="COUNT 0", observed=str(es.raw)
    )


@case("imap.rfc4731.3.1.all-sequence-set", defect=srv.ALL_NOT_SET)
def test_return_all_sequence_set(imap: IMAPSessions) -> None:
    client = _esearch_box(imap)
    es = _one(_returning(client, [wire.Atom("ALL")], wire.Atom("1:3")), "SEARCH RETURN (ALL) 1:3")
    value = es.data.get("ALL", "")
    try:
        got = set(wire.expand_sequence_set(value, 5))
    except RemoteProtocolError:
        got = set()
    check(got == {1, 2, 3}, "ALL is not a sequence-set of the matches", expected="ALL 1:3", observed=str(es.raw))


@case("imap.rfc4731.3.1.min-none", defect=srv.MIN_WHEN_NONE)
def test_no_match_min_max_all_left_out(imap: IMAPSessions) -> None:
    client = _esearch_box(imap)
    options: list[wire.Arg] = [wire.Atom("MIN"), wire.Atom("MAX"), wire.Atom("ALL")]
    es = _one(_returning(client, options, wire.Atom("DELETED")), "SEARCH RETURN (MIN MAX ALL) DELETED")
    check(
        not {"MIN", "MAX", "ALL"} & es.data.keys(),
        "with no match, the ESEARCH response still carries MIN, MAX or ALL",
        expected="* ESEARCH (TAG ..)",
        observed=str(es.raw),
    )


@case("imap.rfc4731.3.1.single-esearch", defect=srv.RETURN_AS_SEARCH)
def test_return_gives_esearch_not_search(imap: IMAPSessions) -> None:
    client = _esearch_box(imap)
    options: list[wire.Arg] = [wire.Atom("MIN"), wire.Atom("COUNT")]
    res = _returning(client, options, wire.Atom("FLAGGED"))
    es = _one(res, "SEARCH RETURN (MIN COUNT) FLAGGED")
    check(not res.named("SEARCH"), "a SEARCH response came besides the ESEARCH", observed=str(res.untagged))
    check(
        es.data.get("MIN") == "2" and es.data.get("COUNT") == "2",
        "MIN and COUNT are not both in the one ESEARCH response",
        expected="MIN 2 COUNT 2",
        observed=str(es.raw),
    )


@case("imap.rfc4731.3.1.empty-return-all", defect=srv.RETURN_AS_SEARCH)
def test_empty_return_means_all(imap: IMAPSessions) -> None:
    client = _esearch_box(imap)
    es = _one(_returning(client, [], wire.Atom("FLAGGED")), "SEARCH RETURN () FLAGGED")
    got = set(wire.expand_sequence_set(es.data["ALL"], 5)) if "ALL" in es.data else set()
    check(got == FLAGGED, "RETURN () did not answer as RETURN (ALL)", expected="ALL 2,4", observed=str(es.raw))


@case("imap.rfc4731.3.1.uid-indicator", defect=srv.ESEARCH_NO_UID)
def test_uid_search_return_uid_indicator(imap: IMAPSessions) -> None:
    client = _esearch_box(imap)
    uids = imap.uids(client)
    options: list[wire.Arg] = [wire.Atom("MIN"), wire.Atom("MAX")]
    es = _one(_returning(client, options, wire.Atom("FLAGGED"), uid=True), "UID SEARCH RETURN (MIN MAX) FLAGGED")
    check(es.uid, "the ESEARCH response to UID SEARCH has no UID indicator", observed=str(es.raw))
    want = (str(uids[1]), str(uids[3]))
    check(
        (es.data.get("MIN"), es.data.get("MAX")) == want,
        "MIN and MAX of UID SEARCH are not the UIDs of the first and last match",
        expected=f"MIN {want[0]} MAX {want[1]}",
        observed=str(es.raw),
    )
