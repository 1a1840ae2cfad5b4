"""Dovecot 2.3 from Debian's packages (LMTP, POP3, IMAP) as a private instance.

``dovecot -F -c DIR/dovecot.conf`` with a configuration of our own
(``fixtures/peers/dovecot/dovecot.conf.in``; nothing from /etc/dovecot):
base, state and log paths in the directory, listeners for LMTP, POP3 and IMAP
on free loopback ports, a passwd-file with alice and bob, a static userdb
mapping both to the ``dovecot`` user, Maildirs under ``DIR/mail/<user>/`` and
STARTTLS with the run's trustme certificate. The packages conflict only with
Cyrus, so they are installed normally (ci/install-peers).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

from ..target import Target
from ..tlsutil import loopback_material
from . import PeerError
from .local import (
    ACCOUNTS,
    DOMAIN,
    FIXTURES,
    FULL_USER,
    HOSTNAME,
    LocalPeer,
    _which,
    free_ports,
    need_root,
    need_user,
    render,
)

PACKAGES = ("dovecot-core", "dovecot-lmtpd", "dovecot-pop3d", "dovecot-imapd")
SERVICES = {"lmtp": "dovecot-lmtpd", "pop3": "dovecot-pop3d", "imap": "dovecot-imapd"}
LIBEXEC = Path("/usr/lib/dovecot")


class DovecotPeer(LocalPeer):
    name = "dovecot"
    log_names = ("dovecot.log", "stdout.log")
    greeting_mark = b"Dovecot"

    def __init__(self, *, start_timeout: float = 20.0) -> None:
        super().__init__(start_timeout=start_timeout)
        self._dovecot = ""
        self._cafile = ""

    def check_requirements(self) -> None:
        dovecot = _which("dovecot")
        if dovecot is None:
            raise PeerError(f"dovecot is not installed: apt-get install {' '.join(PACKAGES)} (or run ci/install-peers)")
        for service, package in SERVICES.items():
            if not (LIBEXEC / service).is_file():
                raise PeerError(f"{LIBEXEC / service} is missing: apt-get install {package}")
        need_root("dovecot", "its master starts as root and runs mail processes as the dovecot user")
        need_user("dovecot", "apt-get install --reinstall dovecot-core")
        need_user("dovenull", "apt-get install --reinstall dovecot-core")
        self._dovecot = dovecot

    def detect_version(self) -> str:
        out = subprocess.run(
            [self._dovecot, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.split()
        return out[0] if out else ""

    def prepare(self, base: Path) -> None:
        pw = pwd.getpwnam("dovecot")
        mail = base / "mail"
        mail.mkdir(mode=0o755)
        os.chown(mail, pw.pw_uid, pw.pw_gid)
        for sub in ("run", "state"):
            (base / sub).mkdir(mode=0o755)
        (base / "passwd").write_text("".join(f"{a.user}:{{PLAIN}}{a.password}\n" for a in ACCOUNTS))
        # userdb: the test accounts, and carol with a full mailbox (a 1-octet quota) for LMTP.
        users = [f"{a.user}::::::\n" for a in ACCOUNTS] + [f"{FULL_USER}:::::::userdb_quota_rule=*:storage=1B\n"]
        (base / "userdb").write_text("".join(users))
        os.chown(base / "userdb", pw.pw_uid, pw.pw_gid)
        (base / "passwd").chmod(0o600)
        os.chown(base / "passwd", pw.pw_uid, pw.pw_gid)  # read by auth-worker, which runs as dovecot
        tls = loopback_material()
        shutil.copyfile(tls.certfile, base / "tls-chain.pem")
        shutil.copyfile(tls.keyfile, base / "tls-key.pem")
        (base / "tls-key.pem").chmod(0o600)
        self._cafile = tls.cafile
        self.listeners = dict(zip(("lmtp", "pop3", "imap"), free_ports(3), strict=True))
        values = {
            "base_dir": str(base),
            "mail_dir": str(mail),
            "hostname": HOSTNAME,
            "uid": str(pw.pw_uid),
            "gid": str(pw.pw_gid),
            **{f"port_{proto}": str(port) for proto, port in self.listeners.items()},
        }
        (base / "dovecot.conf").write_text(render(FIXTURES / "dovecot" / "dovecot.conf.in", values))

    def command(self, base: Path) -> list[str]:
        return [self._dovecot, "-F", "-c", str(base / "dovecot.conf")]

    def pid_files(self) -> list[Path]:
        return [self.dir / "run" / "master.pid"] if self.dir is not None else []

    def targets(self, base: Path) -> list[Target]:
        lmtp = f"127.0.0.1:{self.listeners['lmtp']}"
        # The IMAP target names the POP3 endpoint of the same mailboxes (interop scenarios).
        read_paths = {"imap": {"pop3": f"127.0.0.1:{self.listeners['pop3']}"}}
        return [
            Target(
                protocol=protocol,
                host="127.0.0.1",
                port=port,
                accounts=ACCOUNTS,
                domain=DOMAIN,
                recipient=ACCOUNTS[1].address,
                unknown_recipient=f"no-such-user@{DOMAIN}",
                implementation=f"dovecot {self.version}",
                peer=self.name,
                maildir=str(base / "mail"),
                cafile=self._cafile,
                # POP3 and IMAP cases can put test mail into the store over this LMTP listener.
                extra={"role": "primary", "full_recipient": f"{FULL_USER}@{DOMAIN}"}
                if protocol == "lmtp"
                else {"role": "primary", "lmtp": lmtp, **read_paths.get(protocol, {})},
            )
            for protocol, port in self.listeners.items()
        ]
