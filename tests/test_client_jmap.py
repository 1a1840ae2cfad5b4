"""The reference JMAP client against the embedded JMAP server: discovery, calls, blobs, push, redaction."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.clients.jmap import CORE, MAIL, JMAPClient
from conformance.discovery import parse_target
from conformance.net import Transcript
from conformance.peers.embedded import ACCOUNTS, EmbeddedPeer
from conformance.target import Target
from tests.conftest import mailspec


@pytest.fixture(scope="module")
def jmap_target() -> Iterator[Target]:
    peer = EmbeddedPeer(mirror=False)
    try:
        yield next(t for t in peer.start() if t.protocol == "jmap")
    finally:
        peer.stop()


def _client(target: Target, password: str | None = None) -> tuple[JMAPClient, Transcript]:
    tr = Transcript("test")
    acct = ACCOUNTS[0]
    url = f"http://127.0.0.1:{target.port}/.well-known/jmap"
    return JMAPClient(url, tr, 5.0, acct.user, password or acct.password), tr


def test_session_discovered_through_redirect(jmap_target: Target) -> None:
    client, _ = _client(jmap_target)
    session = client.load_session()
    assert session.url.endswith("/jmap/session")
    assert CORE in session.capabilities and MAIL in session.capabilities
    client.close()


def test_call_and_back_reference(jmap_target: Target) -> None:
    client, _ = _client(jmap_target)
    acc = next(iter(client.load_session().raw["accounts"]))
    reply = client.call(
        [
            ["Mailbox/query", {"accountId": acc}, "q"],
            [
                "Mailbox/get",
                {"accountId": acc, "#ids": {"resultOf": "q", "name": "Mailbox/query", "path": "/ids"}},
                "g",
            ],
        ],
        (CORE, MAIL),
    )
    names = [m["name"] for m in (reply.args("g", "Mailbox/get") or {})["list"]]
    assert "INBOX" in names
    client.close()


def test_upload_download(jmap_target: Target) -> None:
    client, _ = _client(jmap_target)
    acc = next(iter(client.load_session().raw["accounts"]))
    up = client.upload(acc, b"\x00\x01mailspec", "application/x-test")
    assert up.json["size"] == 10
    down = client.download(acc, up.json["blobId"], "a b.bin", "application/x-test")
    assert down.content == b"\x00\x01mailspec"
    assert down.headers["content-type"] == "application/x-test"
    client.close()


def test_event_stream_pings(jmap_target: Target) -> None:
    client, _ = _client(jmap_target)
    stream = client.events("*", "no", 1, seconds=3.0)
    try:
        event = next(e for e in stream if e.event == "ping")
    finally:
        stream.close()
    assert event.json() == {"interval": 1}
    client.close()


def test_wrong_password_is_401(jmap_target: Target) -> None:
    client, _ = _client(jmap_target, password="wrong")
    assert client.fetch_session().status_code == 401
    client.close()


def test_credentials_redacted(jmap_target: Target) -> None:
    client, tr = _client(jmap_target)
    client.load_session()
    client.close()
    acct = ACCOUNTS[0]
    text = tr.render().encode()
    assert b"Authorization" in text or b"authorization" in text
    assert acct.password.encode() not in text
    assert base64.b64encode(f"{acct.user}:{acct.password}".encode()) not in text


def test_target_keeps_session_path(jmap_target: Target) -> None:
    found, _ = parse_target(f"jmap://127.0.0.1:{jmap_target.port}/jmap/session")
    assert found[0].protocol == "jmap" and not found[0].implicit_tls
    assert found[0].extra["session_url"] == f"http://127.0.0.1:{jmap_target.port}/jmap/session"
    plain, _ = parse_target(f"http://127.0.0.1:{jmap_target.port}")
    assert "session_url" not in plain[0].extra


def test_jmaps_target_with_a_bearer_token(tmp_path: Path) -> None:
    """`jmaps://` (https) and a bearer token from --target-config: the Session scenarios run, the
    token never appears in the results."""
    from conformance.agents.harness import client_tls
    from conformance.servers.base import ServerThread
    from conformance.servers.jmap import JMAPConfig, JMAPServer
    from conformance.store import MailStore

    store = MailStore("mailspec.test")
    for a in ACCOUNTS:
        store.add_account(a.user, a.password)
    token = "mailspec-bearer-Token-7f3a9c"
    server = JMAPServer(store, JMAPConfig(tokens={token: ACCOUNTS[0].user}))
    server.scheme = "https"
    thread = ServerThread()
    try:
        port = thread.listen(server.handle, tls=client_tls().context("good"))
        cfg = tmp_path / "target.toml"
        cfg.write_text(f'[target]\nurl = "jmaps://127.0.0.1:{port}"\ntoken = "{token}"\n')
        proc = mailspec(
            "run", "--target-config", str(cfg), "-k", "test_rfc8620_session", "--report-dir", str(tmp_path / "r")
        )
    finally:
        thread.stop()
    results = [json.loads(x) for x in (tmp_path / "r" / "results.jsonl").read_text().splitlines()]
    assert results and {r["protocol"] for r in results} == {"jmap"}, proc.stdout[-2000:]
    verdicts = [r["verdict"] for r in results]
    assert "ERROR" not in verdicts and "TIMEOUT" not in verdicts and verdicts.count("PASS") > len(verdicts) // 2, (
        verdicts
    )
    assert token not in (tmp_path / "r" / "results.jsonl").read_text()
