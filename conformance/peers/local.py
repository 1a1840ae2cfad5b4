"""Real implementations from Debian's packages, run as private instances on loopback.

PostfixPeer starts its own Postfix (the one installed by the ``postfix``
package) from a temporary directory: its own main.cf/master.cf (rendered from
``fixtures/peers/postfix/*.in``), queue, data and Maildir directories, an smtpd
bound to 127.0.0.1 on a free port, and a log file instead of syslog. The
package's system instance is neither needed nor touched.

Postfix only accepts a non-default configuration directory when the default
``/etc/postfix/main.cf`` names it, and Debian's "No configuration" install has
no main.cf at all. So the instance runs in a private mount namespace
(``unshare -m``) in which the temporary ``etc`` directory is bind-mounted over
``/etc/postfix``; nothing outside that namespace sees the mount.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from ..target import Credentials, Target
from ..tlsutil import loopback_material
from . import PeerError

ACCOUNTS = (
    # Postfix has no SASL here: the passwords are never used, the addresses are.
    Credentials("alice", "alice-Secret-1", "alice@mailspec.test"),
    Credentials("bob", "bob-Secret-2", "bob@mailspec.test"),
)
DOMAIN = "mailspec.test"
HOSTNAME = "mx.mailspec.test"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "peers"
SBIN_PATH = "/usr/sbin:/sbin:/usr/bin:/bin"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def render(template: Path, values: dict[str, str]) -> str:
    """Fill ``{name}`` placeholders; a placeholder without a value is an error, not a silent blank."""
    text = template.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    left = sorted(set(re.findall(r"(?<!\$)\{[a-z_]+\}", text)))
    if left:
        raise PeerError(f"{template.name}: no value for {', '.join(left)}")
    return text


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=SBIN_PATH)


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:]) or "(the log is empty)"


class PostfixPeer:
    name = "postfix"

    def __init__(self, *, start_timeout: float = START_TIMEOUT) -> None:
        self.start_timeout = start_timeout
        self.dir: Path | None = None
        self.port = 0
        self.version = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._mnt_ns = ""  # mount namespace of the instance, to find every process of it
        self._logs = ""  # kept after stop() removed the directory

    # --- requirements --------------------------------------------------------

    def _check_requirements(self) -> tuple[str, str]:
        postfix = _which("postfix")
        if postfix is None:
            raise PeerError("postfix is not installed: apt-get install postfix (or run ci/install-peers)")
        postconf = _which("postconf")
        if postconf is None:
            raise PeerError("postconf is missing although postfix is installed: apt-get install --reinstall postfix")
        if _which("unshare") is None:
            raise PeerError(
                "unshare is not installed (it runs Postfix in a private mount namespace): apt-get install util-linux"
            )
        if os.geteuid() != 0:
            raise PeerError("the postfix peer must run as root (it bind-mounts a private /etc/postfix with unshare -m)")
        try:
            pwd.getpwnam("postfix")
        except KeyError:
            raise PeerError("user postfix does not exist: apt-get install --reinstall postfix") from None
        if not Path("/etc/postfix/postfix-files").is_file():
            raise PeerError("/etc/postfix/postfix-files is missing: apt-get install --reinstall postfix")
        return postfix, postconf

    # --- start ------------------------------------------------------------------

    def start(self) -> list[Target]:
        postfix, postconf = self._check_requirements()
        version = subprocess.run(
            [postconf, "-d", "-h", "mail_version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.strip()
        self.version = version or "unknown"
        base = Path(tempfile.mkdtemp(prefix="mailspec-postfix-"))
        self.dir = base
        try:
            ca = self._prepare(base)
            self._launch(postfix, base)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        target = Target(
            protocol="smtp",
            host="127.0.0.1",
            port=self.port,
            accounts=ACCOUNTS,
            domain=DOMAIN,
            recipient=ACCOUNTS[1].address,
            unknown_recipient=f"no-such-user@{DOMAIN}",
            implementation=f"postfix {self.version}",
            peer=self.name,
            maildir=str(base / "mail"),
            cafile=ca,
            extra={"role": "primary"},
        )
        return [target]

    def _prepare(self, base: Path) -> str:
        """Write the instance's files under ``base``; returns the CA file clients should trust."""
        pw = pwd.getpwnam("postfix")
        base.chmod(0o755)  # the postfix user must reach queue, data and mail below it
        etc = base / "etc"
        # The package's meta files (postfix-files, dynamicmaps.cf, post-install...) are what
        # "postfix start" checks and creates the queue from; main.cf and master.cf are ours.
        shutil.copytree("/etc/postfix", etc, symlinks=True, ignore=shutil.ignore_patterns("main.cf", "master.cf"))
        for sub in ("queue", "data", "mail"):
            (base / sub).mkdir(mode=0o755)
        for sub in ("data", "mail"):
            os.chown(base / sub, pw.pw_uid, pw.pw_gid)
        (etc / "vmailbox").write_text("".join(f"{a.address} {a.user}/\n" for a in ACCOUNTS))
        # texthash tables are "key value": drop the colon of the aliases(5) format.
        aliases = Path("/etc/aliases").read_text() if Path("/etc/aliases").is_file() else "postmaster: root\n"
        (etc / "aliases").write_text(re.sub(r"(?m)^([^#\s:]+):", r"\1", aliases))
        (etc / "valias").write_text(f"postmaster@{DOMAIN} {ACCOUNTS[0].address}\n")
        tls = loopback_material()
        shutil.copyfile(tls.certfile, etc / "tls-chain.pem")
        shutil.copyfile(tls.keyfile, etc / "tls-key.pem")
        (etc / "tls-key.pem").chmod(0o600)
        self.port = free_port()
        values = {
            "base_dir": str(base),
            "conf_dir": str(etc),
            "queue_dir": str(base / "queue"),
            "data_dir": str(base / "data"),
            "mail_dir": str(base / "mail"),
            "maillog": str(base / "maillog"),
            "hostname": HOSTNAME,
            "domain": DOMAIN,
            "uid": str(pw.pw_uid),
            "gid": str(pw.pw_gid),
            "listen": f"127.0.0.1:{self.port}",
        }
        fixtures = FIXTURES / "postfix"
        (etc / "main.cf").write_text(render(fixtures / "main.cf.in", values))
        (etc / "master.cf").write_text(render(fixtures / "master.cf.in", values))
        return tls.cafile

    def _launch(self, postfix: str, base: Path) -> None:
        out = open(base / "stdout.log", "wb")  # noqa: SIM115 - the child owns it; closed below
        try:
            self._proc = subprocess.Popen(
                [
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    'mount --bind "$1" /etc/postfix && exec "$2" start-fg',
                    "sh",
                    str(base / "etc"),
                    postfix,
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, "PATH": f"{SBIN_PATH}:{os.environ.get('PATH', '')}"},
            )
        finally:
            out.close()

    def _wait_ready(self) -> None:
        """Until the SMTP greeting arrives (a listening socket alone is not enough)."""
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        last = "nothing tried yet"
        while time.monotonic() < deadline:
            self._note_namespace()
            if self._proc.poll() is not None:
                raise PeerError(
                    f"postfix exited with status {self._proc.returncode} while starting:\n{_tail(self.logs())}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2.0) as s:
                    s.settimeout(max(0.5, min(5.0, deadline - time.monotonic())))
                    line = s.makefile("rb").readline(1000)
                    if line.startswith(b"220"):
                        s.sendall(b"QUIT\r\n")
                        self._note_namespace()
                        return
                    last = f"greeting {line!r}"
            except OSError as e:
                last = str(e)
            time.sleep(0.1)
        raise PeerError(
            f"postfix gave no SMTP greeting on 127.0.0.1:{self.port} within {self.start_timeout:g} s "
            f"(last: {last}); log tail:\n{_tail(self.logs())}"
        )

    def _master_pid(self) -> int | None:
        if self.dir is None:
            return None
        try:
            return int((self.dir / "queue" / "pid" / "master.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def _note_namespace(self) -> None:
        """Remember the instance's mount namespace (from the wrapper once unshared, else from master)."""
        if self._mnt_ns:
            return
        ours = os.readlink("/proc/self/ns/mnt")
        candidates = [self._proc.pid] if self._proc is not None and self._proc.poll() is None else []
        master = self._master_pid()
        if master is not None:
            candidates.append(master)
        for pid in candidates:
            try:
                ns = os.readlink(f"/proc/{pid}/ns/mnt")
            except OSError:
                continue
            # Never our own namespace: that would take in every process of the machine.
            if ns != ours:
                self._mnt_ns = ns
                return

    # --- stop -------------------------------------------------------------------

    def instance_pids(self) -> list[int]:
        """Every process of this instance: in its mount namespace, or working under its directory."""
        found = []
        queue = str(self.dir / "queue") if self.dir is not None else None
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                if self._mnt_ns and os.readlink(f"/proc/{entry}/ns/mnt") == self._mnt_ns:
                    found.append(int(entry))
                    continue
                if queue is not None:
                    cwd = os.readlink(f"/proc/{entry}/cwd")
                    if cwd == queue or cwd.startswith(queue + "/"):
                        found.append(int(entry))
            except OSError:
                continue
        if self._proc is not None and self._proc.poll() is None and self._proc.pid not in found:
            found.append(self._proc.pid)
        return found

    def _signal_all(self, sig: signal.Signals) -> None:
        # The wrapper (unshare, sh, postfix, postfix-script) is our process group; "master -s"
        # leads a session of its own, and on TERM passes the signal on to its children.
        if self._proc is not None and self._proc.poll() is None:
            with _quiet():
                os.killpg(self._proc.pid, sig)
        master = self._master_pid()
        pids = self.instance_pids()
        for pid in sorted(pids, key=lambda p: p != master):
            with _quiet():
                os.kill(pid, sig)

    def _wait_gone(self, timeout: float) -> list[int]:
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is not None:
                with _quiet(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=0.05)
            left = self.instance_pids()
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.05)

    def stop(self) -> None:
        atexit.unregister(self.stop)
        if self.dir is None:
            return
        try:
            self._note_namespace()
            if self._proc is not None or self.instance_pids():
                self._signal_all(signal.SIGTERM)
                if self._wait_gone(STOP_TIMEOUT):
                    self._signal_all(signal.SIGKILL)
                    left = self._wait_gone(5.0)
                    if left:
                        raise PeerError(f"postfix processes survived SIGKILL: {left}")
        finally:
            self._logs = self.logs()
            self._proc = None
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def logs(self) -> str:
        if self.dir is None:
            return self._logs
        parts = []
        for name in ("maillog", "stdout.log"):
            try:
                text = (self.dir / name).read_text(errors="replace")
            except OSError:
                continue
            if text.strip():
                parts.append(text)
        return "\n".join(parts)


class _quiet:
    """Ignore a vanished process (or the given exceptions) while signalling or waiting."""

    def __init__(self, *extra: type[BaseException]) -> None:
        self.types: tuple[type[BaseException], ...] = (ProcessLookupError, PermissionError, *extra)

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        return typ is not None and issubclass(typ, self.types)
