"""The reference JMAP client against the embedded JMAP server: discovery, calls, blobs, push, redaction."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from conformance.clients.jmap import CORE, MAIL, JMAPClient
from conformance.discovery import parse_target
from conformance.net import Transcript
from conformance.peers.embedded import ACCOUNTS, EmbeddedPeer
from conformance.target import Target


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
