"""RFC 5321 3.2, 3.5.2, 4.1.1.1, 4.1.4, 4.2.4, 4.3.1, 4.3.2: EHLO and HELO."""

from conformance.clients.smtp import SMTPSessions
from conformance.context import CaseContext, make_message
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported

SMTP_ONLY = ("smtp",)


@case("smtp.rfc5321.4.5.1.minimum-commands", defect=srv.EHLO_500)
def test_well_formed_ehlo_accepted(smtp: SMTPSessions) -> None:
    # 4.5.1: EHLO MUST be supported; a well-formed EHLO from a client the server serves gets 250.
    client = smtp.open()
    reply = client.ehlo()
    check(reply.code == 250, "a well-formed EHLO was not accepted", expected="250", observed=str(reply))


@case("smtp.rfc5321.4.3.2.ehlo-replies", defect=srv.EHLO_UNLISTED)
def test_ehlo_reply_code_is_listed(smtp: SMTPSessions) -> None:
    client = smtp.open()
    reply = client.ehlo()
    check(
        reply.code in (250, 504, 550, 502, 421),
        "EHLO got a reply code outside the EHLO list",
        expected="250 (E: 504, 550, 502)",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.3.1.server-name", defect=srv.EHLO_NO_HOSTNAME)
def test_ehlo_first_line_names_the_server(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    assert client.greeting is not None and client.ehlo_reply is not None
    greeted = (client.greeting.lines[0].split() or [""])[0].lower()
    named = (client.ehlo_reply.lines[0].split() or [""])[0].lower()
    check(
        (named and "." in named) or named.startswith("["),
        "the EHLO reply does not start with the server's domain",
        observed=str(client.ehlo_reply),
    )
    check(
        not greeted or named == greeted,
        "the EHLO reply names another host than the greeting",
        expected=greeted,
        observed=named,
    )


@case("smtp.rfc5321.4.1.1.1.helo-supported", defect=srv.HELO_UNSUPPORTED)
def test_helo_gets_250(smtp: SMTPSessions) -> None:
    client = smtp.open()
    reply = client.helo()
    check(reply.code == 250, "HELO was not answered with 250", expected="250", observed=str(reply))


@case("smtp.rfc5321.3.2.helo-not-extended", defect=srv.HELO_ADVERTISES)
def test_helo_reply_lists_no_extensions(smtp: SMTPSessions) -> None:
    keywords = set(smtp.ready().extensions) | {
        "PIPELINING",
        "SIZE",
        "8BITMIME",
        "STARTTLS",
        "AUTH",
        "ENHANCEDSTATUSCODES",
        "DSN",
        "SMTPUTF8",
        "CHUNKING",
    }
    client = smtp.open()
    reply = client.helo()
    if reply.code != 250:
        unsupported(f"HELO was refused: {reply}")
    listed = [ln for ln in reply.lines[1:] if (ln.split() or [""])[0].upper() in keywords]
    check(
        not listed,
        "HELO got an EHLO-style reply listing extensions",
        expected="no extension keywords",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.1.4.ehlo-reject-codes", defect=srv.EHLO_EMPTY_554)
def test_ehlo_without_domain_refusal_code(smtp: SMTPSessions) -> None:
    client = smtp.open()
    reply = client.command("EHLO")
    # The sentence binds only a refusal: a server that takes a bare EHLO is lenient, not in breach.
    check(
        reply.klass == 2 or reply.code in (501, 500, 502, 550),
        "EHLO without a domain was refused with a code 4.1.4 does not allow",
        expected="501, 500, 502 or 550 (or acceptance)",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.1.4.ehlo-failed-same-state", defect=srv.EHLO_ERROR_RESETS, protocols=SMTP_ONLY)
def test_refused_ehlo_keeps_transaction(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    if client.mail(case_context.sender).code != 250:
        unsupported("MAIL was refused")
    bad = client.command("EHLO")
    if bad.code // 100 == 2:
        unsupported(f"the server accepted EHLO without a domain: {bad}")
    reply = client.rcpt(case_context.recipient)
    check(
        reply.code != 503,
        "a refused EHLO aborted the mail transaction",
        expected="RCPT accepted in the open transaction",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.1.4.ehlo-resets", defect=srv.EHLO_NO_RESET, protocols=SMTP_ONLY)
def test_second_ehlo_clears_sender(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    if client.mail(case_context.sender).code != 250:
        unsupported("MAIL was refused")
    if client.ehlo().code != 250:
        unsupported("the second EHLO was refused")
    reply = client.rcpt(case_context.recipient)
    check(
        reply.code == 503,
        "RCPT after a new EHLO was not refused: EHLO did not reset the transaction",
        expected="503",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.1.4.ehlo-resets", defect=srv.EHLO_NO_RESET, protocols=SMTP_ONLY)
def test_second_ehlo_allows_new_mail(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    if client.mail(case_context.sender).code != 250:
        unsupported("MAIL was refused")
    client.rcpt(case_context.recipient)
    if client.ehlo().code != 250:
        unsupported("the second EHLO was refused")
    reply = client.mail(case_context.sender)
    check(
        reply.code != 503,
        "MAIL after a new EHLO was refused as nested: EHLO did not reset the transaction",
        expected="250",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.2.4.no-502-for-advertised", defect=srv.EHLO_LISTS_EXPN)
def test_advertised_commands_are_implemented(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    probes = {"HELP": "HELP", "EXPN": "EXPN postmaster", "VRFY": "VRFY postmaster"}
    listed = [verb for verb in probes if client.has(verb)]
    if not listed:
        unsupported("the EHLO reply lists none of HELP, EXPN, VRFY")
    for verb in listed:
        reply = client.command(probes[verb])
        check(
            reply.code not in (500, 502),
            f"{verb} is listed in the EHLO reply but answered as not implemented",
            expected="not 500/502",
            observed=str(reply),
        )


@case("smtp.rfc5321.4.1.1.1.ehlo-lists-commands", defect=srv.EHLO_OMITS_HELP)
def test_implemented_help_is_listed(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.command("HELP")
    if reply.code not in (211, 214):
        unsupported(f"HELP is not implemented: {reply}")
    check(
        client.has("HELP"),
        "HELP is implemented but not listed in the EHLO reply",
        expected="HELP keyword",
        observed=", ".join(client.extensions),
    )


@case("smtp.rfc5321.3.5.2.expn-listed", defect=srv.EXPN_UNLISTED)
def test_implemented_expn_is_listed(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.command("EXPN postmaster")
    if reply.code != 250:
        unsupported(f"EXPN is not supported: {reply}")
    check(
        client.has("EXPN"),
        "EXPN is supported but not listed in the EHLO reply",
        expected="EXPN keyword",
        observed=", ".join(client.extensions),
    )


@case("smtp.rfc5321.4.1.4.ehlo-mismatch-accepted", defect=srv.EHLO_NAME_CHECKED, protocols=SMTP_ONLY)
def test_ehlo_name_not_matching_address_accepted(smtp: SMTPSessions, case_context: CaseContext) -> None:
    """EHLO with a name that is not the client's (we connect from loopback); the message is still taken."""
    client = smtp.open()
    if client.ehlo("unrelated-name.example").code != 250:
        unsupported("the server refused EHLO with a name that is not the client's")
    mail = client.mail(case_context.sender)
    rcpt = client.rcpt(case_context.recipient) if mail.code == 250 else mail
    if rcpt.code in (250, 251):
        message, _ = make_message("mailspec EHLO mismatch")
        final = client.data(message)[-1]
    else:
        final = rcpt
    check(
        final.code == 250,
        "mail was refused after an EHLO whose name does not match the client's address",
        expected="250 for MAIL, RCPT and the message",
        observed=f"MAIL {mail} / RCPT {rcpt} / end of data {final}",
    )
