from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAILSPEC = [sys.executable, "-m", "conformance.cli"]


def mailspec(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([*MAILSPEC, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd or ROOT, env=env)
