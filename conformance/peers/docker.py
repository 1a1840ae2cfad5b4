"""The Docker backend: the same real servers as the local backend, each in a container of its own.

One class serves every peer of the catalog. ``DockerPeer(NAME)``:

- builds the image from ``fixtures/peers/NAME/Dockerfile`` (``FROM debian:bookworm-slim``,
  the same Debian packages as the local backend) on demand, tagged
  ``mailspec-peer-NAME:<hash>`` where the hash covers that directory (the
  Dockerfile and the config templates; ``known-failures.txt`` aside) and the
  base image, and labelled ``mailspec=1``; a tag that exists is reused, so an
  image is built once per change. ``docker build --network host``: no bridge
  network is needed. Where no registry is reachable, ``ci/make-base-image``
  makes ``debian:bookworm-slim`` with debootstrap and ``docker import``.
- runs it with host networking, the checkout mounted read-only at its own path
  and a fresh run directory (``$TMPDIR`` in the container) mounted read-write
  at its own path; the container runs ``python3 -m conformance.peers.serve
  NAME``, which starts the local backend's peer class *inside* the container
  (the same templates rendered the same way, with the container's users, uids
  and binaries) on free ports of 127.0.0.1, so the paths in the targets
  (maildir, cafile) are the same on the host.
- counts the peer as started when the container printed its targets (after
  every listener greeted, inside) and every listener greeted the host too.
- labels the container with the run id (``mailspec.run``), the peer, its run
  directory and the process that owns it (``mailspec.owner``), so
  ``mailspec peers prune`` can tell leftovers of crashed runs from live peers.
- on ``stop()``, in every case (also when the start failed, and at exit):
  stops the container (the peer stops its servers and prints their logs), keeps
  the container's log text for ``logs()`` (the report), removes the container
  and the run directory.

Postfix (``unshare -m`` and a bind mount over /etc/postfix) and Cyrus (an
overlay over /dev for its /dev/log) mount inside their container as they do
locally: those containers get CAP_SYS_ADMIN (and no AppArmor profile, where the
engine has AppArmor), nothing more.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import json
import os
import shutil
import socket
import ssl
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from ..target import Target
from . import PeerError
from .local import GREETINGS
from .serve import ERROR, LOGS_BEGIN, READY

CHECKOUT = Path(__file__).resolve().parents[2]
FIXTURES = CHECKOUT / "fixtures" / "peers"
BASE_IMAGE = "debian:bookworm-slim"
IMAGE_PREFIX = "mailspec-peer-"
LABEL = "mailspec"
# One run id per process (its peers' containers carry it); MAILSPEC_RUN_ID overrides it.
RUN_ID = os.environ.get("MAILSPEC_RUN_ID") or f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20
BUILD_TIMEOUT = 1800
NEEDS_MOUNTS = {"postfix", "cyrus", "postfix-dovecot"}  # peers that mount inside their container
ENGINE_HINT = "run ci/install-docker (Debian's docker.io, and dockerd started when none runs)"
UP_OWNER = "up"  # the owner label of peers started by `mailspec peers up`: only `down` ends them


def _docker() -> Any:
    try:
        import docker  # the docker SDK (a dependency of mailspec)
    except ImportError as e:
        raise PeerError(f"the docker SDK is not installed ({e}): pip install docker") from None
    return docker


def client() -> Any:
    """A client of the local Docker engine, or PeerError saying why there is none."""
    docker = _docker()
    try:
        c = docker.from_env(timeout=120)
        c.ping()
    except Exception as e:  # DockerException, connection errors, permission on the socket...
        raise PeerError(f"no Docker engine answers ({_one_line(e)}): {ENGINE_HINT}") from None
    return c


@functools.cache
def engine_status() -> str:
    """Whether a Docker engine answers: "yes", else the reason (asked once per process)."""
    try:
        client().close()
    except PeerError as e:
        return str(e)
    return "yes"


def available(name: str) -> str:
    """Whether peer ``name`` can run in Docker here: "yes", else why not."""
    if not (FIXTURES / name / "Dockerfile").is_file():
        return f"no fixtures/peers/{name}/Dockerfile"
    return engine_status()


def _one_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return " ".join(text.split())[:300]


# --- images -------------------------------------------------------------------


def context_hash(name: str, base_id: str = "") -> str:
    """Hash of the image's build context (Dockerfile and templates) and the base image's id."""
    h = hashlib.sha256(base_id.encode())
    root = FIXTURES / name
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel == "known-failures.txt":  # what the suite expects of the peer, not how the peer is made
            continue
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _base_image_id(c: Any) -> str:
    docker = _docker()
    try:
        return str(c.images.get(BASE_IMAGE).id)
    except docker.errors.ImageNotFound:
        return ""


def image_tag(name: str, c: Any | None = None) -> str:
    own = c is None
    c = c or client()
    try:
        return f"{IMAGE_PREFIX}{name}:{context_hash(name, _base_image_id(c))}"
    finally:
        if own:
            c.close()


def ensure_image(name: str, c: Any) -> tuple[str, float]:
    """The image of peer ``name``, built when its tag does not exist yet; (tag, seconds spent building)."""
    docker = _docker()
    from filelock import FileLock

    if not (FIXTURES / name / "Dockerfile").is_file():
        raise PeerError(f"peer {name} has no Docker image: fixtures/peers/{name}/Dockerfile is missing")
    tag = image_tag(name, c)
    try:
        c.images.get(tag)
        return tag, 0.0
    except docker.errors.ImageNotFound:
        pass
    # One build per image at a time, across processes (xdist workers, parallel runs).
    lock = FileLock(str(Path(tempfile.gettempdir()) / f"mailspec-docker-build-{name}.lock"))
    with lock.acquire(timeout=BUILD_TIMEOUT):
        try:
            c.images.get(tag)
            return tag, 0.0
        except docker.errors.ImageNotFound:
            pass
        started = time.monotonic()
        _build(c, name, tag)
        return tag, time.monotonic() - started


def _build(c: Any, name: str, tag: str) -> None:
    docker = _docker()
    lines: list[str] = []
    error = ""
    try:
        for chunk in c.api.build(
            path=str(FIXTURES / name),
            tag=tag,
            network_mode="host",
            labels={LABEL: "1", f"{LABEL}.peer": name},
            rm=True,
            forcerm=True,
            decode=True,
            timeout=BUILD_TIMEOUT,
        ):
            if "stream" in chunk:
                lines += chunk["stream"].splitlines()
            if "error" in chunk:
                error = chunk["error"].strip()
    except docker.errors.DockerException as e:
        error = _one_line(e)
    if error:
        tail = "\n".join(lines[-20:])
        hint = ""
        if _base_image_id(c) == "":
            hint = f"; {BASE_IMAGE} is not there and could not be pulled: run ci/make-base-image"
        raise PeerError(f"building the {name} image failed: {error}{hint}\n{tail}")


# --- processes and containers ---------------------------------------------------


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def _start_time(pid: int) -> str:
    try:
        # Field 22 (starttime), counted after the command name in parentheses.
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def owner_label(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{_boot_id()}:{pid}:{_start_time(pid)}"


def owner_alive(owner: str) -> bool:
    """Whether the process named by an owner label still runs (pid reuse and reboots told apart)."""
    if owner == UP_OWNER:
        return True
    try:
        boot, pid, start = owner.split(":")
    except ValueError:
        return False
    return boot == _boot_id() and start != "" and _start_time(int(pid)) == start


def _greets(protocol: str, port: int, timeout: float, implicit_tls: bool = False) -> str:
    """What went wrong waiting for the greeting on 127.0.0.1:port (TLS first if implicit); "" when it came."""
    if protocol not in GREETINGS:  # jmap (HTTP): an answer to a request
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
                s.settimeout(timeout)
                s.sendall(b"GET /.well-known/jmap HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                line = s.makefile("rb").readline(1000)
        except OSError as e:
            return str(e)
        return "" if line.startswith(b"HTTP/") else f"answer {line!r}"
    expected, goodbye = GREETINGS[protocol]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            raw.settimeout(timeout)
            s = raw
            if implicit_tls:  # readiness only: the certificate is the peer's business, checked by the cases
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s = ctx.wrap_socket(raw)
            line = s.makefile("rb").readline(1000)
            if line.startswith(expected):
                s.sendall(goodbye)
                return ""
            return f"greeting {line!r}"
    except OSError as e:
        return str(e)


class DockerPeer:
    """Peer ``name`` of the catalog in a container; see the module's documentation."""

    backend = "docker"

    def __init__(
        self, name: str, behaviours: tuple[str, ...] = (), *, start_timeout: float = START_TIMEOUT, keep: bool = False
    ) -> None:
        self.name = name
        self.behaviours = behaviours
        self.start_timeout = start_timeout
        self.keep = keep  # `mailspec peers up`: the container outlives this process
        self.version = ""
        self.image = ""
        self.build_seconds = 0.0
        self.start_seconds = 0.0
        self.container_name = ""
        self.run_dir: Path | None = None
        self._client: Any = None
        self._container: Any = None
        self._logs = ""

    # --- start ------------------------------------------------------------------

    def start(self) -> list[Target]:
        self._client = client()
        try:
            self.image, self.build_seconds = ensure_image(self.name, self._client)
            started = time.monotonic()
            self._run()
            targets = self._wait_ready()
            self.start_seconds = time.monotonic() - started
        except BaseException:
            self.stop()
            raise
        if not self.keep:
            atexit.register(self.stop)
        return targets

    def _run(self) -> None:
        docker = _docker()
        self.run_dir = Path(tempfile.mkdtemp(prefix=f"mailspec-docker-{self.name}-"))
        self.run_dir.chmod(0o755)  # the servers' users in the container must reach what lies below
        self.container_name = f"mailspec-{self.name}-{RUN_ID}-{uuid.uuid4().hex[:6]}"
        command = ["python3", "-m", "conformance.peers.serve", self.name]
        for b in self.behaviours:
            command += ["--defect", b]
        options: dict[str, Any] = {}
        if self.name in NEEDS_MOUNTS:
            options["cap_add"] = ["SYS_ADMIN"]
            if any("apparmor" in str(o) for o in self._client.info().get("SecurityOptions", [])):
                options["security_opt"] = ["apparmor=unconfined"]
        try:
            self._container = self._client.containers.run(
                self.image,
                command,
                name=self.container_name,
                detach=True,
                init=True,  # PID 1 reaps orphans and passes SIGTERM on to serve
                network_mode="host",
                labels={
                    LABEL: "1",
                    f"{LABEL}.run": RUN_ID,
                    f"{LABEL}.peer": self.name,
                    f"{LABEL}.dir": str(self.run_dir),
                    f"{LABEL}.owner": UP_OWNER if self.keep else owner_label(),
                },
                volumes={
                    str(CHECKOUT): {"bind": str(CHECKOUT), "mode": "ro"},
                    str(self.run_dir): {"bind": str(self.run_dir), "mode": "rw"},
                },
                environment={
                    "PYTHONPATH": str(CHECKOUT),
                    "PYTHONDONTWRITEBYTECODE": "1",  # the checkout is read-only
                    "PYTHONUNBUFFERED": "1",
                    "TMPDIR": str(self.run_dir),
                    "MAILSPEC_PEER_CACHE": "/var/cache/mailspec",
                },
                working_dir=str(self.run_dir),
                **options,
            )
        except docker.errors.DockerException as e:
            raise PeerError(f"cannot run the {self.name} container ({self.image}): {_one_line(e)}") from None

    def _container_log(self) -> str:
        if self._container is None:
            return ""
        try:
            raw: bytes = self._container.logs(stdout=True, stderr=True)
        except Exception:
            return ""
        return raw.decode("utf-8", "replace")

    def _wait_ready(self) -> list[Target]:
        docker = _docker()
        deadline = time.monotonic() + self.start_timeout
        targets: list[Target] | None = None
        while targets is None:
            text = self._container_log()
            for line in text.splitlines():
                if line.startswith(READY + " "):
                    payload = json.loads(line[len(READY) + 1 :])
                    self.version = payload.get("version", "")
                    targets = [Target.from_json(json.dumps(t)) for t in payload["targets"]]
                elif line.startswith(ERROR + " "):
                    raise PeerError(f"{self.name} (docker) could not start: {_tail(text)}")
            if targets is not None:
                break
            try:
                self._container.reload()
                status = self._container.status
            except docker.errors.NotFound:
                status = "removed"
            if status in ("exited", "dead", "removed"):
                raise PeerError(f"the {self.name} container ended ({status}) while starting:\n{_tail(text)}")
            if time.monotonic() > deadline:
                raise PeerError(f"{self.name} (docker) did not start within {self.start_timeout:g} s:\n{_tail(text)}")
            time.sleep(0.1)
        # Ready inside the container; ready for us when every listener greets over the host's loopback too.
        for t in targets:
            last = _greets(t.protocol, t.port, 5.0, t.implicit_tls)
            while last and time.monotonic() < deadline:
                time.sleep(0.1)
                last = _greets(t.protocol, t.port, 5.0, t.implicit_tls)
            if last:
                raise PeerError(f"{self.name} (docker) gives no {t.protocol} greeting on 127.0.0.1:{t.port}: {last}")
        return [t.with_(extra={**t.extra, "backend": "docker", "container": self.container_name}) for t in targets]

    # --- stop -------------------------------------------------------------------

    def stop(self) -> None:
        atexit.unregister(self.stop)
        docker = _docker()
        try:
            if self._container is not None:
                # SIGTERM: serve stops the peer and prints its logs; SIGKILL after STOP_TIMEOUT.
                with contextlib.suppress(docker.errors.DockerException):
                    self._container.stop(timeout=STOP_TIMEOUT)
                self._logs = self._container_log() or self._logs
                try:
                    self._container.remove(force=True, v=True)
                except docker.errors.NotFound:
                    pass
                except docker.errors.DockerException as e:
                    raise PeerError(f"could not remove container {self.container_name}: {_one_line(e)}") from None
        finally:
            self._container = None
            if self.run_dir is not None:
                shutil.rmtree(self.run_dir, ignore_errors=True)
                self.run_dir = None
            if self._client is not None:
                self._client.close()
                self._client = None

    def logs(self) -> str:
        text = self._container_log() if self._container is not None else self._logs
        return text


