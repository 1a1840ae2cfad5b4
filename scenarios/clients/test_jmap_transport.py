"""RFC 8620 8.1, 6.2 and RFC 8621 4.1.1: a JMAP client validates the server's certificate before it
sends anything, and stores a message it downloads as the raw octets of its blob."""

import pytest

from conformance.agents import mailspec_jmap as agent
from conformance.agents.harness import ClientCase
from conformance.agents.jmap import fetch_all, jmap_message, jmap_server
from conformance.scenario import case
from conformance.servers.jmap import client_habits as habit
from conformance.verdict import check


@pytest.mark.parametrize("cert", ["untrusted", "wrong-name"])
@case("jmap.rfc8620.8.1.client-validate-certificates", defect=agent.NO_CERT_CHECK)
def test_refuses_a_bad_certificate(client: ClientCase, cert: str) -> None:
    served = jmap_server(client, messages=[jmap_message(1)], cert=cert)
    run = client.run("jmap.fetch-all", served.srv)
    sent = [f"{s.method} {s.path}" + (" with credentials" if "authorization" in s.headers else "") for s in served.seen]
    check(
        not sent and not run.ok,
        f"the server's certificate is {cert.replace('-', ' ')}; the client went on over the connection",
        expected="no HTTP request after the TLS handshake fails, and a failure",
        observed="; ".join(sent[:3]) or run.summary(),
    )


LATIN1 = (
    b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    + "Caf\xe9 cr\xe8me, na\xefve r\xe9sum\xe9.\r\n.\r\n..two dots\r\ntrailing spaces   \r\n".encode("latin-1")
)


@case("jmap.rfc8621.4.1.1.client-raw-message-octets", defect=agent.TEXT_DOWNLOAD)
def test_8bit_message_byte_exact(client: ClientCase) -> None:
    msg = jmap_message(1).split(b"\r\n\r\n", 1)[0] + b"\r\nMIME-Version: 1.0\r\n" + LATIN1
    fetch_all(client, jmap_server(client, messages=[msg]).srv, [msg])


@case("jmap.rfc8621.4.1.1.client-raw-message-octets", defect=agent.TEXT_DOWNLOAD)
def test_large_message_byte_exact(client: ClientCase) -> None:
    line = b"".join(bytes([0x41 + (i % 26)]) for i in range(990)) + b"\r\n"
    msg = jmap_message(1, body=line * 3000)  # about 3 MB, lines near the 998-octet limit
    fetch_all(client, jmap_server(client, messages=[msg]).srv, [msg])


@case("jmap.rfc8620.6.2.client-download-data", defect=agent.RAW_WIRE_DOWNLOAD)
def test_gzip_compressed_download(client: ClientCase) -> None:
    """The client says it accepts gzip (Accept-Encoding); the data of the blob is what is left once the
    content coding is removed (RFC 9110 8.4), not the compressed bytes."""
    msg = jmap_message(1, body=b"Compressible text. " * 400 + b"\r\n")
    fetch_all(client, jmap_server(client, habit.GZIP_DOWNLOADS, messages=[msg]).srv, [msg])
