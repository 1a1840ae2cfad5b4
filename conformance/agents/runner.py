"""What every client runner the harness starts as a process shares: its exit statuses
(sysexits: 0 done, 75 temporary failure, 69 permanent failure, 1 anything else) and
the command-line options the harness passes (conformance/agents/catalog.py)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping

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


def print_version() -> int:
    """``--version`` of the "mailspec" agent's runners."""
    from .. import __version__

    print(f"mailspec {__version__}")
    return 0


def dispatch(
    module: str, runners: Mapping[str, Callable[[argparse.Namespace], int]], argv: list[str], p: argparse.ArgumentParser
) -> int:
    """``python -m conformance.agents.MODULE LIB OPERATION [options]``: runners[LIB] with the parsed
    options (``a.lib``, ``a.operation``); whatever it raises is a one-line error and exit status 1."""
    if len(argv) < 2 or argv[0] not in runners:
        print(f"usage: python -m conformance.agents.{module} {'|'.join(runners)} OPERATION [options]", file=sys.stderr)
        return 64
    a = p.parse_args(argv[2:])
    a.lib, a.operation = argv[0], argv[1]
    try:
        return runners[a.lib](a)
    except Exception as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return EX_ERROR
