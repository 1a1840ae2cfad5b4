"""The ``interop`` fixture: the case's IMAP target plus the ways in and read paths of the same peer."""

from collections.abc import Iterator

import pytest

from conformance.clients.imap import IMAPSessions
from conformance.interop import Interop


@pytest.fixture
def interop(imap: IMAPSessions) -> Iterator[Interop]:
    it = Interop(imap)
    yield it
    it.close()
