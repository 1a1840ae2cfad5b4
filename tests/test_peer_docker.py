"""The Docker backend, for real: every peer starts in a container, greets, delivers, reads back and leaves nothing.

Needs a Docker engine (``make test`` runs ci/install-docker, which installs
Debian's docker.io and starts ``dockerd --bridge=none`` when none runs, and
ci/make-base-image) and skips, naming why, only where no engine answers.
Images are built on first use and cached by content hash (a cold build of one
peer's image takes 5-20 s; see docs/peers/docker.md).
"""

from __future__ import annotations

import contextlib
import imaplib
import json
import os
import poplib
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.clients.smtp import SMTPClient
from conformance.context import MailboxProbe, make_message
from conformance.peers import PeerError
from conformance.peers import docker as dockerpeer
from conformance.peers.catalog import CATALOG, backends, make_peer
from conformance.peers.docker import LABEL, RUN_ID, DockerPeer
from conformance.target import Target
from tests.conftest import mailspec

pytestmark = [pytest.mark.realpeer, pytest.mark.slow]

# peer -> (the protocol to deliver over, the protocol to read back with: "maildir", "pop3" or "imap")
PEERS: dict[str, tuple[str, str]] = {
    "embedded": ("smtp", "pop3"),
    "postfix": ("smtp", "maildir"),
    "exim": ("smtp", "maildir"),
    "aiosmtpd": ("smtp", "maildir"),
    "dovecot": ("lmtp", "imap"),
    "cyrus": ("lmtp", "imap"),
    "postfix-dovecot": ("smtp", "imap"),
}
MARKS = {"embedded": b"", "postfix": b"Postfix", "exim": b"Exim", "aiosmtpd": b"Python SMTP", "dovecot": b"Dovecot"}


def need_engine() -> None:
    why = dockerpeer.engine_status()
    if why != "yes":
        pytest.skip(f"no Docker engine can run here: {why}")


def containers(**labels: str) -> list[Any]:
    c = dockerpeer.client()
    try:
        wanted = [f"{LABEL}=1", *(f"{k}={v}" for k, v in labels.items())]
        return list(c.containers.list(all=True, filters={"label": wanted}))
    finally:
        c.close()


