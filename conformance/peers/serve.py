"""Run one peer in the foreground until told to stop: ``python -m conformance.peers.serve NAME``.

The process the Docker backend runs in each container (and ``mailspec peers up
--backend local`` runs detached). It starts peer NAME exactly as the local
backend does (``make_peer(NAME, backend="local")``: the same templates, users,
binaries and readiness check, here the container's), then prints one line::

    MAILSPEC-READY {"peer": NAME, "version": ..., "targets": [<Target JSON>...]}

and waits for SIGTERM or SIGINT. Then it stops the peer (which ends every one of
its processes and removes its directory) and prints the peer's logs between
``MAILSPEC-LOGS-BEGIN`` and ``MAILSPEC-LOGS-END``, so they outlive the
container. A peer that cannot start prints ``MAILSPEC-ERROR <reason>`` (the
reason's first line; the rest follows on stderr) and exits with status 3.

Files (the peer's directory, its TLS material) go under ``$TMPDIR``, which the
Docker backend mounts at the same path on the host, so the maildir and cafile
paths in the targets are valid on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ..target import Target

READY = "MAILSPEC-READY"
ERROR = "MAILSPEC-ERROR"
LOGS_BEGIN = "MAILSPEC-LOGS-BEGIN"
LOGS_END = "MAILSPEC-LOGS-END"
EXIT_START_FAILED = 3
CHECKOUT = Path(__file__).resolve().parents[2]
UP_DIR = Path(tempfile.gettempdir()) / "mailspec-up"  # `peers up --backend local`: NAME.json and NAME.log
UP_TIMEOUT = 90.0
DOWN_TIMEOUT = 30.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.peers.serve")
    parser.add_argument("name", help="a peer of the catalog (mailspec peers list)")
    parser.add_argument("--defect", action="append", default=[], help="seeded defect (embedded peer only)")
    ns = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    # Installed before the peer starts: a stop asked for during the start is not lost.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    from . import PeerError
    from .catalog import make_peer

    try:
        peer = make_peer(ns.name, behaviours=tuple(ns.defect), backend="local")
        targets = peer.start()
    except (PeerError, ValueError, OSError, ImportError) as e:
        # ImportError: a module the peer needs is missing from the image (name it, not a traceback).
        text = str(e).strip() or type(e).__name__
        print(f"{ERROR} {text.splitlines()[0]}", flush=True)
        print(text, file=sys.stderr, flush=True)
        return EXIT_START_FAILED
    try:
        version = getattr(peer, "version", "") or ""
        payload = {"peer": ns.name, "version": version, "targets": [json.loads(t.to_json()) for t in targets]}
        print(f"{READY} {json.dumps(payload)}", flush=True)
        while not stop.wait(3600):
            pass
    finally:
        try:
            peer.stop()
        finally:
            print(LOGS_BEGIN, flush=True)
            print(peer.logs(), flush=True)
            print(LOGS_END, flush=True)
    return 0


# --- `mailspec peers up | down` ---------------------------------------------------


def _state_file(name: str) -> Path:
    return UP_DIR / f"{name}.json"


def _alive(pid: int, start: str) -> bool:
    from .docker import _start_time

    return bool(start) and _start_time(pid) == start


def _local_up_state(name: str) -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(_state_file(name).read_text())
    except (OSError, ValueError):
        return None
    return state if _alive(int(state["pid"]), str(state["start"])) else None


def up(name: str, backend: str | None = None) -> tuple[str, list[Target]]:
    """Start peer ``name`` and leave it running after this process ends; (backend, its targets)."""
    from . import PeerError
    from .catalog import BACKENDS, CATALOG, default_backend

    if name not in CATALOG:
        raise PeerError(f"unknown peer {name!r}; known: {', '.join(CATALOG)}")
    if backend is not None and backend not in BACKENDS:
        raise PeerError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    backend = backend or default_backend(name)
    if _local_up_state(name) is not None:
        raise PeerError(f"{name} is up already (local): mailspec peers down {name}")
    if backend == "docker":
        from .docker import DockerPeer, engine_status, up_containers

        if engine_status() == "yes" and up_containers(name):
            raise PeerError(f"{name} is up already (docker): mailspec peers down {name}")
        peer = DockerPeer(name, keep=True)
        return backend, peer.start()
    return backend, _up_local(name)


def _up_local(name: str) -> list[Target]:
    """``python -m conformance.peers.serve NAME`` in a session of its own, its output in UP_DIR/NAME.log."""
    from . import PeerError
    from .docker import _start_time

    UP_DIR.mkdir(mode=0o700, exist_ok=True)
    log = UP_DIR / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "conformance.peers.serve", name],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")])),
            },
        )
    deadline = time.monotonic() + UP_TIMEOUT
    while True:
        text = log.read_text(errors="replace")
        for line in text.splitlines():
            if line.startswith(READY + " "):
                payload = json.loads(line[len(READY) + 1 :])
                state = {
                    "backend": "local",
                    "pid": proc.pid,
                    "start": _start_time(proc.pid),
                    "log": str(log),
                    **payload,
                }
                _state_file(name).write_text(json.dumps(state))
                return [Target.from_json(json.dumps(t)) for t in payload["targets"]]
            if line.startswith(ERROR + " "):
                proc.wait(timeout=30)
                raise PeerError(line[len(ERROR) + 1 :])
        if proc.poll() is not None:
            raise PeerError(f"{name} exited with status {proc.returncode} while starting; see {log}")
        if time.monotonic() > deadline:
            proc.terminate()
            raise PeerError(f"{name} did not start within {UP_TIMEOUT:g} s; see {log}")
        time.sleep(0.1)


def down(name: str) -> list[str]:
    """Stop what ``up(name)`` left running, on either backend; what was stopped."""
    from . import PeerError
    from .catalog import CATALOG

    if name not in CATALOG:
        raise PeerError(f"unknown peer {name!r}; known: {', '.join(CATALOG)}")
    stopped = []
    state = _local_up_state(name)
    if state is not None:
        os.kill(int(state["pid"]), signal.SIGTERM)
        deadline = time.monotonic() + DOWN_TIMEOUT
        while _alive(int(state["pid"]), str(state["start"])) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(int(state["pid"]), str(state["start"])):
            raise PeerError(f"{name} (local, pid {state['pid']}) did not stop within {DOWN_TIMEOUT:g} s")
        stopped.append(f"{name} (local, pid {state['pid']}; its log: {state['log']})")
    _state_file(name).unlink(missing_ok=True)
    from .docker import down as docker_down
    from .docker import engine_status

    if engine_status() == "yes":
        stopped += [f"{name} (docker, container {c})" for c in docker_down(name)]
    if not stopped:
        raise PeerError(f"{name} is not up")
    return stopped


if __name__ == "__main__":
    sys.exit(main())
