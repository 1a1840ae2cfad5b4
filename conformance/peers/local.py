"""Real implementations run as private instances on loopback: the shared mechanism, and Postfix.

Every local peer (``LocalPeer`` below; Postfix here, Exim, aiosmtpd and Dovecot
in their own modules) works the same way: a temporary directory holds its
configuration (rendered from ``fixtures/peers/<name>/*.in``), its spool and log
files and the Maildirs it delivers to; it listens on free ports of 127.0.0.1
only; it runs in a session (process group) of its own; it counts as started
once every listener sent its protocol greeting; and ``stop()`` ends every
process of the instance (its process group, its mount namespace if it has one,
and anything working under its directory), keeps the log text and removes the
directory.

PostfixPeer starts its own Postfix (the one installed by the ``postfix``
package) from such a directory: its own main.cf/master.cf, queue, data and
Maildir directories, an smtpd bound to 127.0.0.1 on a free port, and a log file
instead of syslog. The package's system instance is neither needed nor touched.

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
    # Postfix, Exim and aiosmtpd have no SASL here: only the addresses are used there.
    # Dovecot authenticates these users with these passwords.
    Credentials("alice", "alice-Secret-1", "alice@mailspec.test"),
    Credentials("bob", "bob-Secret-2", "bob@mailspec.test"),
)
DOMAIN = "mailspec.test"
# The account whose mailbox is full (a configuration of each peer, not a defect): LMTP accepts
# its RCPT and fails its delivery after DATA, for that recipient only (RFC 2033 4.2).
FULL_USER = "carol"
HOSTNAME = "mx.mailspec.test"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "peers"
SBIN_PATH = "/usr/sbin:/sbin:/usr/bin:/bin"
# Where ci/install-peers unpacks Debian packages that cannot be installed next to
# the others (Exim conflicts with Postfix): CACHE/<peer>/root is a dpkg -x tree.
CACHE_DIR = Path(os.environ.get("MAILSPEC_PEER_CACHE", "/var/cache/mailspec"))
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
BIND_ATTEMPTS = 3  # starts tried when the chosen port was taken meanwhile
MASTER_GRACE = 3.0  # how long a master may take to end its own children before they are signalled

# protocol -> (what its greeting starts with, how to leave politely)
GREETINGS: dict[str, tuple[bytes, bytes]] = {
    "smtp": (b"220", b"QUIT\r\n"),
    "submission": (b"220", b"QUIT\r\n"),
    "lmtp": (b"220", b"QUIT\r\n"),
    "pop3": (b"+OK", b"QUIT\r\n"),
    "imap": (b"* OK", b"a LOGOUT\r\n"),
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct free ports (each socket is held until all are chosen)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.bind((host, 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


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


def need_root(peer: str, why: str) -> None:
    if os.geteuid() != 0:
        raise PeerError(f"the {peer} peer must run as root ({why})")


def need_user(user: str, fix: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise PeerError(f"user {user} does not exist: {fix}") from None


def _live(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


class LocalPeer:
    """A private instance of a real server; subclasses say what to write, run and offer.

    Hooks, in the order ``start()`` calls them: ``check_requirements`` (raise
    PeerError naming what is missing), ``prepare`` (write files under the
    directory and fill ``self.listeners``), ``detect_version``, ``command`` and
    ``environment`` (what to run), ``targets``. ``pid_files`` name the
    server's master processes (signalled first on stop) and ``log_names`` the
    log files (both relative to the directory).
    """

    name = "local"
    log_names: tuple[str, ...] = ("stdout.log",)
    # What the greeting of this implementation contains: a greeting without it comes from
    # some other server that took the port between free_port() and our bind.
    greeting_mark = b""

    def __init__(self, *, start_timeout: float = START_TIMEOUT) -> None:
        self.start_timeout = start_timeout
        self.dir: Path | None = None
        self.listeners: dict[str, int] = {}  # protocol -> port, in the order they are waited for
        self.version = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._mnt_ns = ""  # private mount namespace of the instance, if it has one
        self._logs = ""  # kept after stop() removed the directory

    @property
    def port(self) -> int:
        """The first listener's port."""
        return next(iter(self.listeners.values()), 0)

    # --- hooks ------------------------------------------------------------------

    def check_requirements(self) -> None:
        raise NotImplementedError

    def detect_version(self) -> str:
        return ""

    def prepare(self, base: Path) -> None:
        raise NotImplementedError

    def command(self, base: Path) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return {**os.environ, "PATH": f"{SBIN_PATH}:{os.environ.get('PATH', '')}"}

    def targets(self, base: Path) -> list[Target]:
        raise NotImplementedError

    def pid_files(self) -> list[Path]:
        return []

    # --- start ------------------------------------------------------------------

    def start(self) -> list[Target]:
        self.check_requirements()
        for attempt in range(1, BIND_ATTEMPTS + 1):
            try:
                return self._start_once()
            except PeerError as e:
                # A free port can be taken by another process before the server binds it.
                if attempt == BIND_ATTEMPTS or "already in use" not in str(e).lower():
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> list[Target]:
        base = Path(tempfile.mkdtemp(prefix=f"mailspec-{self.name}-"))
        self.dir = base
        try:
            base.chmod(0o755)  # the server's unprivileged users must reach what lies below
            self.prepare(base)
            # After prepare(): asking some servers their version needs the instance's configuration.
            self.version = self.detect_version() or "unknown"
            self._launch(base)
            self._wait_ready()
            targets = self.targets(base)
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        return targets

    def _launch(self, base: Path) -> None:
        out = open(base / "stdout.log", "wb")  # noqa: SIM115 - the child owns it; closed below
        try:
            self._proc = subprocess.Popen(
                self.command(base),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=base,
                start_new_session=True,
                env=self.environment(),
            )
        finally:
            out.close()

    def _wait_ready(self) -> None:
        """Until every listener sent its greeting (a listening socket alone is not enough)."""
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        for protocol, port in self.listeners.items():
            expected, goodbye = GREETINGS[protocol]
            last = "nothing tried yet"
            while True:
                self._note_namespace()
                if self._proc.poll() is not None:
                    raise PeerError(
                        f"{self.name} exited with status {self._proc.returncode} while starting:\n{_tail(self.logs())}"
                    )
                if time.monotonic() >= deadline:
                    raise PeerError(
                        f"{self.name} gave no {protocol.upper()} greeting on 127.0.0.1:{port} within "
                        f"{self.start_timeout:g} s (last: {last}); log tail:\n{_tail(self.logs())}"
                    )
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=2.0) as s:
                        s.settimeout(max(0.5, min(1.0, deadline - time.monotonic())))
                        line = s.makefile("rb").readline(1000)
                        if line.startswith(expected) and self.greeting_mark in line:
                            s.sendall(goodbye)
                            break
                        last = f"greeting {line!r}"
                except OSError as e:
                    last = str(e)
                time.sleep(0.1)
        self._note_namespace()

    def _pids_from_files(self) -> list[int]:
        pids = []
        for path in self.pid_files():
            try:
                pids.append(int(path.read_text().split()[0]))
            except (OSError, ValueError, IndexError):
                continue
        return pids

    def _note_namespace(self) -> None:
        """Remember the instance's mount namespace, if it runs in a private one."""
        if self._mnt_ns:
            return
        ours = os.readlink("/proc/self/ns/mnt")
        candidates = [self._proc.pid] if self._proc is not None and self._proc.poll() is None else []
        candidates += self._pids_from_files()
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
        """Every live process of the instance: its mount namespace, its process group, or working under its directory."""
        found = []
        base = str(self.dir) if self.dir is not None else None
        group = self._proc.pid if self._proc is not None else None
        me = os.getpid()
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            pid = int(entry)
            try:
                if self._mnt_ns and os.readlink(f"/proc/{pid}/ns/mnt") == self._mnt_ns:
                    found.append(pid)
                    continue
                if group is not None and os.getpgid(pid) == group:
                    found.append(pid)
                    continue
                if base is not None:
                    cwd = os.readlink(f"/proc/{pid}/cwd")
                    if cwd == base or cwd.startswith(base + "/"):
                        found.append(pid)
            except OSError:
                continue
        if self._proc is not None and self._proc.poll() is None and self._proc.pid not in found:
            found.append(self._proc.pid)
        return [p for p in found if _live(p)]

    def _signal_masters(self, sig: signal.Signals) -> None:
        masters = set(self._pids_from_files())
        if self._proc is not None and self._proc.poll() is None:
            masters.add(self._proc.pid)
        for pid in masters:
            with _quiet():
                os.kill(pid, sig)

    def _signal_all(self, sig: signal.Signals) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with _quiet():
                os.killpg(self._proc.pid, sig)
        masters = self._pids_from_files()
        # Masters first: on TERM they pass the signal on to their children and clean up.
        for pid in sorted(self.instance_pids(), key=lambda p: p not in masters):
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
                # The server's own shutdown first (its master ends its children), then everyone.
                self._signal_masters(signal.SIGTERM)
                if self._wait_gone(MASTER_GRACE):
                    self._signal_all(signal.SIGTERM)
                if self._wait_gone(STOP_TIMEOUT):
                    self._signal_all(signal.SIGKILL)
                    left = self._wait_gone(5.0)
                    if left:
                        raise PeerError(f"{self.name} processes survived SIGKILL: {left}")
        finally:
            self._logs = self.logs()
            self._proc = None
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def logs(self) -> str:
        if self.dir is None:
            return self._logs
        parts = []
        for name in self.log_names:
            try:
                text = (self.dir / name).read_text(errors="replace")
            except OSError:
                continue
            if text.strip():
                parts.append(text)
        return "\n".join(parts)


