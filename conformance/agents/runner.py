"""What every client runner the harness starts as a process shares: its exit statuses
(sysexits: 0 done, 75 temporary failure, 69 permanent failure, 1 anything else) and
the command-line options the harness passes (conformance/agents/catalog.py)."""

from __future__ import annotations

import argparse

EX_TEMPFAIL, EX_UNAVAILABLE, EX_ERROR = 75, 69, 1


def parser(prog: str) -> argparse.ArgumentParser:
    """The options common to all runners; each adds its own."""
    p = argparse.ArgumentParser(prog=prog)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--timeout", type=float, default=15.0)
    p.add_argument("--starttls", action="store_true")
    p.add_argument("--cafile", default="")
    p.add_argument("--user", default="")
    p.add_argument("--password", default="")
    p.add_argument("--maildir", default="")
    p.add_argument("--msgnum", type=int, default=1)
    return p
