"""RFC 3501 5.1 and 5.1.3: mailbox names on the wire are 7-bit, international names in modified UTF-7."""

from urllib.parse import quote

from conformance.agents import mailspec_imap as agent
from conformance.agents.harness import ClientCase
from conformance.agents.imap_jmap import all_commands, check_fetched, imap_message
from conformance.scenario import case
from conformance.verdict import check

NAMES = ("imap.rfc3501.5.1.3.client-modified-utf7", "imap.rfc3501.5.1.client-7bit-mailbox-names")


def _international(client: ClientCase, name: str, *, utf7: str) -> None:
    msg = imap_message(1, subject="international mailbox")
    srv = client.server("imap", tls=False)
    acct = srv.store.account("alice")
    assert acct is not None
    srv.store.create_mailbox("alice", name)
    stored = srv.store.deliver(acct, msg, "sender@mailspec.test", name)
    run = client.run("imap.fetch-folder", srv, mailbox=name, mailbox_url=quote(name), msgnum=stored.uid)
    eight_bit = [c.unit.line for c in all_commands(srv) if not c.unit.data.isascii()]
    check(
        not eight_bit,
        "the client sent a mailbox name with 8-bit octets (IMAP4rev1 names are modified UTF-7)",
        expected=f'SELECT "{utf7}"',
        observed="; ".join(eight_bit[:2]),
    )
    check(run.ok, "the client could not open the mailbox", observed=run.summary())
    check_fetched(run, [msg])


@case(*NAMES, defect=agent.UTF8_MAILBOX)
def test_german_mailbox_name(client: ClientCase) -> None:
    _international(client, "Entwürfe", utf7="Entw&APw-rfe")


@case(*NAMES, defect=agent.UTF8_MAILBOX)
def test_japanese_mailbox_name_with_ampersand(client: ClientCase) -> None:
    _international(client, "日本語 & Co", utf7="&ZeVnLIqe- &- Co")