class PostfixPeer(LocalPeer):
    name = "postfix"
    log_names = ("maillog", "stdout.log")
    greeting_mark = b"Postfix"

    def __init__(self, *, start_timeout: float = START_TIMEOUT) -> None:
        super().__init__(start_timeout=start_timeout)
        self._postfix = ""
        self._postconf = ""
        self._cafile = ""

    def check_requirements(self) -> None:
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
        need_root("postfix", "it bind-mounts a private /etc/postfix with unshare -m")
        need_user("postfix", "apt-get install --reinstall postfix")
        if not Path("/etc/postfix/postfix-files").is_file():
            raise PeerError("/etc/postfix/postfix-files is missing: apt-get install --reinstall postfix")
        self._postfix, self._postconf = postfix, postconf

    def detect_version(self) -> str:
        return subprocess.run(
            [self._postconf, "-d", "-h", "mail_version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.strip()

    def prepare(self, base: Path) -> None:
        pw = pwd.getpwnam("postfix")
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
        self._cafile = tls.cafile
        self.listeners = {"smtp": free_port()}
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

    def command(self, base: Path) -> list[str]:
        return [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            'mount --bind "$1" /etc/postfix && exec "$2" start-fg',
            "sh",
            str(base / "etc"),
            self._postfix,
        ]

    def pid_files(self) -> list[Path]:
        # "master -s" leads a session of its own; its pid file finds it.
        return [self.dir / "queue" / "pid" / "master.pid"] if self.dir is not None else []

    def targets(self, base: Path) -> list[Target]:
        return [
            Target(
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
                cafile=self._cafile,
                extra={"role": "primary"},
            )
        ]


class _quiet:
    """Ignore a vanished process (or the given exceptions) while signalling or waiting."""

    def __init__(self, *extra: type[BaseException]) -> None:
        self.types: tuple[type[BaseException], ...] = (ProcessLookupError, PermissionError, *extra)

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: object) -> bool:
        return typ is not None and issubclass(typ, self.types)
