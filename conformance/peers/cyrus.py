"""Cyrus IMAP 3.6 from Debian's packages, unpacked beside Dovecot: IMAP, POP3, LMTP and JMAP.

``cyrus-imapd``/``cyrus-pop3d`` conflict with Dovecot's ``dovecot-imapd``/
``dovecot-pop3d`` (both provide imap-server/pop3-server), so Cyrus is not
installed: ci/install-peers fetches ``cyrus-common cyrus-imapd cyrus-pop3d
cyrus-caldav`` with ``apt-get download`` and unpacks them with ``dpkg -x`` into
``CACHE_DIR/cyrus/root``; the libraries they link against (which conflict with
nothing) and ``sasl2-bin`` are installed normally, and a system user ``cyrus``
(group ``mail``) is created.

The instance: ``master -C DIR/imapd.conf -M DIR/cyrus.conf -p DIR/master.pid -D``
in the foreground, started as root (it becomes ``cyrus`` itself), with
``LD_LIBRARY_PATH`` naming the unpacked ``libcyrus*``. Every service command in
``cyrus.conf`` is an absolute path into the unpacked tree and names our
``imapd.conf``, so nothing under /usr/lib/cyrus or /etc is needed. Cyrus logs
only through syslog(3), and nothing runs syslog here: the instance runs in a
private mount namespace (``unshare -m``) where an overlay over ``/dev`` holds a
``/dev/log`` socket of our own, read by a small receiver that writes
``DIR/log/syslog``. Accounts alice and bob (and the admin ``cyrus``, whose
password is random per run) live in ``DIR/sasldb2``; once the services greet, the
admin creates ``user/alice`` and ``user/bob`` over IMAP, so LMTP delivery to
alice@mailspec.test lands in alice's INBOX and any other recipient is refused
(``autocreate_post: no``). It also creates ``user/carol`` with a storage quota
of 0, the LMTP target's ``full_recipient``: accepted at RCPT, failed after DATA.
"""

from __future__ import annotations

import imaplib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from ..target import Target
from ..tlsutil import loopback_material
from . import PeerError
from .local import (
    ACCOUNTS,
    CACHE_DIR,
    DOMAIN,
    FIXTURES,
    FULL_USER,
    HOSTNAME,
    LocalPeer,
    _which,
    free_ports,
    need_root,
    render,
)
from .relay import LoopbackRelay

CYRUS_USER = "cyrus"
CYRUS_GROUP = "mail"
ADMIN = "cyrus"  # "admins: cyrus" in imapd.conf; a SASL account of its own, not the Unix user
# A mailbox (no login) whose quota is full: LMTP accepts it at RCPT and fails it after DATA.
INSTALL_HINT = "run ci/install-peers cyrus (apt-get download + dpkg -x; installing cyrus-imapd would remove dovecot)"

# Reads the instance's /dev/log (datagrams from syslog(3)) into a file. Runs inside the namespace,
# a child of the shell that becomes the master: it ends once the master has (it is then reparented).
SYSLOG_RECEIVER = """
import os, socket, sys
parent = os.getppid()
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
os.chmod("/dev/log", 0o666)
s.settimeout(0.1)
with open(sys.argv[1], "ab", buffering=0) as out:
    while True:
        try:
            data = s.recv(65536)
        except TimeoutError:
            if os.getppid() != parent:
                break
            continue
        out.write(data.rstrip(b"\\0\\n") + b"\\n")
"""

# In the private namespace: /dev overlaid (to hold /dev/log), the receiver, then the master.
LAUNCH = """set -e
mount -t overlay overlay -o "lowerdir=/dev,upperdir=$1/dev/upper,workdir=$1/dev/work" /dev
"$2" -c "$3" "$1/log/syslog" &
i=0
while [ ! -S /dev/log ]; do
  i=$((i+1)); [ "$i" -lt 200 ] || { echo "no /dev/log receiver" >&2; exit 1; }
  sleep 0.01
done
export LD_LIBRARY_PATH="$4"
exec "$5/master" -C "$1/imapd.conf" -M "$1/cyrus.conf" -p "$1/master.pid" -D
"""


def cyrus_root() -> Path:
    return CACHE_DIR / "cyrus" / "root"


def cyrus_bin() -> Path:
    return cyrus_root() / "usr" / "lib" / "cyrus" / "bin"