def _tail(text: str, lines: int = 30) -> str:
    body = text.split(LOGS_BEGIN)[0]
    return "\n".join(body.rstrip().splitlines()[-lines:]) or "(the container printed nothing)"


# --- leftovers and `peers up/down` -----------------------------------------------


def _remove(c: Any, container: Any) -> str:
    docker = _docker()
    name = str(container.name)
    labels = container.labels or {}
    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True, v=True)
    run_dir = labels.get(f"{LABEL}.dir", "")
    # Only a run directory this backend made (its name says so) is removed.
    if run_dir and Path(run_dir).name.startswith("mailspec-docker-"):
        shutil.rmtree(run_dir, ignore_errors=True)
    return name


def prune(*, everything: bool = False) -> list[str]:
    """Remove mailspec's containers whose owning process is gone (with ``everything``: all of them).

    Peers started by ``mailspec peers up`` have no owning process: only
    ``everything`` (or ``mailspec peers down NAME``) removes them.
    """
    c = client()
    try:
        removed = []
        for container in c.containers.list(all=True, filters={"label": f"{LABEL}=1"}):
            owner = (container.labels or {}).get(f"{LABEL}.owner", "")
            if everything or not owner_alive(owner):
                removed.append(_remove(c, container))
        return removed
    finally:
        c.close()


def up_containers(name: str) -> list[Any]:
    c = client()
    try:
        return list(
            c.containers.list(
                all=True, filters={"label": [f"{LABEL}=1", f"{LABEL}.peer={name}", f"{LABEL}.owner={UP_OWNER}"]}
            )
        )
    finally:
        c.close()


def down(name: str) -> list[str]:
    """Stop and remove the containers `mailspec peers up NAME --backend docker` left running."""
    docker = _docker()
    c = client()
    try:
        found = c.containers.list(
            all=True, filters={"label": [f"{LABEL}=1", f"{LABEL}.peer={name}", f"{LABEL}.owner={UP_OWNER}"]}
        )
        removed = []
        for container in found:
            with contextlib.suppress(docker.errors.DockerException):
                container.stop(timeout=STOP_TIMEOUT)
            removed.append(_remove(c, container))
        return removed
    finally:
        c.close()