def greeting(t: Target) -> bytes:
    with socket.create_connection((t.host, t.port), timeout=10) as s:
        if t.protocol == "jmap":
            s.sendall(b"GET /.well-known/jmap HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        return s.makefile("rb").readline(1000)


def deliver(t: Target) -> str:
    message, token = make_message(f"docker backend test ({t.peer})")
    with SMTPClient(t.host, t.port, lmtp=t.protocol == "lmtp") as client:
        assert client.connect().code == 220
        assert client.command(("LHLO" if t.protocol == "lmtp" else "EHLO") + " client.mailspec.test").code == 250
        assert client.mail("mailspec-sender@mailspec.test").code == 250
        assert client.rcpt(t.recipient).code == 250
        replies = client.data(message)
        assert [r.code for r in replies] == [354, 250], replies
        client.quit()
    return token


def read_back(how: str, targets: dict[str, Target], token: str, timeout: float = 30) -> None:
    """The delivered message is there for bob (the recipient), read the way the peer serves it."""
    any_target = next(iter(targets.values()))
    bob = next(a for a in any_target.accounts if a.user == "bob") if any_target.accounts else None
    deadline = time.monotonic() + timeout
    if how == "maildir":
        found = MailboxProbe(Path(any_target.maildir) / "bob").wait_for(token, timeout=timeout)
        assert len(found) == 1, "not delivered to bob's Maildir"
        return
    assert bob is not None
    while True:
        if how == "pop3":
            pop = poplib.POP3(targets["pop3"].host, targets["pop3"].port, timeout=10)
            try:
                pop.user(bob.user)
                pop.pass_(bob.password)
                texts = [b"\n".join(pop.retr(i + 1)[1]) for i in range(pop.stat()[0])]
            finally:
                pop.quit()
        else:
            imap = imaplib.IMAP4(targets["imap"].host, targets["imap"].port, timeout=10)
            try:
                imap.login(bob.user, bob.password)
                imap.select("INBOX", readonly=True)
                typ, data = imap.search(None, "HEADER", "X-Mailspec-Token", token)
                texts = [token.encode()] if typ == "OK" and data and data[0].split() else []
            finally:
                imap.logout()
        if any(token.encode() in t for t in texts):
            return
        assert time.monotonic() < deadline, f"{token} not readable over {how} for bob within {timeout} s"
        time.sleep(0.3)


@pytest.fixture
def engine() -> None:
    need_engine()


@pytest.mark.parametrize("name", list(PEERS))
def test_peer_runs_in_docker(engine: None, name: str) -> None:
    peer = DockerPeer(name)
    started = time.monotonic()
    targets = peer.start()
    try:
        assert peer.container_name and peer.run_dir is not None and peer.run_dir.is_dir()
        # Ready means greeting, and start (the image built already) takes seconds, not minutes.
        assert time.monotonic() - started - peer.build_seconds < 30
        primary = {t.protocol: t for t in targets if t.extra.get("role", "primary") == "primary"}
        assert set(primary) >= set(CATALOG[name].protocols) - {"submission"}, primary
        for t in targets:
            assert t.host == "127.0.0.1" and t.extra["backend"] == "docker" and t.peer == name
            if t.cafile:
                assert Path(t.cafile).is_file(), "the container's TLS material is visible on the host"
            if not t.implicit_tls:
                line = greeting(t)
                assert line[:4] in (b"220 ", b"220-", b"+OK ", b"* OK", b"HTTP"), (t.protocol, line)
                assert MARKS.get(name, b"") in line or t.protocol == "jmap", line
        how_in, how_out = PEERS[name]
        token = deliver(primary[how_in])
        read_back(how_out, primary, token)
        [mine] = containers(
            **{f"{LABEL}.run": RUN_ID, f"{LABEL}.peer": name, f"{LABEL}.owner": dockerpeer.owner_label()}
        )
        assert mine.name == peer.container_name
    finally:
        run_dir = peer.run_dir
        peer.stop()
    assert not [c for c in containers(**{f"{LABEL}.peer": name}) if c.name == peer.container_name]
    assert run_dir is not None and not run_dir.exists()
    for t in targets:
        with pytest.raises(OSError), socket.create_connection((t.host, t.port), timeout=2):
            pass
    assert "MAILSPEC-LOGS-BEGIN" in peer.logs(), "the peer's logs outlive the container"
    peer.stop()  # a second stop is harmless


def test_failed_start_leaves_no_container(engine: None) -> None:
    peer = DockerPeer("embedded", ("no-such-defect",))
    with pytest.raises(PeerError, match="no-such-defect"):
        peer.start()
    assert peer.run_dir is None
    assert not [c for c in containers(**{f"{LABEL}.run": RUN_ID}) if c.name == peer.container_name]


def test_prune_removes_leftovers_of_crashed_runs(engine: None) -> None:
    c = dockerpeer.client()
    image = dockerpeer.ensure_image("embedded", c)[0]
    left_dir = Path(tempfile.mkdtemp(prefix="mailspec-docker-prunetest-"))
    made = []
    try:
        for owner in ("00000000-dead:999999999:1", dockerpeer.owner_label()):  # a crashed run's, and ours
            made.append(
                c.containers.run(
                    image,
                    ["sleep", "300"],
                    detach=True,
                    network_mode="none",
                    labels={
                        LABEL: "1",
                        f"{LABEL}.run": "prune-test",
                        f"{LABEL}.owner": owner,
                        f"{LABEL}.dir": str(left_dir),
                    },
                )
            )
        removed = dockerpeer.prune()
        assert made[0].name in removed and made[1].name not in removed
        assert not left_dir.exists(), "the crashed run's directory is removed too"
        names = [x.name for x in containers(**{f"{LABEL}.run": "prune-test"})]
        assert names == [made[1].name]
    finally:
        for container in made:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        shutil.rmtree(left_dir, ignore_errors=True)
        c.close()


def test_cli_peers_up_and_down(engine: None) -> None:
    up = mailspec("peers", "up", "exim", "--backend", "docker", timeout=300)
    try:
        assert up.returncode == 0, up.stderr
        assert "exim is up (docker, exim 4.96) on 127.0.0.1" in up.stdout
        assert "account    alice / alice-Secret-1  <alice@mailspec.test>" in up.stdout
        port = int(next(ln for ln in up.stdout.splitlines() if ln.strip().startswith("smtp ")).split()[1].split(":")[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            assert b"Exim" in s.makefile("rb").readline(1000)
        assert containers(**{f"{LABEL}.peer": "exim", f"{LABEL}.owner": "up"}), "up leaves the container running"
        # prune leaves peers that are up alone; a second up of the same peer is refused.
        assert "exim" not in mailspec("peers", "prune").stdout
        again = mailspec("peers", "up", "exim", "--backend", "docker")
        assert (
            again.returncode == 2
            and again.stderr.strip() == "mailspec: error: exim is up already (docker): mailspec peers down exim"
        )
    finally:
        down = mailspec("peers", "down", "exim")
    assert down.returncode == 0 and "stopped exim (docker, container mailspec-exim-" in down.stdout, down.stderr
    assert not containers(**{f"{LABEL}.peer": "exim", f"{LABEL}.owner": "up"})
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


@pytest.mark.parametrize(
    "args, error",
    [
        (("peers", "up", "nosuch"), "unknown peer 'nosuch'; known: embedded, postfix"),
        (("peers", "up", "exim", "--backend", "vm"), "unknown backend 'vm'; known: local, docker"),
        (("peers", "down", "nosuch"), "unknown peer 'nosuch'"),
        (("peers", "down", "postfix-dovecot"), "postfix-dovecot is not up"),
        (("run", "--peer", "exim", "--backend", "vm"), "unknown backend 'vm'; known: local, docker"),
    ],
)
def test_cli_errors_are_one_line(args: tuple[str, ...], error: str) -> None:
    proc = mailspec(*args, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("mailspec: error: ") and error in proc.stderr


def test_cli_peers_up_local() -> None:
    if (why := backends("aiosmtpd")["local"]) != "yes":
        pytest.skip(f"aiosmtpd: {why}")
    up = mailspec("peers", "up", "aiosmtpd", "--backend", "local", timeout=120)
    try:
        assert up.returncode == 0 and "aiosmtpd is up (local, aiosmtpd " in up.stdout, up.stderr
    finally:
        down = mailspec("peers", "down", "aiosmtpd")
    assert down.returncode == 0 and "stopped aiosmtpd (local, pid" in down.stdout, down.stderr


def test_peers_list_shows_docker(engine: None) -> None:
    proc = mailspec("peers", "list")
    assert proc.returncode == 0
    rows = {ln.split()[0]: ln for ln in proc.stdout.splitlines()[1:]}
    assert set(rows) == set(CATALOG)
    assert all("docker: yes" in row for row in rows.values()), proc.stdout


@pytest.fixture(params=["local", "docker"])
def stack(request: pytest.FixtureRequest) -> Iterator[dict[str, Target]]:
    backend = request.param
    if backend == "docker":
        need_engine()
    elif (why := backends("postfix-dovecot")["local"]) != "yes":
        pytest.skip(f"postfix-dovecot: {why}")
    elif os.geteuid() != 0:
        pytest.skip("the postfix-dovecot stack needs root locally")
    peer = make_peer("postfix-dovecot", backend=backend)
    targets = peer.start()
    try:
        yield {t.protocol: t for t in targets}
    finally:
        peer.stop()


def test_stack_delivers_through_postfix_into_dovecot(stack: dict[str, Target]) -> None:
    assert sorted(stack) == ["imap", "lmtp", "pop3", "smtp"]
    smtp = stack["smtp"]
    assert stack["imap"].extra["smtp"] == stack["pop3"].extra["smtp"] == f"127.0.0.1:{smtp.port}"
    assert all(
        t.implementation.startswith("postfix 3.7") and "+ dovecot 2.3" in t.implementation for t in stack.values()
    )
    assert b"Postfix" in greeting(smtp) and b"Dovecot" in greeting(stack["imap"])
    token = deliver(smtp)
    read_back("imap", stack, token)
    read_back("pop3", stack, token)
    # Unknown recipients are refused by Postfix at RCPT, before Dovecot is asked.
    with SMTPClient(smtp.host, smtp.port) as client:
        client.connect()
        client.command("EHLO client.mailspec.test")
        client.mail("mailspec-sender@mailspec.test")
        assert client.rcpt(smtp.unknown_recipient).code == 550


def test_run_with_docker_backend_saves_peer_logs(engine: None, tmp_path: Path) -> None:
    proc = mailspec(
        "run", "--peer", "exim", "--backend", "docker", "--protocol", "smtp", "-k", "ehlo",
        "--report-dir", str(tmp_path), timeout=300,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    results = [json.loads(ln) for ln in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert results and all(r["implementation"].startswith("exim 4.96") for r in results if r["target"])
    log = (tmp_path / "peers" / "exim.log").read_text()
    assert "daemon started" in log and "MAILSPEC-LOGS-BEGIN" in log
    leftovers = [
        c.name
        for c in containers(**{f"{LABEL}.peer": "exim"})
        if not dockerpeer.owner_alive(c.labels[f"{LABEL}.owner"])
    ]
    assert not leftovers, "the run removed its container"
