"""Exim 4.96 from Debian's packages, unpacked next to Postfix and run as a private instance.

``exim4-daemon-light`` conflicts with ``postfix`` (both provide
mail-transport-agent), so it is not installed: ci/install-peers fetches the
.debs with ``apt-get download`` and unpacks them with ``dpkg -x`` into
``CACHE_DIR/exim/root``. The binary runs from there with ``-C`` naming our
configuration, which sets every path Exim would otherwise take from its build
(spool, log, pid file, its own path for re-execution), so no mount namespace is
needed. The shared libraries it links against (libidn12 is the one a Postfix
machine lacks) conflict with nothing and are installed normally by
ci/install-peers. Deliveries run as ``Debian-exim`` into Maildirs under
``DIR/mail/<user>/``.
"""

from __future__ import annotations

import os
import pwd
import re
import subprocess
from pathlib import Path

from ..target import Target
from . import PeerError
from .local import ACCOUNTS, CACHE_DIR, DOMAIN, FIXTURES, HOSTNAME, LocalPeer, free_port, need_root, need_user, render

EXIM_USER = "Debian-exim"
INSTALL_HINT = "run ci/install-peers exim (apt-get download + dpkg -x; installing exim4 would remove postfix)"


def exim_root() -> Path:
    return CACHE_DIR / "exim" / "root"


def exim_binary() -> Path:
    return exim_root() / "usr" / "sbin" / "exim4"


class EximPeer(LocalPeer):
    name = "exim"
    log_names = ("log/mainlog", "log/rejectlog", "log/paniclog", "stdout.log")
    greeting_mark = b"Exim"

    def check_requirements(self) -> None:
        if not os.access(exim_binary(), os.X_OK):
            raise PeerError(f"exim is not unpacked: {exim_binary()} is missing; {INSTALL_HINT}")
        need_root("exim", "Exim starts as root and delivers as Debian-exim")
        need_user(EXIM_USER, f"useradd --system --user-group {EXIM_USER} (ci/install-peers does)")

    def detect_version(self) -> str:
        # With our configuration: under any other (even -C /dev/null) -bV creates /var/spool/exim4.
        assert self.dir is not None
        proc = subprocess.run(
            [str(exim_binary()), "-C", str(self.dir / "exim.conf"), "-bV"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        m = re.search(r"Exim version (\S+)", proc.stdout)
        if m is None:  # a missing shared library, most likely
            raise PeerError(
                f"{exim_binary()} -bV failed: {(proc.stderr or proc.stdout).strip()[-500:]}; {INSTALL_HINT}"
            )
        return m.group(1)

    def prepare(self, base: Path) -> None:
        pw = pwd.getpwnam(EXIM_USER)
        for sub in ("spool", "log", "mail"):
            (base / sub).mkdir(mode=0o750 if sub != "mail" else 0o755)
            os.chown(base / sub, pw.pw_uid, pw.pw_gid)
        self.listeners = {"smtp": free_port()}
        values = {
            "exim_path": str(exim_binary()),
            "spool_dir": str(base / "spool"),
            "log_dir": str(base / "log"),
            "base_dir": str(base),
            "mail_dir": str(base / "mail"),
            "port": str(self.port),
            "hostname": HOSTNAME,
            "domain": DOMAIN,
            "users": " : ".join(a.user for a in ACCOUNTS),
        }
        conf = base / "exim.conf"
        conf.write_text(render(FIXTURES / "exim" / "exim.conf.in", values))

    def command(self, base: Path) -> list[str]:
        # -bdf: daemon in the foreground; -q5m: a queue runner for what could not go at once.
        return [str(exim_binary()), "-C", str(base / "exim.conf"), "-bdf", "-q5m"]

    def pid_files(self) -> list[Path]:
        return [self.dir / "exim.pid"] if self.dir is not None else []

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
                implementation=f"exim {self.version}",
                peer=self.name,
                maildir=str(base / "mail"),
                extra={"role": "primary"},
            )
        ]
