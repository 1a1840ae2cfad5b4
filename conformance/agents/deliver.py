"""A minimal MDA: ``python -m conformance.agents.deliver MAILDIR`` writes standard input as one new message.

Clients that hand each message to a delivery program (fetchmail's ``mda``)
deliver through it, so every client's output is a Maildir the cases read.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m conformance.agents.deliver MAILDIR", file=sys.stderr)
        return 64
    base = Path(argv[0])
    for sub in ("tmp", "new", "cur"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns()}.{os.getpid()}.mailspec"
    tmp = base / "tmp" / name
    tmp.write_bytes(sys.stdin.buffer.read())
    tmp.rename(base / "new" / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
