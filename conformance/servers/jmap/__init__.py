"""Embedded reference JMAP server (RFC 8620 core; RFC 8621 mail types in ``mail.py``).

``http.py`` speaks HTTP/1.1 (h11 on asyncio streams); ``core.py`` is the
Session, request processing and the standard methods over a type registry;
``mailbox.py`` is a minimal Mailbox type that ``mail.py`` replaces.
"""

from .core import DataType, JMAPConfig, JMAPCore, Limits, SetError
from .http import JMAPServer

__all__ = ["DataType", "JMAPConfig", "JMAPCore", "JMAPServer", "Limits", "SetError"]
