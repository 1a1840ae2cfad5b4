"""The embedded reference IMAP server (see core.py for the layout)."""

from . import auth, mailboxes, messages, search  # noqa: F401  (their handlers register themselves)
from .core import IMAPConfig, IMAPServer

__all__ = ["IMAPConfig", "IMAPServer"]