def cyrus_libs() -> Path:
    return cyrus_root() / "usr" / "lib" / "x86_64-linux-gnu"


class CyrusPeer(LocalPeer):
    name = "cyrus"
    log_names = ("log/syslog", "stdout.log")
    greeting_mark = b"Cyrus"

    def __init__(self, *, start_timeout: float = 20.0) -> None:
        super().__init__(start_timeout=start_timeout)
        self._cafile = ""
        self._admin_password = ""
        self._saslpasswd = ""
        self.jmap_port = 0
        self._relay: LoopbackRelay | None = None

    def check_requirements(self) -> None:
        for binary in ("master", "imapd", "pop3d", "lmtpd", "httpd"):
            if not os.access(cyrus_bin() / binary, os.X_OK):
                raise PeerError(f"cyrus is not unpacked: {cyrus_bin() / binary} is missing; {INSTALL_HINT}")
        saslpasswd = _which("saslpasswd2")
        if saslpasswd is None:
            raise PeerError(f"saslpasswd2 is not installed: apt-get install sasl2-bin ({INSTALL_HINT})")
        if _which("unshare") is None or _which("mount") is None:
            raise PeerError(
                "unshare/mount are missing (Cyrus runs in a private mount namespace): apt-get install util-linux mount"
            )
        need_root("cyrus", "its master starts as root and becomes cyrus; it runs in a private mount namespace")
        try:
            pwd.getpwnam(CYRUS_USER)
        except KeyError:
            raise PeerError(f"user {CYRUS_USER} does not exist: {INSTALL_HINT}") from None
        self._saslpasswd = saslpasswd

    def detect_version(self) -> str:
        # The unpacked packages' file names (ci/install-peers keeps them in a stamp file).
        try:
            stamp = (cyrus_root() / ".mailspec-unpacked").read_text()
        except OSError:
            return ""
        m = re.search(r"cyrus-imapd_(?:\d+:)?([0-9.]+)", stamp)
        return m.group(1) if m else ""

    def prepare(self, base: Path) -> None:
        pw = pwd.getpwnam(CYRUS_USER)
        for sub in ("lib/db", "lib/socket", "spool", "search", "sieve", "run/proc", "run/lock", "run/socket", "log"):
            (base / sub).mkdir(mode=0o750, parents=True)
        for sub in ("dev/upper", "dev/work"):  # the overlay over /dev: root's, not cyrus's
            (base / sub).mkdir(mode=0o755, parents=True)
        (base / "log" / "syslog").touch()
        tls = loopback_material()
        shutil.copyfile(tls.certfile, base / "tls-chain.pem")
        shutil.copyfile(tls.keyfile, base / "tls-key.pem")
        (base / "tls-key.pem").chmod(0o600)
        self._cafile = tls.cafile
        self._admin_password = secrets.token_urlsafe(16)
        sasldb = base / "sasldb2"
        for user, password in [(a.user, a.password) for a in ACCOUNTS] + [(ADMIN, self._admin_password)]:
            proc = subprocess.run(
                [self._saslpasswd, "-f", str(sasldb), "-u", HOSTNAME, "-p", "-c", user],
                input=password.encode(),
                capture_output=True,
                timeout=30,
                check=False,
            )
            if proc.returncode != 0:
                raise PeerError(f"saslpasswd2 failed for {user}: {proc.stderr.decode(errors='replace').strip()}")
        ports = free_ports(4)
        self.listeners = dict(zip(("lmtp", "pop3", "imap"), ports[:3], strict=True))
        self.jmap_port = ports[3]
        # JMAP EmailSubmission hands mail to SMTP: a loopback MTA takes it and delivers local
        # recipients back over Cyrus's own LMTP, as a site's MTA would.
        self._relay = LoopbackRelay(DOMAIN, ACCOUNTS, ("127.0.0.1", self.listeners["lmtp"]))
        relay_port = self._relay.start()
        values = {
            "base_dir": str(base),
            "bin": str(cyrus_bin()),
            "hostname": HOSTNAME,
            "port_smtp_sink": str(relay_port),
            **{f"port_{proto}": str(port) for proto, port in self.listeners.items()},
            "port_jmap": str(self.jmap_port),
        }
        fixtures = FIXTURES / "cyrus"
        (base / "imapd.conf").write_text(render(fixtures / "imapd.conf.in", values))
        (base / "cyrus.conf").write_text(render(fixtures / "cyrus.conf.in", values))
        for path in [base, *base.rglob("*")]:
            if path.is_relative_to(base / "dev") or path == base:
                continue
            os.chown(path, pw.pw_uid, pw.pw_gid, follow_symlinks=False)

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            if self._relay is not None:
                self._relay.stop()
                self._relay = None

    def command(self, base: Path) -> list[str]:
        return [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            LAUNCH,
            "sh",
            str(base),
            sys.executable,
            SYSLOG_RECEIVER,
            str(cyrus_libs()),
            str(cyrus_bin()),
        ]

    def pid_files(self) -> list[Path]:
        return [self.dir / "master.pid"] if self.dir is not None else []

    def _wait_ready(self) -> None:
        super()._wait_ready()
        self._wait_http()
        self._create_mailboxes()

    def _wait_http(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        last = "nothing tried yet"
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.jmap_port), timeout=2.0) as s:
                    s.settimeout(2.0)
                    s.sendall(b"GET /.well-known/jmap HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                    line = s.makefile("rb").readline(1000)
                    if line.startswith(b"HTTP/1.1 "):
                        return
                    last = f"status line {line!r}"
            except OSError as e:
                last = str(e)
            time.sleep(0.1)
        raise PeerError(f"cyrus gave no HTTP answer on 127.0.0.1:{self.jmap_port} (last: {last})")

    def _create_mailboxes(self) -> None:
        """The admin creates alice's and bob's INBOX (user/NAME with unixhierarchysep), as cyradm would."""
        imap = imaplib.IMAP4("127.0.0.1", self.listeners["imap"], timeout=10)
        try:
            imap.login(ADMIN, self._admin_password)
            for user in [a.user for a in ACCOUNTS] + [FULL_USER]:
                typ, data = imap.create(f"user/{user}")
                if typ != "OK":
                    raise PeerError(f"cyrus: CREATE user/{user} failed: {data!r}")
            # A storage quota of 0 KiB: RCPT is accepted (nothing is used yet), every delivery after DATA fails.
            typ, data = imap.setquota(f"user/{FULL_USER}", "(STORAGE 0)")
            if typ != "OK":
                raise PeerError(f"cyrus: SETQUOTA user/{FULL_USER} failed: {data!r}")
            imap.logout()
        except (OSError, imaplib.IMAP4.error) as e:
            raise PeerError(f"cyrus: could not create the mailboxes as admin: {e}\n{self.logs()[-2000:]}") from e

    def targets(self, base: Path) -> list[Target]:
        lmtp = f"127.0.0.1:{self.listeners['lmtp']}"

        def target(protocol: str, port: int, extra: dict[str, str]) -> Target:
            return Target(
                protocol=protocol,
                host="127.0.0.1",
                port=port,
                accounts=ACCOUNTS,
                domain=DOMAIN,
                recipient=ACCOUNTS[1].address,
                unknown_recipient=f"no-such-user@{DOMAIN}",
                implementation=f"cyrus {self.version}",
                peer=self.name,
                cafile=self._cafile,  # no maildir: Cyrus keeps its own mailbox format
                extra={"role": "primary", **extra},
            )

        # POP3, IMAP and JMAP cases can put test mail into the store over the LMTP listener.
        # No Maildir: delivered mail is read back over IMAP (CaseContext.mailbox()).
        full = {"full_recipient": f"{FULL_USER}@{DOMAIN}", "imap": f"127.0.0.1:{self.listeners['imap']}"}
        # The IMAP target names the POP3 and JMAP endpoints of the same mailboxes (interop scenarios).
        paths = {
            "pop3": f"127.0.0.1:{self.listeners['pop3']}",
            "jmap": f"127.0.0.1:{self.jmap_port}",
            "jmap_session_path": "/.well-known/jmap",
        }
        targets = [
            target(p, port, full if p == "lmtp" else {"lmtp": lmtp, **(paths if p == "imap" else {})})
            for p, port in self.listeners.items()
        ]
        targets.append(target("jmap", self.jmap_port, {"lmtp": lmtp, "session_path": "/.well-known/jmap"}))
        return targets
