"""JMAP for the client cases: the reference server, the clients' operations, the jmapc runner,
and what the JMAP client cases share.

Imported at the end of ``harness`` (as ``imap_jmap`` is). The reference server is the embedded
JMAP server behind TLS (https only: JMAP clients such as jmapc know no other scheme) with the
habits of ``servers/jmap/client_habits.py``. Operations added to the catalog's agents:

- ``jmap.fetch-all``: every Email of the mailbox with role inbox, as raw messages in {maildir};
- ``jmap.sync``: the same the first time, then only what is new (state in {workdir}): run it
  again with ``workdir=`` and ``maildir=`` of the first run.

Python libraries run as ``python -m conformance.agents.jmap LIB OPERATION [options]``, used the
way their documentation shows.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from ..servers.jmap import client_habits
from ..servers.jmap.client_habits import Seen
from ..verdict import check
from .catalog import CATALOG, PY, Operation
from .harness import ClientCase, RefServer, RunResult, ServerSpec, server_factory
from .imap_jmap import _add_ops, check_fetched, imap_message
from .pylib import write_maildir
from .runner import EX_TEMPFAIL, EX_UNAVAILABLE, dispatch
from .runner import parser as runner_parser


@server_factory("jmap")
def _jmap(spec: ServerSpec) -> Any:
    cfg = client_habits.ClientCaseConfig(
        behaviours=spec.behaviours, requests=spec.options.get("requests", []), events=spec.options.get("events", [])
    )
    return client_habits.HabitServer(spec.store, cfg).handle


_ARGS = (
    " --host {host} --port {port} --timeout {timeout} --cafile {cafile} --user {user} --password {password}"
    " --maildir {maildir}"
)


def register() -> None:
    ops = ("fetch-all", "sync")
    _add_ops(
        "mailspec",
        {
            f"jmap.{op}": Operation(
                f"{{python}} -m conformance.agents.mailspec_jmap {op}{_ARGS} --state {{workdir}}/mailspec-jmap.state"
            )
            for op in ops
        },
        ("jmap",),
    )
    runner = PY.replace("pylib", "jmap")
    _add_ops(
        "jmapc",
        {f"jmap.{op}": Operation(f"{runner} jmapc {op}{_ARGS} --state {{workdir}}/jmapc.state") for op in ops},
    )
    if "jmapc" in CATALOG:
        CATALOG["jmapc"] = dataclasses.replace(CATALOG["jmapc"], notes="")


register()


# --- jmapc as a process -------------------------------------------------------------------------


def _jmapc(a: argparse.Namespace) -> int:
    # requests (under jmapc) takes the CA to trust from the environment.
    os.environ["REQUESTS_CA_BUNDLE"] = a.cafile
    import requests
    from jmapc import Client, ClientError, EmailQueryFilterCondition, MailboxQueryFilterCondition, errors
    from jmapc.methods import EmailChanges, EmailGet, EmailQuery, MailboxQuery
    from jmapc.models import EmailBodyPart

    client = Client.create_with_password(host=f"{a.host}:{a.port}", user=a.user, password=a.password)
    state_file = Path(a.state)
    saved = json.loads(state_file.read_text()) if a.operation == "sync" and state_file.exists() else {}
    seen: set[str] = set(saved.get("seen", []))

    def inbox() -> str:
        boxes: Any = client.request(MailboxQuery(filter=MailboxQueryFilterCondition(role="inbox")), raise_errors=True)
        return str(boxes.ids[0])

    def download(ids: list[str], mailbox: str = "") -> None:
        size = max(1, client.jmap_session.capabilities.core.max_objects_in_get)
        for start in range(0, len(ids), size):
            props = ["id", "blobId", "mailboxIds"]
            got: Any = client.request(EmailGet(ids=ids[start : start + size], properties=props), raise_errors=True)
            for email in got.data:
                if email.blob_id in seen or (mailbox and mailbox not in (email.mailbox_ids or {})):
                    continue
                with tempfile.TemporaryDirectory() as tmp:
                    part = EmailBodyPart(blob_id=email.blob_id, name="message.eml", type="message/rfc822")
                    client.download_attachment(part, Path(tmp) / "message.eml")
                    write_maildir(a.maildir, (Path(tmp) / "message.eml").read_bytes())
                seen.add(str(email.blob_id))

    def fetch_all() -> str:
        got: Any = client.request(EmailGet(ids=[], properties=["id"]), raise_errors=True)
        state = got.state
        box = inbox()
        ids: list[str] = []
        query_state = None
        for _ in range(10_000):  # pages; a server that never ends its results is a failure, not a hang
            res: Any = client.request(
                EmailQuery(filter=EmailQueryFilterCondition(in_mailbox=box), position=len(ids), limit=50),
                raise_errors=True,
            )
            if query_state is not None and res.query_state != query_state:
                ids, query_state = [], None  # the results moved between pages: list them again
                continue
            query_state = res.query_state
            page = list(res.ids)
            ids += page
            if not page:
                break
        download(ids)
        return str(state)

    try:
        if a.operation == "sync" and saved.get("state"):
            state = saved["state"]
            box = inbox()
            while True:
                res: Any = client.request(EmailChanges(since_state=state, max_changes=100))
                if isinstance(res, errors.CannotCalculateChanges):
                    state = fetch_all()
                    break
                if isinstance(res, errors.Error):
                    print(f"Email/changes: {res.type}", file=sys.stderr)
                    return EX_TEMPFAIL
                download(list(res.created), box)
                state = res.new_state
                if not res.has_more_changes:
                    break
        else:
            state = fetch_all()
    except ClientError as e:
        print(f"ClientError: {e}: {[r.response for r in e.result]}", file=sys.stderr)
        return EX_TEMPFAIL
    except requests.HTTPError as e:
        print(f"HTTPError: {e}", file=sys.stderr)
        return EX_UNAVAILABLE
    if a.operation == "sync":
        state_file.write_text(json.dumps({"state": state, "seen": sorted(seen)}))
    return 0


RUNNERS = {"jmapc": _jmapc}


def main(argv: list[str]) -> int:
    p = runner_parser("jmap")
    p.add_argument("--state", default="")
    return dispatch("jmap", RUNNERS, argv, p)


# --- what JMAP client cases share ---------------------------------------------------------------


jmap_message = functools.partial(imap_message, label="jmap")


@dataclasses.dataclass
class Served:
    """A JMAP reference server of a case: the server, the client's HTTP requests, what the habits did."""

    srv: RefServer
    seen: list[Seen]
    events: list[str]

    def api_calls(self) -> list[list[Any]]:
        return [c for s in self.seen if s.method == "POST" for c in s.calls()]

    def responses(self) -> list[list[Any]]:
        return [r for s in self.seen for r in s.responses()]


def jmap_server(client: ClientCase, *habits: object, messages: int | list[bytes] = 2, cert: str = "good") -> Served:
    """The JMAP reference server (https) with ``habits`` and alice's INBOX holding ``messages``."""
    msgs = [jmap_message(i) for i in range(1, messages + 1)] if isinstance(messages, int) else messages
    seen: list[Seen] = []
    events: list[str] = []
    srv = client.server(
        "jmap", behaviours=habits, tls=False, implicit_tls=True, cert=cert, messages=msgs, requests=seen, events=events
    )
    return Served(srv, seen, events)


def fetch_all(client: ClientCase, srv: RefServer, expected: list[bytes]) -> RunResult:
    """Run the client's jmap.fetch-all; it must succeed and retrieve ``expected`` byte-exact."""
    run = client.run("jmap.fetch-all", srv)
    check(run.ok, "the client did not complete the fetch", observed=run.summary())
    check_exact(run, expected)
    return run


check_exact = functools.partial(check_fetched, exact=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
