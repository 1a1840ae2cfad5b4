"""RFC 4978: COMPRESS=DEFLATE — compression right after the OK, none after a refusal, BAD when active."""

import time
import zlib

from conformance.clients.imap import IMAPClient, IMAPSessions
from conformance.net import NetError
from conformance.scenario import case
from conformance.servers.imap import auth as srv
from conformance.verdict import check, unsupported
from conformance.wire import imap as wire
from conformance.wire.errors import ProtocolError


class _Deflated:
    """The session after COMPRESS DEFLATE: raw deflate both ways (RFC 1951, no zlib header)."""

    def __init__(self, client: IMAPClient) -> None:
        self.client = client
        self.out = zlib.compressobj(wbits=-15)
        self.inflate = zlib.decompressobj(-15)
        self.parser = wire.ResponseParser()

    def command(self, line: str) -> wire.Tagged:
        """``line`` sent compressed; the tagged response, read and inflated."""
        tag = self.client.next_tag()
        self.client.transcript.note(f"deflated: {tag} {line}")
        self.client.send(self.out.compress(f"{tag} {line}\r\n".encode()) + self.out.flush(zlib.Z_SYNC_FLUSH))
        deadline = time.monotonic() + self.client.timeout
        while True:
            r = self.parser.next_response()
            if isinstance(r, wire.Tagged) and r.tag == tag:
                return r
            if r is not None:
                continue
            data = self.client.conn.recv(deadline)
            try:
                plain = self.inflate.decompress(data)
            except zlib.error:
                check(
                    False,
                    "the server's data after the OK to COMPRESS is not DEFLATE",
                    expected="raw deflate",
                    observed=repr(data[:60]),
                )
            self.client.transcript.note(f"inflated: {plain[:200].decode('utf-8', 'replace')}")
            self.parser.feed(plain)


def _compress_ready(imap: IMAPSessions) -> IMAPClient:
    client = imap.login(profile=False)
    imap.require(client, "COMPRESS=DEFLATE")
    return client


def _deflated(imap: IMAPSessions) -> _Deflated:
    client = _compress_ready(imap)
    res = client.command("COMPRESS", wire.Atom("DEFLATE"))
    if not res.ok:
        unsupported(f"COMPRESS DEFLATE was refused: {res}")
    return _Deflated(client)


@case("imap.rfc4978.3.compress-after-ok", defect=srv.COMPRESS_NOT_ACTIVE)
def test_responses_deflated_after_ok(imap: IMAPSessions) -> None:
    session = _deflated(imap)
    try:
        res = session.command("NOOP")
    except (NetError, ProtocolError) as e:
        check(False, "no DEFLATE-compressed answer to a compressed NOOP", expected="tagged OK", observed=str(e))
    check(res.status == "OK", "a compressed NOOP after COMPRESS was not completed with OK", observed=res.raw.decode())


@case("imap.rfc4978.3.compress-after-ok", defect=srv.COMPRESS_NOT_ACTIVE)
def test_deflated_session_serves_commands(imap: IMAPSessions) -> None:
    session = _deflated(imap)
    try:
        res = session.command('LIST "" "INBOX"')
    except (NetError, ProtocolError) as e:
        check(False, "no DEFLATE-compressed answer to a compressed LIST", expected="tagged OK", observed=str(e))
    check(res.status == "OK", "a compressed LIST after COMPRESS was not completed with OK", observed=res.raw.decode())


@case("imap.rfc4978.3.compress-active-bad", defect=srv.COMPRESS_TWICE_OK)
def test_second_compress_bad(imap: IMAPSessions) -> None:
    session = _deflated(imap)
    try:
        res = session.command("COMPRESS DEFLATE")
    except (NetError, ProtocolError) as e:
        check(False, "no answer to a second COMPRESS", expected="tagged BAD", observed=str(e))
    check(
        res.status == "BAD",
        "COMPRESS while DEFLATE is active already was not answered with BAD",
        expected="BAD",
        observed=res.raw.decode(),
    )


@case("imap.rfc4978.3.compress-active-bad", defect=srv.COMPRESS_UNKNOWN_NO)
def test_unknown_mechanism_bad(imap: IMAPSessions) -> None:
    client = _compress_ready(imap)
    res = client.command("COMPRESS", wire.Atom("X-MAILSPEC"))
    check(res.status == "BAD", "COMPRESS with an unknown mechanism was not answered with BAD", observed=str(res))


@case("imap.rfc4978.3.no-compression-after-refusal", defect=srv.COMPRESS_ON_REFUSAL)
def test_no_compression_after_refusal(imap: IMAPSessions) -> None:
    client = _compress_ready(imap)
    res = client.command("COMPRESS", wire.Atom("X-MAILSPEC"))
    if res.ok:
        unsupported(f"COMPRESS X-MAILSPEC was accepted: {res}")
    try:
        after = client.noop()
    except (NetError, ProtocolError) as e:
        check(False, "the session is not plain text after a refused COMPRESS", expected="NOOP OK", observed=str(e))
    check(after.ok, "NOOP in clear after a refused COMPRESS failed", expected="OK", observed=str(after))
