"""RFC 5321 3.5.1-3.5.3, 4.1.1.6, 4.1.1.8, 4.1.4, 4.3.2, 4.5.1, 7.3: VRFY and HELP."""

import re

from conformance.clients.smtp import SMTPSessions
from conformance.context import CaseContext
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported

SMTP_ONLY = ("smtp",)
# VRFY of an existing user: verified (250, 251), not verified (252), ambiguous (553), forwarded (551), or transient.
KNOWN_USER_CODES = (250, 251, 252, 551, 553, 421, 450, 451, 452)
# 4.3.2: the VRFY list, plus 421, 501 and transient failures. Not 500: VRFY is in the required subset.
VRFY_CODES = (250, 251, 252, 550, 551, 553, 502, 504, 421, 501, 450, 451, 452)
HELP_CODES = (211, 214, 502, 504, 421, 500)
# 3.5.2: the mailbox is fully qualified, so its domain has a dot (or is an address literal).
_MAILBOX = re.compile(r"[^\s<>@]+@(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|\[[^\]\s]+\])")
_BRACKETED = re.compile(r"<[^\s<>@]+@[^\s<>]+>")


@case("smtp.rfc5321.4.5.1.minimum-commands", defect=srv.VRFY_UNIMPLEMENTED, protocols=SMTP_ONLY)
def test_vrfy_is_implemented(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    reply = client.vrfy(case_context.recipient)
    check(
        reply.code not in (500, 502),
        "VRFY, a required command, is not implemented",
        expected="250/251/252 or a 55x",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.3.2.vrfy-replies", defect=srv.VRFY_UNIMPLEMENTED, protocols=SMTP_ONLY)
def test_vrfy_reply_code_listed(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    reply = client.vrfy(case_context.recipient.partition("@")[0])
    check(
        reply.code in VRFY_CODES,
        "VRFY got a reply code outside the VRFY list",
        expected=str(VRFY_CODES),
        observed=str(reply),
    )


@case("smtp.rfc5321.7.3.vrfy-disabled-252", defect=srv.VRFY_ALWAYS_550, protocols=SMTP_ONLY)
def test_vrfy_of_existing_user_not_denied(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    reply = client.vrfy(f"<{case_context.recipient}>")
    check(
        reply.code in KNOWN_USER_CODES,
        "VRFY of an existing user got a code that means 'no such user' or 'not implemented'",
        expected="250, 251 or 252 (252 when VRFY is disabled)",
        observed=str(reply),
    )


@case("smtp.rfc5321.3.5.3.vrfy-250-verified", defect=srv.VRFY_LIES, protocols=SMTP_ONLY)
def test_vrfy_unknown_address_not_250(smtp: SMTPSessions, case_context: CaseContext) -> None:
    unknown = case_context.unknown_recipient
    client = smtp.ready()
    reply = client.vrfy(unknown)
    check(
        reply.code != 250,
        "VRFY answered 250 for an address that does not exist",
        expected="550 or 252",
        observed=str(reply),
    )


@case("smtp.rfc5321.3.5.3.vrfy-syntax-only", defect=srv.VRFY_LIES, protocols=SMTP_ONLY)
def test_vrfy_unknown_user_name_not_250(smtp: SMTPSessions, case_context: CaseContext) -> None:
    unknown = case_context.unknown_recipient.partition("@")[0]
    client = smtp.ready()
    reply = client.vrfy(unknown)
    check(
        reply.code != 250,
        "VRFY answered 250 for a user name that does not exist",
        expected="550 or 252",
        observed=str(reply),
    )


@case("smtp.rfc5321.7.3.vrfy-no-false-verify", defect=srv.VRFY_LIES, protocols=SMTP_ONLY)
def test_vrfy_unknown_bracketed_not_verified(smtp: SMTPSessions, case_context: CaseContext) -> None:
    unknown = case_context.unknown_recipient
    client = smtp.ready()
    reply = client.vrfy(f"<{unknown}>")
    check(
        reply.code not in (250, 251),
        "VRFY claimed to have verified an address that does not exist",
        expected="550 or 252",
        observed=str(reply),
    )


@case("smtp.rfc5321.3.5.1.vrfy-local-names", defect=srv.VRFY_ALWAYS_550, protocols=SMTP_ONLY)
def test_vrfy_recognises_local_user_name(smtp: SMTPSessions, case_context: CaseContext) -> None:
    """A weak proxy: 252 ("cannot verify") passes too, so only an outright refusal of the name shows."""
    client = smtp.ready()
    reply = client.vrfy(case_context.recipient.partition("@")[0])
    check(
        reply.code in KNOWN_USER_CODES,
        "VRFY did not recognise a local mailbox name",
        expected="250, 251 or 252",
        observed=str(reply),
    )


@case("smtp.rfc5321.3.5.1.vrfy-address-form", defect=srv.VRFY_ALWAYS_550, protocols=SMTP_ONLY)
def test_vrfy_accepts_full_address(smtp: SMTPSessions, case_context: CaseContext) -> None:
    """A weak proxy, like the local-name case: 252 passes, only a refusal of the form shows."""
    client = smtp.ready()
    reply = client.vrfy(case_context.recipient)
    check(
        reply.code in KNOWN_USER_CODES,
        "VRFY did not accept the local-part@domain form",
        expected="250, 251 or 252",
        observed=str(reply),
    )


@case("smtp.rfc5321.3.5.1.vrfy-250-mailbox", defect=srv.VRFY_250_BARE, protocols=SMTP_ONLY)
def test_vrfy_250_includes_mailbox(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    reply = client.vrfy(case_context.recipient)
    if reply.code != 250:
        unsupported(f"VRFY did not verify the user (no 250): {reply}")
    check(
        _MAILBOX.search(reply.text),
        "the 250 reply to VRFY does not include the user's mailbox",
        expected="local-part@domain",
        observed=str(reply),
    )


@case("smtp.rfc5321.3.5.2.vrfy-normal-mailbox", defect=srv.VRFY_250_BARE, protocols=SMTP_ONLY)
def test_vrfy_normal_reply_names_mailbox(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    reply = client.vrfy(case_context.recipient.partition("@")[0])
    # 252 means "not verified"; only a verifying reply must carry the mailbox.
    if reply.code not in (250, 251, 551):
        unsupported(f"VRFY did not verify the user: {reply}")
    check(
        _MAILBOX.search(reply.text),
        "a verifying VRFY reply does not name the mailbox",
        expected="<local-part@domain>",
        observed=str(reply),
    )


@case("smtp.rfc5321.3.5.2.vrfy-angle-brackets", defect=srv.VRFY_250_BARE, protocols=SMTP_ONLY)
def test_vrfy_mailbox_in_brackets(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.ready()
    reply = client.vrfy(case_context.recipient)
    if reply.code not in (250, 251, 551):
        unsupported(f"VRFY did not verify the user: {reply}")
    check(
        _BRACKETED.search(reply.text),
        "the VRFY reply does not give the address in pointed brackets",
        expected="<local-part@domain>",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.1.4.no-ehlo-needed", defect=srv.NEEDS_EHLO, protocols=SMTP_ONLY)
def test_vrfy_before_ehlo(smtp: SMTPSessions, case_context: CaseContext) -> None:
    client = smtp.open()
    reply = client.vrfy(case_context.recipient)
    check(
        reply.code != 503, "VRFY before EHLO was answered with 503", expected="processed normally", observed=str(reply)
    )


@case("smtp.rfc5321.4.1.1.8.help-supported", defect=srv.HELP_502)
def test_help_supported(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.command("HELP")
    check(
        reply.code in (211, 214),
        "HELP without arguments is not supported",
        expected="214 (or 211)",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.3.2.help-replies", defect=srv.HELP_WRONG)
def test_help_reply_code_listed(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.command("HELP")
    check(
        reply.code in HELP_CODES,
        "HELP got a reply code outside the HELP list",
        expected="211, 214 (E: 502, 504)",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.3.2.help-replies", defect=srv.HELP_WRONG)
def test_help_with_argument_reply_code_listed(smtp: SMTPSessions) -> None:
    client = smtp.ready()
    reply = client.command("HELP MAIL")
    check(
        reply.code in (*HELP_CODES, 501),
        "HELP MAIL got a reply code outside the HELP list",
        expected="211, 214 (E: 502, 504)",
        observed=str(reply),
    )


@case("smtp.rfc5321.4.1.4.no-ehlo-needed", defect=srv.NEEDS_EHLO)
def test_help_before_ehlo(smtp: SMTPSessions) -> None:
    client = smtp.open()
    reply = client.command("HELP")
    check(
        reply.code != 503, "HELP before EHLO was answered with 503", expected="processed normally", observed=str(reply)
    )
