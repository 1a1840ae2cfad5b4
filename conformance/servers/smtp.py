"""Embedded reference SMTP / submission / LMTP server on the shared store.

The clean server follows RFC 5321 and its extensions strictly. Each behaviour
(see ``behaviours.py``) switches on one deliberate deviation; scenarios name
one as their seeded defect, and the selftest proves the scenario catches it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import re
import ssl
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Literal

from ..store import Account, MailStore
from ..wire import smtp as wire
from ..wire.errors import RemoteProtocolError
from .behaviours import Behaviour, Behaviours, behaviour

Mode = Literal["smtp", "submission", "lmtp"]


def _b(name: str, description: str) -> Behaviour:
    return behaviour("smtp", name, description)


# Seeded defects and unusual habits. One line each: what the server does wrong.
GREET_250 = _b("greet-250", "greets with 250 instead of 220")
GREET_BARE_LF = _b("greet-bare-lf", "ends reply lines with bare LF")
GREET_MIXED_CODES = _b("greet-mixed-codes", "multiline greeting mixes 220 and 250")
GREET_LONG_LINE = _b("greet-long-line", "sends a 600-octet reply line")
EHLO_MIXED_CODES = _b("ehlo-mixed-codes", "EHLO reply lines use different codes")
EHLO_NO_HOSTNAME = _b("ehlo-no-hostname", "the first EHLO line does not name the server")
EHLO_EMPTY_554 = _b("ehlo-empty-554", "refuses EHLO without a domain with 554, a code 4.1.4 does not allow")
EHLO_NO_RESET = _b("ehlo-no-reset", "a second EHLO does not reset the mail transaction")
HELO_UNSUPPORTED = _b("helo-unsupported", "answers HELO with 502")
HELO_ADVERTISES = _b("helo-advertises", "answers HELO with a multiline EHLO-style reply")
VERBS_CASE_SENSITIVE = _b("verbs-case-sensitive", "recognises only upper-case verbs")
MAIL_NO_SEQUENCE = _b("mail-no-sequence", "accepts MAIL before EHLO/HELO and nested MAIL")
MAIL_ACCEPTS_BAD_PATH = _b("mail-accepts-bad-path", "accepts malformed reverse-paths")
MAIL_REJECTS_NULL = _b("mail-rejects-null", "rejects the null reverse-path <>")
MAIL_SPACE_COLON = _b("mail-space-colon", "rejects MAIL FROM: with any parameter")
RCPT_BEFORE_MAIL = _b("rcpt-before-mail", "accepts RCPT without a MAIL transaction")
RCPT_NO_POSTMASTER = _b("rcpt-no-postmaster", "rejects postmaster")
RCPT_ACCEPTS_UNKNOWN = _b("rcpt-accepts-unknown", "accepts every local recipient")
RCPT_DOMAIN_CASE = _b("rcpt-domain-case", "treats the domain as case-sensitive")
RCPT_OPEN_RELAY = _b("rcpt-open-relay", "relays to any domain without authentication")
DATA_NO_RCPT_OK = _b("data-no-rcpt-ok", "answers DATA with 354 when no recipient was accepted")
DATA_NO_DOTS = _b("data-no-unstuff", "does not remove the added leading dot (transparency)")
DATA_NO_RECEIVED = _b("data-no-received", "adds no Received trace header")
DATA_TRUNCATE_LONG = _b("data-truncate-long", "cuts text lines longer than 998 octets (counting the CRLF)")

DATA_WRONG_REPLY = _b("data-wrong-code", "answers DATA with 250 instead of 354")
DATA_TRANSACTION_KEPT = _b("data-keeps-transaction", "keeps the recipients after DATA completes")
RSET_NOOP = _b("rset-noop", "RSET does not clear the transaction")
NOOP_WRONG = _b("noop-wrong", "answers NOOP with 500")
NOOP_REJECTS_ARG = _b("noop-rejects-arg", "answers NOOP with a parameter with 501")
QUIT_NO_221 = _b("quit-no-221", "answers QUIT with 250")
QUIT_STAYS_OPEN = _b("quit-stays-open", "does not close after QUIT")
VRFY_UNIMPLEMENTED = _b("vrfy-unimplemented", "answers VRFY with 500")
VRFY_LIES = _b("vrfy-lies", "answers 250 to VRFY of an unknown user")
HELP_WRONG = _b("help-wrong", "answers HELP with 250")
UNKNOWN_VERB_250 = _b("unknown-verb-250", "answers an unknown command with 250")
ARG_ERRORS_500 = _b("arg-errors-500", "answers syntax errors in arguments with 500 instead of 501")
UNIMPLEMENTED_500 = _b("unimplemented-500", "answers recognised-but-unimplemented commands with 500")
SEQUENCE_500 = _b("sequence-500", "answers bad sequence with 500 instead of 503")
PARAM_504_AS_250 = _b("param-ignored", "ignores unknown MAIL/RCPT parameters instead of 555")
LONG_LINE_OK = _b("long-line-ok", "accepts command lines longer than 512 octets silently")
LONG_LINE_CRASH = _b("long-line-crash", "drops the connection on a command line over 512 octets")
BARE_LF_COMMANDS = _b("bare-lf-commands", "treats a bare LF as the end of a command line")
BARE_CR_COMMANDS = _b("bare-cr-commands", "treats a bare CR as the end of a command line")
BARE_LF_DATA_END = _b("bare-lf-data-end", "accepts <LF>.<LF> as the end of DATA (smuggling)")
LF_DOT_CRLF_END = _b("lf-dot-crlf-end", "accepts <LF>.<CRLF> as the end of DATA (smuggling)")
CR_DOT_CR_END = _b("cr-dot-cr-end", "accepts <CR>.<CR> as the end of DATA (smuggling)")
CR_DOT_CRLF_END = _b("cr-dot-crlf-end", "accepts <CR>.<CRLF> as the end of DATA (smuggling)")
CRLF_DOT_LF_END = _b("crlf-dot-lf-end", "accepts <CRLF>.<LF> as the end of DATA (smuggling)")
CRLF_DOT_CR_END = _b("crlf-dot-cr-end", "accepts <CRLF>.<CR> as the end of DATA (smuggling)")
LF_DOT_CR_END = _b("lf-dot-cr-end", "accepts <LF>.<CR> as the end of DATA (smuggling)")
CR_DOT_LF_END = _b("cr-dot-lf-end", "accepts <CR>.<LF> as the end of DATA (smuggling)")
NUL_DOT_END = _b("nul-dot-end", "accepts <CRLF><NUL>.<CRLF> as the end of DATA (smuggling)")
SIZE_NOT_ENFORCED = _b("size-not-enforced", "accepts a MAIL SIZE= above the advertised limit")
SIZE_NO_VALUE = _b("size-no-value", "advertises SIZE with a malformed value")
SIZE_DATA_NOT_ENFORCED = _b("size-data-not-enforced", "accepts message data above the advertised limit")
PIPELINING_DROPS = _b("pipelining-drops", "discards commands received in the same packet as MAIL")
STARTTLS_KEEPS_STATE = _b("starttls-keeps-state", "keeps the EHLO state across the TLS handshake")
STARTTLS_INJECTION = _b("starttls-injection", "executes commands sent before the TLS handshake")
STARTTLS_ADVERTISED_AFTER = _b("starttls-again", "still advertises STARTTLS after TLS")
STARTTLS_ARG_OK = _b("starttls-arg-ok", "accepts STARTTLS with a parameter")
AUTH_ALLOWS_SECOND = _b("auth-second", "accepts a second AUTH after success")
AUTH_NO_CANCEL = _b("auth-no-cancel", "treats '*' as a credential instead of cancelling")
AUTH_ACCEPTS_ANY = _b("auth-accepts-any", "accepts any password")
AUTH_WRONG_SUCCESS = _b("auth-wrong-success", "answers a good AUTH with 250 instead of 235")
AUTH_BAD_B64_OK = _b("auth-bad-base64", "answers undecodable base64 with 535 instead of 501")
AUTH_BAD_B64_554 = _b("auth-bad-base64-554", "answers undecodable base64 with 501 5.5.4 instead of 501 5.5.2")
AUTH_UNKNOWN_MECH = _b("auth-unknown-mech", "answers an unknown mechanism with 535 instead of 504")
AUTH_IN_TRANSACTION = _b("auth-in-transaction", "accepts AUTH during a mail transaction")
AUTH_PLAIN_NO_TLS = _b("auth-plain-cleartext", "submission: offers and accepts PLAIN without TLS")
EIGHTBIT_REJECTED = _b("8bitmime-rejected", "advertises 8BITMIME but rejects BODY=8BITMIME")
EIGHTBIT_STRIPPED = _b("8bitmime-stripped", "clears the high bit of 8-bit message data")
BODY_BAD_VALUE_OK = _b("body-bad-value", "accepts an unknown BODY= value")
ENHANCED_MISSING = _b("enhanced-missing", "advertises ENHANCEDSTATUSCODES but omits them")
ENHANCED_WRONG_CLASS = _b("enhanced-wrong-class", "enhanced code class differs from the reply class")
TIMEOUT_SILENT_CLOSE = _b("idle-close-silent", "closes idle sessions without 421")
# -- more behaviours (core RFC 5321 commands) --
EHLO_500 = _b("ehlo-500", "answers EHLO with 500 (command not recognized)")
MAIL_LINE_512_ONLY = _b("mail-line-512-only", "holds MAIL to 512 octets although it advertises SIZE and AUTH")
EHLO_UNLISTED = _b("ehlo-unlisted-code", "answers EHLO with 551, a code the EHLO reply list does not have")
EHLO_ERROR_RESETS = _b("ehlo-error-resets", "a refused EHLO aborts the open mail transaction")
EHLO_OMITS_HELP = _b("ehlo-omits-help", "implements HELP but leaves it out of the EHLO reply")
EHLO_LISTS_EXPN = _b("ehlo-lists-expn", "lists EXPN in the EHLO reply but answers EXPN with 502")
EXPN_UNLISTED = _b("expn-unlisted", "implements EXPN without listing it in the EHLO reply")
SEQUENCE_RESETS = _b("sequence-error-resets", "a 503 reply also aborts the open mail transaction")
MAIL_ERROR_KEEPS = _b("mail-error-keeps", "a MAIL refused with 501 still opens a transaction")
RCPT_UNKNOWN_UNLISTED = _b("rcpt-unknown-571", "refuses an unknown local user with 571, a code no RCPT list has")
POSTMASTER_CASE = _b("postmaster-case", "accepts postmaster@domain only in lower case")
RELAY_DENIED_554 = _b("relay-denied-554", "refuses relaying with 554 instead of 550")
RCPT_ROUTE_REJECTED = _b("rcpt-route-rejected", "answers a source-routed forward-path with 501")
ARGS_IGNORED = _b("args-ignored", "accepts DATA, RSET and QUIT with arguments")
DATA_FINAL_WRONG = _b("data-final-wrong", "acknowledges the end of data with 200 instead of 250")
RECEIVED_APPENDED = _b("received-appended", "adds its Received line after the other header fields")
RECEIVED_DROPPED = _b("received-dropped", "removes the Received lines the client sent")
DATA_DISCARDS = _b("data-discards", "answers 250 to the end of data but stores nothing")
DATA_PARTIAL_DELIVERED = _b(
    "data-partial-delivered", "delivers the partial message when the client disconnects in DATA"
)
RSET_CLOSES = _b("rset-closes", "closes the connection after answering RSET")
NEEDS_EHLO = _b("needs-ehlo", "answers RSET, NOOP, VRFY and HELP with 503 before EHLO/HELO")
NOOP_RESETS = _b("noop-resets", "NOOP aborts the mail transaction")
CLOSE_AFTER_UNKNOWN = _b("close-after-unknown", "closes the connection after an unknown command")
CLOSE_AFTER_SYNTAX = _b("close-after-syntax-error", "closes the connection after a 501 reply")
CLOSE_AFTER_REFUSAL = _b("close-after-refusal", "closes the connection after refusing a recipient")
VRFY_250_BARE = _b("vrfy-250-bare", "answers VRFY of a known user with a bare 250 OK")
VRFY_ALWAYS_550 = _b("vrfy-always-550", "answers every VRFY with 550")
HELP_502 = _b("help-502", "answers HELP with 502 (not implemented)")
REPLY_CODE_RANGE = _b("reply-code-range", "answers RSET with the out-of-range code 650")
REPLY_CODE_4_DIGITS = _b("reply-code-4-digits", "answers NOOP with the four-digit code 2500")
RECEIVED_LIMIT_30 = _b("received-limit-30", "refuses messages with more than 30 Received lines as looping")
NO_LOOP_DETECTION = _b("no-loop-detection", "delivers a message whatever its number of Received lines")
RSET_200 = _b("rset-200", "answers RSET with 200, a valid code but not the 250 RSET requires")
DOUBLE_REPLY = _b("double-reply", "answers NOOP with two replies")
UNKNOWN_VERB_SILENT = _b("unknown-verb-silent", "sends no reply to an unknown command")
# -- more behaviours (extensions, limits, data) --
COMMAND_LINE_SHORT = _b("command-line-256", "refuses command lines longer than 256 octets with 500")
LOCAL_PART_SHORT = _b("local-part-32", "refuses local-parts longer than 32 octets")
DOMAIN_SHORT = _b("domain-128", "refuses domains longer than 128 octets")
PATH_SHORT = _b("path-200", "refuses paths longer than 200 octets")
RCPT_LIMIT_50 = _b("rcpt-limit-50", "refuses every recipient after the 50th with 452")
RCPT_LIMIT_552 = _b("rcpt-limit-552", "answers recipients over its limit with 552 instead of 452")
DATA_STRIPS_CONTROLS = _b("data-strips-controls", "removes control characters (VT, FF, ESC...) from message data")
BARE_LF_DATA_LINES = _b("bare-lf-data-lines", "treats a bare LF inside DATA as a line end (unstuffs the dot after it)")
BARE_CR_DATA_LINES = _b("bare-cr-data-lines", "treats a bare CR inside DATA as a line end (unstuffs the dot after it)")
SIZE_OFF_BY_ONE = _b("size-off-by-one", "refuses a MAIL SIZE= equal to the advertised limit")
SIZE_ENDS_DATA = _b("size-ends-data", "ends the message data after the octets declared with SIZE=")
SIZE_COUNTS_STUFFING = _b("size-counts-stuffing", "counts stuffed dots against the declared SIZE and answers 552")
PIPELINING_FLUSH_ON_ERROR = _b("pipelining-flush-on-error", "discards pipelined input after an error reply")
PIPELINING_REORDER = _b("pipelining-reorder", "sends buffered error replies after the success replies")
PIPELINING_HOLDS = _b("pipelining-holds", "holds MAIL/RCPT replies until a later command arrives")
PIPELINING_BUFFERS_NOOP = _b("pipelining-buffers-noop", "holds every reply while a partial command is pending")
PIPELINING_DROPS_AFTER_DATA = _b("pipelining-drops-after-data", "discards commands pipelined after the end of data")
STARTTLS_WRONG_CODE = _b("starttls-250", "answers STARTTLS with 250 instead of 220")
AUTH_PLAIN_NEEDS_INITIAL = _b("auth-plain-needs-initial", "answers AUTH PLAIN without an initial response with 501")
AUTH_B64_LENIENT = _b("auth-base64-lenient", "skips characters outside the base64 alphabet")
AUTH_CHALLENGE_TEXT = _b("auth-challenge-text", "puts plain text in its 334 challenges")
AUTH_MECH_ENHANCED = _b("auth-mech-enhanced", "answers an unknown mechanism with 504 5.7.8 instead of 5.5.4")
AUTH_538_CLEARTEXT = _b("auth-538-cleartext", "advertises AUTH in cleartext but answers 538 until TLS")
EIGHTBIT_DATA_REFUSED = _b("8bitmime-data-refused", "refuses 8-bit message data after BODY=8BITMIME")
BODY_7BIT_REJECTED = _b("body-7bit-rejected", "rejects BODY=7BIT")
ENHANCED_FIRST_LINE_ONLY = _b(
    "enhanced-first-line", "puts the enhanced code on the first line of a multiline reply only"
)
ENHANCED_ONLY_AFTER_EHLO = _b("enhanced-ehlo-only", "sends enhanced codes only after EHLO, not after HELO")
ENHANCED_LEADING_ZERO = _b("enhanced-leading-zero", "writes enhanced codes with leading zeros (2.01.00)")
# -- behaviours: SMTPUTF8, CHUNKING, DSN, LMTP, submission --
SMTPUTF8_PARAMS = _b("smtputf8-params", "advertises SMTPUTF8 with a parameter")
SMTPUTF8_NO_8BITMIME = _b("smtputf8-no-8bitmime", "advertises SMTPUTF8 without 8BITMIME")
SMTPUTF8_REFUSES_UTF8 = _b("smtputf8-refuses-utf8", "refuses UTF-8 addresses even with the SMTPUTF8 parameter (553)")
SMTPUTF8_UNDECLARED_OK = _b("smtputf8-undeclared-ok", "accepts UTF-8 addresses without the SMTPUTF8 parameter")
SMTPUTF8_VALUE_OK = _b("smtputf8-value-ok", "accepts SMTPUTF8=<value> on MAIL")
VRFY_UTF8_REPLY = _b(
    "vrfy-utf8-reply", "answers VRFY of a UTF-8 name with a UTF-8 mailbox though SMTPUTF8 was not given"
)
BDAT_OFF_BY_TWO = _b("bdat-off-by-two", "reads two octets fewer than the BDAT chunk size")
BDAT_UNSTUFFS = _b("bdat-unstuffs", "removes a leading dot from lines of BDAT data (DATA transparency)")
BDAT_AFTER_LAST_OK = _b("bdat-after-last-ok", "accepts a BDAT after BDAT LAST as more data with 250")
BDAT_THEN_DATA_OK = _b("bdat-then-data-ok", "accepts DATA after BDAT in the same transaction")
BDAT_NO_TRANSACTION_OK = _b("bdat-no-transaction-ok", "answers BDAT without MAIL/RCPT with 250")
BDAT_FAIL_NO_DISCARD = _b("bdat-fail-no-discard", "on a refused BDAT reads the chunk's octets as commands")
BDAT_RSET_KEEPS = _b("bdat-rset-keeps", "RSET after a BDAT chunk keeps the transaction")
CHUNKING_NO_DATA = _b("chunking-no-data", "answers DATA with 502 because CHUNKING is offered")
BINARYMIME_DATA_OK = _b("binarymime-data-ok", "accepts DATA after MAIL BODY=BINARYMIME")
BDAT_BINARY_MANGLED = _b("bdat-binary-mangled", "rewrites bare LF to CRLF and drops NUL in BDAT data")
DSN_RET_REFUSED = _b("dsn-ret-refused", "refuses MAIL with valid RET/ENVID parameters with 555")
DSN_MAIL_LENIENT = _b("dsn-mail-lenient", "accepts malformed or repeated RET/ENVID parameters")
DSN_NOTIFY_REFUSED = _b("dsn-notify-refused", "refuses RCPT with valid NOTIFY/ORCPT parameters with 555")
DSN_RCPT_LENIENT = _b("dsn-rcpt-lenient", "accepts malformed or repeated NOTIFY/ORCPT parameters")
LMTP_ACCEPTS_HELLO = _b("lmtp-accepts-ehlo", "LMTP: accepts EHLO and HELO like LHLO")
LMTP_NO_PIPELINING = _b("lmtp-no-pipelining", "LMTP: does not advertise PIPELINING")
LMTP_NO_ENHANCED = _b("lmtp-no-enhanced", "LMTP: does not advertise ENHANCEDSTATUSCODES")
LMTP_SINGLE_REPLY = _b("lmtp-single-reply", "LMTP: one reply after DATA whatever the number of recipients")
LMTP_REPLY_REFUSED = _b("lmtp-reply-refused", "LMTP: also replies after DATA for refused recipients")
LMTP_REVERSE_ORDER = _b("lmtp-reverse-order", "LMTP: post-DATA replies in reverse RCPT order")
SUBMISSION_NO_AUTH = _b("submission-no-auth", "submission: accepts MAIL without authentication")
SUBMISSION_AUTH_550 = _b("submission-auth-550", "submission: answers MAIL before AUTH with 550 instead of 530")
SUBMISSION_NO_RELAY = _b("submission-no-relay", "submission: refuses foreign recipients after AUTH")
RELAY_TRICKS = _b("relay-tricks", "relays %-hack, bang-path, quoted and source-routed addresses to foreign domains")
EXPN_ENUMERATES = _b("expn-enumerates", "answers EXPN 250 for known and 550 for unknown users")
SIZE_UNLIMITED = _b("size-unlimited", "advertises SIZE 0 (no limit)")
IMPLICIT_TLS_STARTTLS = _b("implicit-tls-starttls", "offers and accepts STARTTLS inside implicit TLS")
HEADER_UNFOLDS = _b("header-unfolds", "unfolds folded header fields of the message")
# -- behaviours: per-recipient LMTP outcomes, malformed BDAT, review backlog (D1-D8) --
LMTP_FAIL_ALL = _b("lmtp-fail-all", "LMTP: reports one recipient's failed delivery for every recipient")
LMTP_ROLLBACK = _b(
    "lmtp-rollback", "LMTP: when one recipient fails after DATA, answers 250 for the others but delivers to none"
)
BDAT_BAD_SIZE_WAITS = _b(
    "bdat-bad-size-waits", "takes a malformed BDAT chunk size for a huge chunk and waits for its octets"
)
BDAT_BAD_SIZE_500 = _b("bdat-bad-size-500", "answers a malformed BDAT chunk size with 500 instead of 501")
DATA_LIMIT_60K = _b("data-limit-60k", "refuses message content over 60 000 octets with 552")
NO_RETURN_PATH = _b("no-return-path", "adds no Return-Path on final delivery")
RETURN_PATH_LOWERCASE = _b("return-path-lowercase", "writes the Return-Path local-part in lower case")
EHLO_NAME_CHECKED = _b(
    "ehlo-name-checked", "refuses MAIL with 550 when the EHLO name is not in its own domain (failed EHLO check)"
)
STARTTLS_REQUIRED = _b("starttls-required", "SMTP (port 25): answers MAIL with 530 until STARTTLS")
PIPELINING_BUFFERS_UNKNOWN = _b(
    "pipelining-buffers-unknown", "holds the reply to an unrecognized command while a partial command is pending"
)
MAIL_AUTH_PARAM_REFUSED = _b("mail-auth-param-refused", "refuses MAIL AUTH=<> from an unauthenticated client with 555")
RECEIVED_NO_FROM = _b("received-no-from", "writes its Received line without a FROM clause")
RECEIVED_NO_LITERAL = _b(
    "received-no-literal", "leaves the client's IP address literal out of the Received FROM clause"
)
# -- legal but unusual habits, for client cases (scenarios/clients) --
REPLY_TEXT_ODD = _b("reply-text-odd", "single-line replies carry misleading text ('rejected? no...')")
BARE_CODES = _b("bare-codes", "single-line replies after the greeting are a bare code, no text")
GREET_MULTILINE_BARE = _b("greet-multiline-bare", "multiline greeting with odd text, its last line a bare 220")
CODES_UNLISTED = _b("codes-unlisted-2yz", "accepts MAIL with 259, RCPT with 258 and the message with 256")
FINAL_459 = _b("final-459", "answers the end of data with the unlisted temporary code 459 (not stored)")
FINAL_559 = _b("final-559", "answers the end of data with the unlisted permanent code 559 (not stored)")
FINAL_650 = _b("final-650", "answers the end of data with the out-of-range code 650 (not stored)")
MAIL_451 = _b("mail-451", "answers MAIL with 451 (temporary failure)")
MAIL_550 = _b("mail-550", "answers MAIL with 550 (permanent failure)")
RCPT_450 = _b("rcpt-450", "answers RCPT with 450 (mailbox busy, temporary)")
DATA_554 = _b("data-554", "answers DATA with 554 (transaction failed)")
DATA_451 = _b("data-451", "answers DATA with 451 (temporary failure)")
FINAL_554 = _b("final-554", "refuses the message at the end of data with 554")
FINAL_451 = _b("final-451", "refuses the message at the end of data with 451")
EHLO_502 = _b("ehlo-502", "answers EHLO with 502 (not implemented): HELO only")
EHLO_MINIMAL = _b("ehlo-minimal", "answers EHLO with no service extensions at all")
EHLO_NO_8BITMIME = _b("ehlo-no-8bitmime", "does not offer 8BITMIME (nor SMTPUTF8, BINARYMIME)")
NO_PIPELINING = _b("no-pipelining", "does not offer PIPELINING")
MULTILINE_REPLIES = _b("multiline-replies", "sends every single-line reply as a two-line reply")
STARTTLS_STRIPPED = _b("starttls-stripped", "does not offer STARTTLS (as a man in the middle would strip it)")
STARTTLS_454 = _b("starttls-454", "answers STARTTLS with 454 (TLS not available)")
STARTTLS_EXTRA_REPLY = _b(
    "starttls-extra-reply", "sends a 250 reply behind the 220 to STARTTLS, before TLS; slow replies after TLS"
)
CAPS_CHANGE_AFTER_TLS = _b("caps-change-after-tls", "offers AUTH LOGIN before TLS and AUTH PLAIN only after it")
AUTH_LOGIN_ONLY = _b("auth-login-only", "offers AUTH LOGIN only")
SLOW_QUIT = _b("slow-quit", "waits half a second before its 221 to QUIT")
SLOW_GREETING = _b("slow-greeting", "waits two seconds before the greeting")
SLOW_FINAL = _b("slow-final", "waits two seconds before the reply to the end of data")
_REFUSALS = {
    MAIL_451: ("MAIL", 451, "4.3.0", "Temporary failure, try again later"),
    MAIL_550: ("MAIL", 550, "5.7.1", "Sender refused"),
    RCPT_450: ("RCPT", 450, "4.2.1", "Mailbox busy, try again later"),
    DATA_554: ("DATA", 554, "5.5.0", "Transaction failed"),
    DATA_451: ("DATA", 451, "4.3.0", "Temporary failure, try again later"),
}


@dataclass
class SMTPConfig:
    mode: Mode = "smtp"
    hostname: str = "mx.mailspec.test"
    max_size: int = 10 * 1024 * 1024
    max_recipients: int = 100
    tls: ssl.SSLContext | None = None  # offered via STARTTLS when set
    implicit_tls: bool = False
    idle_timeout: float = 300.0
    behaviours: Behaviours = field(default_factory=Behaviours)
    # Accounts whose mailbox is full (a configuration, not a defect): RCPT is accepted
    # and delivery fails after DATA (LMTP: 452 for that recipient only, RFC 2033 4.2);
    # SMTP and submission refuse the RCPT with 452 instead.
    full_mailboxes: frozenset[str] = frozenset()

    @property
    def auth_requires_tls(self) -> bool:
        return self.mode == "submission" and self.tls is not None and AUTH_PLAIN_NO_TLS not in self.behaviours


class _Close(Exception):
    pass


class SMTPSession:
    def __init__(self, cfg: SMTPConfig, store: MailStore, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.cfg = cfg
        self.b = cfg.behaviours
        self.store = store
        self.reader = reader
        self.writer = writer
        self.parser = wire.CommandParser()
        self.out: list[bytes] = []
        self.tls = cfg.implicit_tls
        self.greeted: str | None = None  # "EHLO" / "HELO" / "LHLO"
        self.helo_name = ""  # the client's claimed name, for the Received line
        self.user: str | None = None
        self.last_code = 0  # the code of the last reply queued
        self.bdat_last_done = False  # a BDAT LAST completed and nothing has started since
        self.holding = False  # PIPELINING_HOLDS: replies kept back after MAIL/RCPT
        self.unknown_verb = False  # the last command was not recognized (PIPELINING_BUFFERS_UNKNOWN)
        self.reset()

    def reset(self) -> None:
        self.mail_from: wire.Path | None = None
        self.mail_params: dict[str, str | None] = {}
        self.rcpts: list[tuple[str, Account | None]] = []
        self.refused = 0  # recipients refused in this transaction (LMTP_REPLY_REFUSED)
        self.bdat: bytearray | None = None  # the chunks so far once BDAT has been used

    # --- replies -----------------------------------------------------------

    @property
    def enhanced(self) -> bool:
        if ENHANCED_ONLY_AFTER_EHLO in self.b and self.greeted != "EHLO":
            return False
        return ENHANCED_MISSING not in self.b

    def reply(self, code: int, text: str, status: str | None = None, *more: str) -> None:
        if CODES_UNLISTED in self.b and code == 250 and not more:
            code = {"MAIL": 259, "RCPT": 258, "DATA": 256}.get(getattr(self, "verb", ""), code)
        if not more and code != 220 and (BARE_CODES in self.b or REPLY_TEXT_ODD in self.b):
            if BARE_CODES in self.b:
                self.last_code = code
                self.out.append(b"%d\r\n" % code)
                return
            text = {2: "rejected? no: accepted, no error", 3: "550 error? no, go ahead"}.get(code // 100, text)
        if MULTILINE_REPLIES in self.b and not more:
            more = ("(this reply goes on on a second line)",)
        self.last_code = code
        if status and self.enhanced:
            if ENHANCED_WRONG_CLASS in self.b:
                status = ("5" if status[0] == "2" else "2") + status[1:]
            if ENHANCED_LEADING_ZERO in self.b:
                klass, subject, detail = status.split(".")
                status = f"{klass}.{int(subject):02d}.{int(detail):02d}"
            later = status if ENHANCED_FIRST_LINE_ONLY not in self.b else ""
            lines = [f"{status} {text}", *(f"{later} {m}".lstrip(" ") for m in more)]
        else:
            lines = [text, *more]
        data = wire.format_reply(code, *lines)
        if GREET_BARE_LF in self.b:
            data = data.replace(b"\r\n", b"\n")
        self.out.append(data)

    async def flush(self) -> None:
        if STARTTLS_EXTRA_REPLY in self.b and self.tls and self.out:
            await asyncio.sleep(0.3)
        if self.out and PIPELINING_REORDER in self.b:
            self.out.sort(key=lambda d: d[:1] in (b"4", b"5"))  # stable: errors go last
        if self.out:
            self.writer.write(b"".join(self.out))
            self.out.clear()
            await self.writer.drain()

    # --- main loop ---------------------------------------------------------

    async def run(self) -> None:
        if SLOW_GREETING in self.b:
            await asyncio.sleep(2.0)
        self.greet()
        await self.flush()
        try:
            while True:
                cmd = await self._next_command()
                if cmd is None:
                    return
                self.unknown_verb = False
                await self.dispatch(cmd)
                self.holding = PIPELINING_HOLDS in self.b and cmd.verb in ("MAIL", "RCPT")
                if PIPELINING_BUFFERS_UNKNOWN in self.b and self.unknown_verb and self.parser.pending():
                    self.holding = True
                if self._may_flush():
                    await self.flush()
                if PIPELINING_DROPS in self.b and cmd.verb == "MAIL":
                    self.parser.take_pending()
                if PIPELINING_FLUSH_ON_ERROR in self.b and self.last_code >= 400:
                    self.parser.take_pending()
        except _Close:
            await self.flush()

    def _may_flush(self) -> bool:
        """Whether the replies queued so far go out now (RFC 2920 3.2: once the input is used up)."""
        pending = self.parser.pending()
        if self.holding:
            return False
        if PIPELINING_BUFFERS_NOOP in self.b and pending:
            return False
        return pending == b"" or b"\n" not in pending

    async def _read(self) -> bytes:
        try:
            data = await asyncio.wait_for(self.reader.read(65536), self.cfg.idle_timeout)
        except TimeoutError:
            if TIMEOUT_SILENT_CLOSE not in self.b:
                self.reply(421, f"{self.cfg.hostname} idle too long, closing", "4.4.2")
            raise _Close from None
        return data

    async def _next_command(self) -> wire.Command | None:
        pieces: list[wire.Command] = []
        skipping = False  # inside a line too long to keep: drop it up to its LF
        while True:
            try:
                cmd = self.parser.next_command()
            except RemoteProtocolError:
                # RFC 5321 3.8: no close here (only after QUIT, 421 or a timeout); 4.2.4: 500.
                self.parser.take_pending()
                self.reply(500, "Line too long", "5.5.2")
                skipping = True
                continue
            if cmd is None:
                if not self.holding and not (PIPELINING_BUFFERS_NOOP in self.b and self.parser.pending()):
                    await self.flush()
                data = await self._read()
                if not data:
                    return None
                if skipping:
                    lf = data.find(b"\n")
                    if lf < 0:
                        continue
                    data, skipping = data[lf + 1 :], False
                self.parser.feed(data)
                continue
            bare_lf = cmd.raw.endswith(b"\n") and not cmd.raw.endswith(b"\r\n")
            if bare_lf and BARE_LF_COMMANDS not in self.b:
                # RFC 5321 2.3.8: only CRLF ends a line; keep reading to the real end.
                pieces.append(cmd)
                continue
            if pieces:
                pieces.clear()
                self.reply(500, "Bare <LF> is not a line terminator", "5.5.2")
                continue
            if BARE_CR_COMMANDS in self.b and b"\r" in cmd.raw[:-2]:
                first, _, rest = cmd.raw.partition(b"\r")
                self.parser.feed(b"")
                pending = self.parser.take_pending()
                self.parser.feed(rest + pending)
                verb, _, argument = first.decode("utf-8", "replace").partition(" ")
                return wire.Command(verb.upper(), argument, first + b"\r\n")
            return cmd

    def greet(self) -> None:
        name = self.cfg.hostname
        if GREET_250 in self.b:
            self.out.append(wire.format_reply(250, f"{name} ESMTP mailspec"))
        elif GREET_MULTILINE_BARE in self.b:
            self.out.append(
                f"220-{name} ESMTP mailspec\r\n220-250 OK (a line that looks like another reply)\r\n220\r\n".encode()
            )
        elif GREET_MIXED_CODES in self.b:
            self.out.append(b"220-" + name.encode() + b" ESMTP mailspec\r\n250 ready\r\n")
        elif GREET_LONG_LINE in self.b:
            self.out.append(wire.format_reply(220, f"{name} ESMTP mailspec " + "x" * 600))
        else:
            kind = "LMTP" if self.cfg.mode == "lmtp" else "ESMTP"
            self.reply(220, f"{name} {kind} mailspec ready")

    async def dispatch(self, cmd: wire.Command) -> None:
        verb = cmd.verb
        self.verb = verb
        refusal = next((r for b, r in _REFUSALS.items() if b in self.b and r[0] == verb), None)
        if refusal is not None and (verb != "DATA" or self.rcpts):
            self.reply(refusal[1], refusal[3], refusal[2] or None)
            return
        if VERBS_CASE_SENSITIVE in self.b and cmd.raw[: len(verb)] != verb.encode():
            self.reply(500, "Command not recognized", "5.5.1")
            return
        if COMMAND_LINE_SHORT in self.b and len(cmd.raw) > 256:
            self.reply(500, "Line too long", "5.5.2")
            return
        if len(cmd.raw) > self._line_limit(verb) and LONG_LINE_OK not in self.b:
            if LONG_LINE_CRASH in self.b:
                raise _Close
            self.reply(500, "Line too long", "5.5.2")
            return
        handler = getattr(self, "do_" + verb, None) if verb.isalpha() else None
        if NEEDS_EHLO in self.b and self.greeted is None and verb in ("RSET", "NOOP", "VRFY", "HELP"):
            self.bad_sequence("Send EHLO/HELO first")
            return
        if verb == "EXPN" and EXPN_ENUMERATES in self.b:
            name = cmd.argument.strip("<> ")
            if self.store.resolve(name if "@" in name else f"{name}@{self.store.domain}"):
                self.reply(250, f"<{name}>", "2.1.5")
            else:
                self.reply(550, "No such user", "5.1.1")
            return
        if verb == "EXPN" and EXPN_UNLISTED in self.b:
            self.reply(250, f"<postmaster@{self.store.domain}>", "2.1.5")
            return
        if handler is None:
            if UNKNOWN_VERB_SILENT in self.b and verb not in ("TURN", "ETRN", "ATRN", "SAML", "SOML", "SEND", "EXPN"):
                return
            if UNKNOWN_VERB_250 in self.b:
                self.reply(250, "OK", "2.0.0")
            elif verb in ("TURN", "ETRN", "ATRN", "SAML", "SOML", "SEND", "EXPN"):
                code = 500 if UNIMPLEMENTED_500 in self.b else 502
                self.reply(code, "Command not implemented", "5.5.1")
            else:
                self.reply(500, "Command not recognized", "5.5.1")
                self.unknown_verb = True
                if CLOSE_AFTER_UNKNOWN in self.b:
                    raise _Close
            return
        await handler(cmd.argument)

    def _line_limit(self, verb: str) -> int:
        """512 octets; MAIL gets 26 more for SIZE (RFC 1870 3) and 500 more for AUTH= (RFC 4954 3)."""
        if verb != "MAIL" or MAIL_LINE_512_ONLY in self.b:
            return wire.MAX_COMMAND_LINE
        names = {e.split(" ")[0] for e in self.extensions()}
        return wire.MAX_COMMAND_LINE + 26 * ("SIZE" in names) + 500 * ("AUTH" in names)

    def _client_literal(self) -> str:
        """The address literal of the client, for the Received FROM clause (RFC 5321 4.4 SHOULD)."""
        peer = self.writer.get_extra_info("peername")
        host = str(peer[0]) if peer else "0.0.0.0"
        return f"[IPv6:{host}]" if ":" in host else f"[{host}]"

    def syntax_error(self, text: str) -> None:
        code = 500 if ARG_ERRORS_500 in self.b else 501
        self.reply(code, text, "5.5.4" if code == 501 else "5.5.2")
        if CLOSE_AFTER_SYNTAX in self.b:
            raise _Close

    def bad_sequence(self, text: str) -> None:
        code = 500 if SEQUENCE_500 in self.b else 503
        self.reply(code, text, "5.5.1")
        if SEQUENCE_RESETS in self.b:
            self.reset()

    # --- commands ----------------------------------------------------------

    def extensions(self) -> list[str]:
        if EHLO_MINIMAL in self.b:
            return []
        ext = self._extensions()
        if EHLO_NO_8BITMIME in self.b:
            ext = [e for e in ext if e not in ("8BITMIME", "SMTPUTF8", "BINARYMIME")]
        if NO_PIPELINING in self.b:
            ext.remove("PIPELINING")
        if STARTTLS_STRIPPED in self.b:
            ext = [e for e in ext if e != "STARTTLS"]
        if CAPS_CHANGE_AFTER_TLS in self.b or AUTH_LOGIN_ONLY in self.b:
            login_only = AUTH_LOGIN_ONLY in self.b or not self.tls
            ext = [("AUTH LOGIN" if login_only else "AUTH PLAIN") if e.startswith("AUTH ") else e for e in ext]
        return ext

    def _extensions(self) -> list[str]:
        ext = ["8BITMIME", "PIPELINING", "ENHANCEDSTATUSCODES", "HELP"]
        if SMTPUTF8_NO_8BITMIME in self.b:
            ext.remove("8BITMIME")
        if self.cfg.mode == "lmtp" and LMTP_NO_PIPELINING in self.b:
            ext.remove("PIPELINING")
        if self.cfg.mode == "lmtp" and LMTP_NO_ENHANCED in self.b:
            ext.remove("ENHANCEDSTATUSCODES")
        ext += ["SMTPUTF8 YES" if SMTPUTF8_PARAMS in self.b else "SMTPUTF8", "DSN", "CHUNKING", "BINARYMIME"]
        if EHLO_OMITS_HELP in self.b:
            ext.remove("HELP")
        if EHLO_LISTS_EXPN in self.b:
            ext.append("EXPN")
        size = "0" if SIZE_UNLIMITED in self.b else str(self.cfg.max_size)
        ext.append("SIZE 1O" if SIZE_NO_VALUE in self.b else f"SIZE {size}")
        if self.cfg.tls is not None and (not self.tls or STARTTLS_ADVERTISED_AFTER in self.b):
            ext.append("STARTTLS")
        if self.cfg.implicit_tls and IMPLICIT_TLS_STARTTLS in self.b:
            ext.append("STARTTLS")
        if self.cfg.mode != "lmtp" and (self.tls or not self.cfg.auth_requires_tls):
            ext.append("AUTH PLAIN LOGIN")
        return ext

    async def do_EHLO(self, arg: str) -> None:
        if self.cfg.mode == "lmtp" and LMTP_ACCEPTS_HELLO not in self.b:
            self.reply(500, "This is LMTP: use LHLO", "5.5.1")
            return
        if EHLO_UNLISTED in self.b:
            self.reply(551, "not here", "5.5.1")
            return
        if EHLO_500 in self.b or EHLO_502 in self.b:
            self.reply(502 if EHLO_502 in self.b else 500, "Command not recognized", "5.5.1")
            return
        await self._hello("EHLO", arg)

    async def do_LHLO(self, arg: str) -> None:
        if self.cfg.mode != "lmtp":
            self.reply(500, "Command not recognized", "5.5.1")
            return
        await self._hello("LHLO", arg)

    async def _hello(self, verb: str, arg: str) -> None:
        if not arg.strip():
            if EHLO_ERROR_RESETS in self.b:
                self.reset()
            if EHLO_EMPTY_554 in self.b:
                self.reply(554, f"{verb} requires a domain or address literal", "5.5.4")
            else:
                self.syntax_error(f"{verb} requires a domain or address literal")
            return
        if EHLO_NO_RESET not in self.b:
            self.reset()
        self.greeted = verb
        self.helo_name = arg.split(" ")[0]
        first = "mailspec.invalid" if EHLO_NO_HOSTNAME in self.b else self.cfg.hostname
        lines = [f"{first} greets {arg.split(' ')[0]}", *self.extensions()]
        if EHLO_MIXED_CODES in self.b:
            self.out.append(
                b"".join(b"250-" + ln.encode() + b"\r\n" for ln in lines[:-1]) + b"220 " + lines[-1].encode() + b"\r\n"
            )
            return
        self.reply(250, lines[0], None, *lines[1:])

    async def do_HELO(self, arg: str) -> None:
        if self.cfg.mode == "lmtp" and LMTP_ACCEPTS_HELLO not in self.b:
            self.reply(500, "This is LMTP: use LHLO", "5.5.1")
            return
        if HELO_UNSUPPORTED in self.b:
            self.reply(502, "HELO not implemented")
            return
        if not arg.strip():
            self.syntax_error("HELO requires a domain")
            return
        self.reset()
        self.greeted = "HELO"
        self.helo_name = arg.split(" ")[0]
        if HELO_ADVERTISES in self.b:
            self.reply(250, self.cfg.hostname, None, *self.extensions())
            return
        self.reply(250, self.cfg.hostname)

    async def do_MAIL(self, arg: str) -> None:
        if MAIL_NO_SEQUENCE not in self.b:
            if self.greeted is None:
                self.bad_sequence("Send EHLO/HELO first")
                return
            if self.mail_from is not None:
                self.bad_sequence("Nested MAIL command")
                return
        if self.cfg.mode == "submission" and self.user is None and SUBMISSION_NO_AUTH not in self.b:
            # RFC 6409 4.3 / RFC 4954 6: 530 before AUTH.
            self.reply(550 if SUBMISSION_AUTH_550 in self.b else 530, "Authentication required", "5.7.0")
            return
        if STARTTLS_REQUIRED in self.b and self.cfg.mode == "smtp" and not self.tls:
            self.reply(530, "Must issue a STARTTLS command first", "5.7.0")
            return
        if EHLO_NAME_CHECKED in self.b and not self.helo_name.lower().endswith("." + self.store.domain):
            self.reply(550, "EHLO name does not match your address", "5.7.1")
            return
        try:
            parsed = wire.parse_mail_argument(arg, "FROM")
        except RemoteProtocolError as e:
            if MAIL_ACCEPTS_BAD_PATH in self.b and arg.upper().startswith("FROM:"):
                self.mail_from = wire.Path(arg[5:].strip("<> "))
                self.reply(250, "OK", "2.1.0")
                return
            if MAIL_ERROR_KEEPS in self.b:
                self.mail_from = wire.Path("")
            self.syntax_error(f"Syntax error in MAIL: {e.deviation.what}")
            return
        if parsed.path.is_null and MAIL_REJECTS_NULL in self.b:
            self.reply(553, "Null sender not accepted", "5.1.7")
            return
        if MAIL_SPACE_COLON in self.b and parsed.params:
            self.syntax_error("Parameters not allowed")
            return
        if self._path_too_long(parsed.path):
            self.reply(501, "Path too long", "5.1.7")
            return
        if not self._check_params(parsed.params, ("SIZE", "BODY", "AUTH", "SMTPUTF8", "RET", "ENVID")):
            return
        if "AUTH" in parsed.params and self.user is None and MAIL_AUTH_PARAM_REFUSED in self.b:
            self.reply(555, "AUTH parameter not accepted before authentication", "5.5.4")
            return
        if not self._mail_extension_params(parsed):
            return
        self.bdat_last_done = False
        self.mail_from = parsed.path
        self.mail_params = parsed.params
        self.reply(250, "OK", "2.1.0")

    def _path_too_long(self, path: wire.Path) -> bool:
        """Seeded limits below RFC 5321 4.5.3.1's minimums (the clean server has none)."""
        local, domain = path.local_part.encode(), path.domain.encode()
        return (
            (LOCAL_PART_SHORT in self.b and len(local) > 32)
            or (DOMAIN_SHORT in self.b and len(domain) > 128)
            or (PATH_SHORT in self.b and len(local) + len(domain) + 3 > 200)
        )

    def _check_params(self, params: dict[str, str | None], known: tuple[str, ...]) -> bool:
        for key, value in params.items():
            if key not in known:
                if PARAM_504_AS_250 in self.b:
                    continue
                self.reply(555, f"Parameter {key} not recognized", "5.5.4")
                return False
            if key == "SIZE":
                if value is None or not value.isdigit():
                    self.syntax_error("SIZE needs a number")
                    return False
                limit = self.cfg.max_size - (SIZE_OFF_BY_ONE in self.b)
                if int(value) > limit and SIZE_NOT_ENFORCED not in self.b:
                    self.reply(552, "Message size exceeds fixed limit", "5.3.4")
                    return False
            if key == "BODY":
                v = (value or "").upper()
                if v not in ("7BIT", "8BITMIME", "BINARYMIME") and BODY_BAD_VALUE_OK not in self.b:
                    self.syntax_error(f"Unknown BODY value {value}")
                    return False
                if v == "8BITMIME" and EIGHTBIT_REJECTED in self.b:
                    self.reply(555, "BODY=8BITMIME not accepted", "5.5.4")
                    return False
                if v == "7BIT" and BODY_7BIT_REJECTED in self.b:
                    self.reply(555, "BODY=7BIT not accepted", "5.5.4")
                    return False

        return True

    async def do_RCPT(self, arg: str) -> None:
        if self.mail_from is None and RCPT_BEFORE_MAIL not in self.b:
            self.bad_sequence("Need MAIL before RCPT")
            return
        try:
            parsed = wire.parse_mail_argument(arg, "TO")
        except RemoteProtocolError as e:
            # RFC 5321 4.1.1.3: a bare <Postmaster> must be accepted.
            if arg.upper().replace(" ", "") == "TO:<POSTMASTER>" and RCPT_NO_POSTMASTER not in self.b:
                acct = self.store.resolve(f"postmaster@{self.store.domain}")
                self.rcpts.append(("postmaster", acct))
                self.reply(250, "OK", "2.1.5")
                return
            self.syntax_error(f"Syntax error in RCPT: {e.deviation.what}")
            return
        if not self._check_params(parsed.params, ("NOTIFY", "ORCPT")):
            return
        if not self._rcpt_extension_params(parsed):
            return
        if parsed.path.source_route and RCPT_ROUTE_REJECTED in self.b:
            self.syntax_error("Source routes not accepted")
            return
        limit = 50 if RCPT_LIMIT_50 in self.b else self.cfg.max_recipients
        if len(self.rcpts) >= limit:
            if RCPT_LIMIT_552 in self.b:
                self.reply(552, "Too many recipients", "5.5.3")
            else:
                self.reply(452, "Too many recipients", "4.5.3")
            return

        address = parsed.path.mailbox
        local, domain = parsed.path.local_part, parsed.path.domain
        is_local_domain = domain.lower() == self.store.domain
        if RCPT_DOMAIN_CASE in self.b and domain != self.store.domain:
            is_local_domain = False
        tricked = RELAY_TRICKS in self.b and (
            bool(parsed.path.source_route) or any(c in local for c in "%!") or (local.startswith('"') and "@" in local)
        )
        submitter = self.user is not None and self.cfg.mode == "submission" and SUBMISSION_NO_RELAY not in self.b
        if not is_local_domain or tricked:
            if RCPT_OPEN_RELAY in self.b or submitter or tricked:
                self.rcpts.append((address, None))
                self.reply(250, "OK", "2.1.5")
                return
            self.reply(554 if RELAY_DENIED_554 in self.b else 550, "Relay access denied", "5.7.1")
            return
        if local.lower() == "postmaster" and (
            RCPT_NO_POSTMASTER in self.b or (POSTMASTER_CASE in self.b and local != "postmaster")
        ):
            self.reply(550, "No such user", "5.1.1")
            return
        acct = self.store.resolve(address) or (
            self.store.resolve(f"postmaster@{self.store.domain}") if local.lower() == "postmaster" else None
        )
        if acct is None and RCPT_ACCEPTS_UNKNOWN not in self.b:
            self.refused += 1
            self.reply(571 if RCPT_UNKNOWN_UNLISTED in self.b else 550, "No such user here", "5.1.1")
            if CLOSE_AFTER_REFUSAL in self.b:
                raise _Close
            return
        if acct is not None and acct.user in self.cfg.full_mailboxes and self.cfg.mode != "lmtp":
            self.reply(452, "Mailbox full, try again later", "4.2.2")
            return
        self.rcpts.append((address, acct))
        self.reply(250, "OK", "2.1.5")

    async def do_DATA(self, arg: str) -> None:
        if CHUNKING_NO_DATA in self.b:
            self.reply(502, "Use BDAT", "5.5.1")
            return
        if arg and ARGS_IGNORED not in self.b:
            self.syntax_error("DATA takes no parameters")
            return
        if self.bdat is not None and BDAT_THEN_DATA_OK not in self.b:
            # RFC 3030 2: DATA and BDAT cannot be mixed in one transaction.
            self.bad_sequence("DATA after BDAT in this transaction")
            return
        body = (self.mail_params.get("BODY") or "").upper()
        if body == "BINARYMIME" and self.mail_from is not None and BINARYMIME_DATA_OK not in self.b:
            self.bad_sequence("BODY=BINARYMIME requires BDAT")
            return
        if self.mail_from is None and DATA_NO_RCPT_OK not in self.b:
            self.bad_sequence("Need MAIL command")
            return
        if not self.rcpts and DATA_NO_RCPT_OK not in self.b:
            self.reply(554 if self.mail_from is not None else 503, "No valid recipients", "5.5.1")
            return
        if DATA_WRONG_REPLY in self.b:
            self.out.append(b"250 Go ahead\r\n")
        else:
            self.reply(354, "End data with <CR><LF>.<CR><LF>")
        await self.flush()
        declared = self.mail_params.get("SIZE")
        if SIZE_ENDS_DATA in self.b and declared and declared.isdigit():
            await self._data_by_size(int(declared))
            return
        receiver = wire.DataReceiver(max_size=self.cfg.max_size, extra_endings=self._extra_endings())
        pending = self.parser.take_pending()
        partial = bytearray(pending)
        done = receiver.feed(pending)
        while done is None:
            data = await self._read()
            if not data:
                if DATA_PARTIAL_DELIVERED in self.b:
                    for _, acct in self.rcpts:
                        if acct is not None:
                            self.store.deliver(acct, bytes(partial), "")
                raise _Close
            partial += data
            done = receiver.feed(data)
        result, rest = done
        if SLOW_FINAL in self.b:
            await asyncio.sleep(2.0)
        if PIPELINING_DROPS_AFTER_DATA not in self.b:
            self.parser.feed(rest)
        if receiver.exceeded and SIZE_DATA_NOT_ENFORCED not in self.b:
            self.reply(552, "Message size exceeds fixed limit", "5.3.4")
            self.reset()
            return
        if SIZE_COUNTS_STUFFING in self.b and declared and declared.isdigit():
            # The wrong count: the octets on the wire, stuffed dots included (RFC 1870 5 excludes them).
            wire_size = len(result.message) + sum(ln.startswith(b".") for ln in result.message.split(b"\r\n"))
            if wire_size > int(declared):
                self.reply(552, "Message size exceeds declared size", "5.3.4")
                self.reset()
                return
        if DATA_LIMIT_60K in self.b and len(result.message) > 60_000:
            self.reply(552, "Message too big", "5.3.4")
            self.reset()
            return
        body_8bit = (self.mail_params.get("BODY") or "").upper() == "8BITMIME"
        if EIGHTBIT_DATA_REFUSED in self.b and body_8bit and any(c >= 0x80 for c in result.message):
            self.reply(554, "8-bit data not accepted", "5.6.1")
            self.reset()
            return

        self._deliver(result.message)

    async def _data_by_size(self, size: int) -> None:
        """SIZE_ENDS_DATA: take exactly the declared octets as the message (RFC 1870 6 forbids this)."""
        buf = self.parser.take_pending()
        while len(buf) < size:
            data = await self._read()
            if not data:
                raise _Close
            buf += data
        self.parser.feed(buf[size:])
        self._deliver(buf[:size])

    # --- SMTPUTF8 (RFC 6531), DSN (RFC 3461), CHUNKING / BINARYMIME (RFC 3030) ---

    def _utf8_refused(self, path: wire.Path, code: int, declared: bool) -> bool:
        """Refuse a non-ASCII mailbox without SMTPUTF8 (or always, under the defect); True when refused."""
        if path.mailbox.isascii():
            return False
        if declared and SMTPUTF8_REFUSES_UTF8 not in self.b:
            return False
        if not declared and SMTPUTF8_UNDECLARED_OK in self.b:
            return False
        self.reply(553 if declared else code, "Non-ASCII address not permitted", "5.6.7")
        return True

    def _mail_extension_params(self, parsed: wire.MailArgument) -> bool:
        params = parsed.params
        if "SMTPUTF8" in params and params["SMTPUTF8"] is not None and SMTPUTF8_VALUE_OK not in self.b:
            self.syntax_error("SMTPUTF8 takes no value")
            return False
        if self._utf8_refused(parsed.path, 550, "SMTPUTF8" in params):
            return False
        dsn = [k for k in ("RET", "ENVID") if k in params]
        if dsn and DSN_RET_REFUSED in self.b:
            self.reply(555, "RET/ENVID not accepted", "5.5.4")
            return False
        if DSN_MAIL_LENIENT in self.b:
            return True
        if any(k in parsed.duplicates for k in ("RET", "ENVID")):
            self.syntax_error("Duplicate RET or ENVID parameter")
            return False
        if "RET" in params and (params["RET"] or "").upper() not in ("FULL", "HDRS"):
            self.syntax_error("Bad RET parameter syntax")
            return False
        if "ENVID" in params and not self._printable_xtext(params["ENVID"]):
            self.syntax_error("Bad ENVID parameter syntax")
            return False
        return True

    @staticmethod
    def _printable_xtext(value: str | None) -> bool:
        if value is None or not value or not wire.is_xtext(value):
            return False
        return all(32 <= b <= 126 for b in wire.xtext_decode(value))

    def _rcpt_extension_params(self, parsed: wire.MailArgument) -> bool:
        params = parsed.params
        if self._utf8_refused(parsed.path, 553, "SMTPUTF8" in self.mail_params):
            return False
        dsn = [k for k in ("NOTIFY", "ORCPT") if k in params]
        if dsn and DSN_NOTIFY_REFUSED in self.b:
            self.reply(555, "NOTIFY/ORCPT not accepted", "5.5.4")
            return False
        if DSN_RCPT_LENIENT in self.b:
            return True
        if any(k in parsed.duplicates for k in ("NOTIFY", "ORCPT")):
            self.syntax_error("Duplicate NOTIFY or ORCPT parameter")
            return False
        if "NOTIFY" in params:
            # RFC 822 "1#element": null elements between commas are allowed, at least one must be there.
            words = [w.strip() for w in (params["NOTIFY"] or "").upper().split(",") if w.strip()]
            if (
                not words
                or not all(w in ("NEVER", "SUCCESS", "FAILURE", "DELAY") for w in words)
                or ("NEVER" in words and len(words) > 1)
            ):
                self.syntax_error("Bad NOTIFY parameter syntax")
                return False
        if "ORCPT" in params:
            kind, semi, xtext = (params["ORCPT"] or "").partition(";")
            if not semi or not re.fullmatch(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+", kind) or not wire.is_xtext(xtext):
                self.syntax_error("Bad ORCPT parameter syntax")
                return False
        return True

    async def _read_exact(self, n: int) -> bytes:
        buf = self.parser.take_pending()
        while len(buf) < n:
            data = await self._read()
            if not data:
                raise _Close
            buf += data
        self.parser.feed(buf[n:])
        return buf[:n]

    async def do_BDAT(self, arg: str) -> None:
        try:
            size, last = wire.parse_bdat(arg)
        except RemoteProtocolError:
            if BDAT_BAD_SIZE_WAITS in self.b:
                await self._read_exact(1 << 40)  # everything that follows is "chunk data"
            if BDAT_BAD_SIZE_500 in self.b:
                self.reply(500, "Syntax error", "5.5.2")
            else:
                self.syntax_error("Syntax: BDAT chunk-size [LAST]")
            return
        in_transaction = self.mail_from is not None and bool(self.rcpts)
        if not in_transaction:
            lenient = BDAT_NO_TRANSACTION_OK in self.b or (BDAT_AFTER_LAST_OK in self.b and self.bdat_last_done)
            if BDAT_FAIL_NO_DISCARD not in self.b or lenient:
                # RFC 3030 2: accept and discard the chunk before the error reply.
                await self._read_exact(size)
            if lenient:
                self.reply(250, f"{size} octets received", "2.0.0")
            else:
                self.bad_sequence("No mail transaction for BDAT" if self.mail_from is None else "Need RCPT command")
            return
        chunk = await self._read_exact(max(0, size - 2) if BDAT_OFF_BY_TWO in self.b and size else size)
        if self.bdat is None:
            self.bdat = bytearray()
        self.bdat += chunk
        if len(self.bdat) > self.cfg.max_size:
            self.reply(552, "Message size exceeds fixed limit", "5.3.4")
            self.reset()
            return
        if not last:
            self.reply(250, f"{size} octets received", "2.0.0")
            return
        message = bytes(self.bdat)
        if BDAT_UNSTUFFS in self.b:
            message = b"\r\n".join(ln[1:] if ln.startswith(b".") else ln for ln in message.split(b"\r\n"))
        if BDAT_BINARY_MANGLED in self.b:
            message = re.sub(rb"(?<!\r)\n", b"\r\n", message).replace(b"\0", b"")
        self._deliver(message)
        self.bdat = None
        self.bdat_last_done = True

    def _extra_endings(self) -> tuple[bytes, ...]:
        pairs = {
            BARE_LF_DATA_END: "lf-dot-lf",
            LF_DOT_CRLF_END: "lf-dot-crlf",
            CR_DOT_CR_END: "cr-dot-cr",
            CR_DOT_CRLF_END: "cr-dot-crlf",
            CRLF_DOT_LF_END: "crlf-dot-lf",
            CRLF_DOT_CR_END: "crlf-dot-cr",
            LF_DOT_CR_END: "lf-dot-cr",
            CR_DOT_LF_END: "cr-dot-lf",
            NUL_DOT_END: "crlf-nul-dot-crlf",
        }
        return tuple(wire.SMUGGLING_ENDINGS[v] for k, v in pairs.items() if k in self.b)

    def _looping(self, message: bytes) -> bool:
        """RFC 5321 6.3: refuse (and say so) a message with more Received lines than the threshold."""
        limit = None if NO_LOOP_DETECTION in self.b else 30 if RECEIVED_LIMIT_30 in self.b else 100
        head = message.partition(b"\r\n\r\n")[0]
        hops = sum(ln[:9].lower() == b"received:" for ln in head.split(b"\r\n"))
        if limit is None or hops <= limit:
            return False
        # LMTP answers once per recipient (RFC 2033 4.2); 5.4.6 is "routing loop detected" (RFC 3463).
        for _ in range(len(self.rcpts) if self.cfg.mode == "lmtp" else 1):
            self.reply(554, f"Too many hops: {hops} Received lines", "5.4.6")
        self.reset()
        return True

    def _deliver(self, message: bytes) -> None:
        final = [
            c
            for b, c in ((FINAL_554, 554), (FINAL_451, 451), (FINAL_459, 459), (FINAL_559, 559), (FINAL_650, 650))
            if b in self.b
        ]
        if final:
            status = {4: "4.3.0", 5: "5.6.0"}.get(final[0] // 100)
            self.reply(final[0], "Message refused", status)
            self.reset()
            return
        if self._looping(message):
            return
        if HEADER_UNFOLDS in self.b:
            head, sep, body = message.partition(b"\r\n\r\n")
            message = re.sub(rb"\r\n([ \t])", rb"\1", head) + sep + body
        if DATA_NO_DOTS in self.b:
            message = b"\r\n".join(b"." + ln if ln.startswith(b".") else ln for ln in message.split(b"\r\n"))
        if DATA_TRUNCATE_LONG in self.b:
            message = b"\r\n".join(ln[:996] for ln in message.split(b"\r\n"))
        if BARE_LF_DATA_LINES in self.b or BARE_CR_DATA_LINES in self.b:
            # Within a CRLF-delimited line every LF and CR is bare; the defect unstuffs after it.
            lone = b"\n" if BARE_LF_DATA_LINES in self.b else b"\r"
            message = b"\r\n".join(ln.replace(lone + b".", lone) for ln in message.split(b"\r\n"))
        if DATA_STRIPS_CONTROLS in self.b:
            keep = {9, 10, 13}
            message = bytes(c for c in message if c >= 32 or c in keep)

        if EIGHTBIT_STRIPPED in self.b:
            message = bytes(c & 0x7F for c in message)
        trace = b""
        if DATA_NO_RECEIVED not in self.b:
            proto = {"lmtp": "LMTP", "submission": "ESMTPA"}.get(self.cfg.mode, "ESMTP")
            if self.tls and self.cfg.mode != "lmtp":
                proto += "S"
            literal = "" if RECEIVED_NO_LITERAL in self.b else f" ({self._client_literal()})"
            source = "" if RECEIVED_NO_FROM in self.b else f"from {self.helo_name or 'unknown'}{literal}\r\n\t"
            trace = (
                f"Received: {source}by {self.cfg.hostname} with {proto};\r\n\t{formatdate(time.time())}\r\n"
            ).encode()
        if RECEIVED_DROPPED in self.b:
            head, sep, body = message.partition(b"\r\n\r\n")
            kept = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"received:")]
            message = b"\r\n".join(kept) + sep + body
        if RECEIVED_APPENDED in self.b:
            head, sep, body = message.partition(b"\r\n\r\n")
            message, trace = head + b"\r\n" + trace.rstrip(b"\r\n") + sep + body, b""
        sender = self.mail_from.mailbox if self.mail_from else ""
        if NO_RETURN_PATH not in self.b:
            # RFC 5321 4.4: the final delivery inserts the return-path, the reverse-path as it came.
            local, at, domain = sender.rpartition("@")
            shown = local.lower() + at + domain if RETURN_PATH_LOWERCASE in self.b else sender
            trace = f"Return-Path: <{shown}>\r\n".encode() + trace
        full = self.cfg.full_mailboxes
        failed_any = any(acct is not None and acct.user in full for _, acct in self.rcpts)
        delivered: list[tuple[str, bool]] = []
        for address, acct in self.rcpts:
            ok = acct is None or acct.user not in full  # a full mailbox takes nothing
            rolled_back = LMTP_ROLLBACK in self.b and failed_any
            if ok and acct is not None and DATA_DISCARDS not in self.b and not rolled_back:
                self.store.deliver(acct, trace + message, sender)
            delivered.append((address, ok))
        if self.cfg.mode == "lmtp":
            # RFC 2033 4.2: one reply per successful RCPT, in order, each about its own recipient.
            if LMTP_FAIL_ALL in self.b and failed_any:
                delivered = [(address, False) for address, _ in delivered]
            if LMTP_SINGLE_REPLY in self.b:
                delivered = delivered[:1]
            if LMTP_REVERSE_ORDER in self.b:
                delivered.reverse()
            for address, ok in delivered:
                if ok:
                    self.reply(250, f"<{address}> delivered", "2.0.0")
                else:
                    self.reply(452, f"<{address}> mailbox full, try again later", "4.2.2")
            for _ in range(self.refused if LMTP_REPLY_REFUSED in self.b else 0):
                self.reply(550, "No such user here", "5.1.1")
        else:
            self.reply(200 if DATA_FINAL_WRONG in self.b else 250, f"OK queued as {time.time_ns():x}", "2.0.0")
        if DATA_TRANSACTION_KEPT not in self.b:
            self.reset()
        else:
            self.mail_from = None

    async def do_RSET(self, arg: str) -> None:
        if arg and ARGS_IGNORED not in self.b:
            self.syntax_error("RSET takes no parameters")
            return
        if RSET_NOOP not in self.b and not (BDAT_RSET_KEEPS in self.b and self.bdat is not None):
            self.reset()
            self.bdat_last_done = False
        code = 650 if REPLY_CODE_RANGE in self.b else 200 if RSET_200 in self.b else 250
        self.reply(code, "OK", "2.0.0")
        if RSET_CLOSES in self.b:
            raise _Close

    async def do_NOOP(self, arg: str) -> None:
        if NOOP_WRONG in self.b:
            self.reply(500, "Command not recognized", "5.5.1")
        elif arg and NOOP_REJECTS_ARG in self.b:
            self.syntax_error("NOOP takes no parameters")
        else:
            if NOOP_RESETS in self.b:
                self.reset()
            if REPLY_CODE_4_DIGITS in self.b:
                self.out.append(b"2500 OK\r\n")
                return
            self.reply(250, "OK", "2.0.0")
            if DOUBLE_REPLY in self.b:
                self.reply(250, "OK", "2.0.0")

    async def do_QUIT(self, arg: str) -> None:
        if arg and ARGS_IGNORED not in self.b:
            self.syntax_error("QUIT takes no parameters")
            return
        if SLOW_QUIT in self.b:
            # A client that closes without waiting for the 221 shows here (the wire log notes it).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.reader.read(1), 0.5)
        if QUIT_NO_221 in self.b:
            self.reply(250, "Bye", "2.0.0")
        else:
            self.reply(221, f"{self.cfg.hostname} closing connection", "2.0.0")
        if QUIT_STAYS_OPEN not in self.b:
            raise _Close

    async def do_VRFY(self, arg: str) -> None:
        if VRFY_UNIMPLEMENTED in self.b:
            self.reply(500, "Command not recognized", "5.5.1")
            return
        if not arg:
            self.syntax_error("VRFY needs an argument")
            return
        if VRFY_LIES in self.b:
            self.reply(250, f"<{arg.strip('<>')}>", "2.1.5")
            return
        if VRFY_ALWAYS_550 in self.b:
            self.reply(550, "No such user", "5.1.1")
            return
        if VRFY_UTF8_REPLY in self.b and not arg.isascii():
            self.reply(250, f"<{arg.split(' ')[0].strip('<>')}>", "2.1.5")
            return
        name = arg.strip("<>")
        if VRFY_250_BARE in self.b and self.store.resolve(name if "@" in name else f"{name}@{self.store.domain}"):
            self.reply(250, "OK", "2.1.5")
            return
        # RFC 5321 3.5.3: 252 when the server will not verify but will accept.
        self.reply(252, "Cannot VRFY user, but will accept message and attempt delivery", "2.0.0")

    async def do_HELP(self, arg: str) -> None:
        if HELP_WRONG in self.b:
            self.reply(250, "OK", "2.0.0")
            return
        if HELP_502 in self.b:
            self.reply(502, "HELP not implemented", "5.5.1")
            return
        self.reply(
            214,
            "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS AUTH",
            "2.0.0",
            "See RFC 5321",
        )

    async def do_STARTTLS(self, arg: str) -> None:
        if self.cfg.implicit_tls and IMPLICIT_TLS_STARTTLS in self.b:
            self.reply(220, "Ready to start TLS", "2.0.0")
            return
        if self.cfg.tls is None or (self.tls and STARTTLS_ADVERTISED_AFTER not in self.b):
            self.reply(502 if self.cfg.tls is None else 503, "STARTTLS not available", "5.5.1")
            return
        if arg and STARTTLS_ARG_OK not in self.b:
            self.syntax_error("STARTTLS takes no parameters")
            return
        if STARTTLS_454 in self.b:
            self.reply(454, "TLS not available due to temporary reason", "4.7.0")
            return
        self.reply(250 if STARTTLS_WRONG_CODE in self.b else 220, "Ready to start TLS", "2.0.0")
        if STARTTLS_EXTRA_REPLY in self.b:
            self.out.append(b"250 2.0.0 injected before TLS: take this as the reply to your next command\r\n")
        await self.flush()
        injected = self.parser.take_pending()

        try:
            await self.writer.start_tls(self.cfg.tls)
        except (ssl.SSLError, ConnectionError, OSError):
            raise _Close from None
        self.tls = True
        if STARTTLS_INJECTION in self.b and injected:
            self.parser.feed(injected)
        # RFC 3207 4.2: discard all knowledge obtained from the client.
        if STARTTLS_KEEPS_STATE not in self.b:
            self.greeted = None
            self.helo_name = ""  # "the argument to the EHLO command" is part of that knowledge
            self.user = None
            self.reset()

    async def do_AUTH(self, arg: str) -> None:
        if self.cfg.mode == "lmtp" or not any(e.startswith("AUTH ") for e in self.extensions()):
            self.reply(503 if self.cfg.mode != "lmtp" else 500, "AUTH not available", "5.5.1")
            return
        if self.greeted is None:
            self.bad_sequence("Send EHLO first")
            return
        if self.user is not None and AUTH_ALLOWS_SECOND not in self.b:
            self.bad_sequence("Already authenticated")
            return
        if self.mail_from is not None and AUTH_IN_TRANSACTION not in self.b:
            self.bad_sequence("AUTH not allowed during a mail transaction")
            return
        mech, _, initial = arg.partition(" ")
        mech = mech.upper()
        if not mech:
            self.syntax_error("AUTH needs a mechanism")  # a syntax error, not an unknown mechanism (504)
            return
        offered = next((e.split()[1:] for e in self.extensions() if e.startswith("AUTH ")), [])
        if (CAPS_CHANGE_AFTER_TLS in self.b or AUTH_LOGIN_ONLY in self.b) and mech not in offered:
            self.reply(504, "Unrecognized authentication type", "5.5.4")
            return
        if mech not in ("PLAIN", "LOGIN"):
            if AUTH_UNKNOWN_MECH in self.b:
                self.reply(535, "Authentication failed", "5.7.8")
            else:
                self.reply(
                    504, "Unrecognized authentication type", "5.7.8" if AUTH_MECH_ENHANCED in self.b else "5.5.4"
                )
            return
        if AUTH_538_CLEARTEXT in self.b and not self.tls:
            self.reply(538, "Encryption required for requested authentication mechanism", "5.7.11")
            return
        if AUTH_PLAIN_NEEDS_INITIAL in self.b and mech == "PLAIN" and not initial:
            self.syntax_error("PLAIN needs an initial response")
            return
        try:
            if mech == "PLAIN":
                response = initial if initial else await self._challenge("")
                if response is None:
                    return
                raw = self._b64(response)
                if raw is None:
                    return
                parts = raw.split(b"\0")
                if len(parts) != 3:
                    self.syntax_error("Malformed PLAIN response")
                    return
                user, password = parts[1].decode("utf-8", "replace"), parts[2].decode("utf-8", "replace")
            else:
                u = initial if initial else await self._challenge("VXNlcm5hbWU6")
                if u is None:
                    return
                u_raw = self._b64(u)
                if u_raw is None:
                    return
                p = await self._challenge("UGFzc3dvcmQ6")
                if p is None:
                    return
                p_raw = self._b64(p)
                if p_raw is None:
                    return
                user, password = u_raw.decode("utf-8", "replace"), p_raw.decode("utf-8", "replace")
        except _Close:
            raise
        if self.store.check_password(user, password) or AUTH_ACCEPTS_ANY in self.b:
            self.user = user
            if AUTH_WRONG_SUCCESS in self.b:
                self.reply(250, "Authenticated", "2.7.0")
            else:
                self.reply(235, "Authentication successful", "2.7.0")
        else:
            self.reply(535, "Authentication credentials invalid", "5.7.8")

    def _b64(self, text: str) -> bytes | None:
        try:
            return base64.b64decode(text.strip(), validate=AUTH_B64_LENIENT not in self.b)
        except (binascii.Error, ValueError):
            if AUTH_BAD_B64_OK in self.b:
                self.reply(535, "Authentication failed", "5.7.8")
            else:
                # RFC 4954 4: "reject the AUTH command with a 501 reply (and an enhanced status code of 5.5.2)"
                self.reply(501, "Cannot decode base64 response", "5.5.4" if AUTH_BAD_B64_554 in self.b else "5.5.2")
            return None

    async def _challenge(self, challenge: str) -> str | None:
        """Send a 334 challenge and read one response line; None when the client cancelled."""
        if AUTH_CHALLENGE_TEXT in self.b:
            challenge = base64.b64decode(challenge).decode() or "Go ahead"
        self.out.append(f"334 {challenge}\r\n".encode())
        cmd = await self._next_command()
        if cmd is None:
            raise _Close
        line = cmd.raw.rstrip(b"\r\n").decode("utf-8", "replace")
        if line == "*":
            if AUTH_NO_CANCEL in self.b:
                # The defect checks "*" as a credential, which fails.
                self.reply(535, "Authentication credentials invalid", "5.7.8")
                return None
            # RFC 4954 4: the client cancels with "*"; the server MUST reject with 501.
            self.reply(501, "Authentication cancelled", "5.0.0")
            return None

        return line


class SMTPServer:
    """Binds one listener per config on a ``ServerThread``."""

    def __init__(self, store: MailStore, cfg: SMTPConfig) -> None:
        self.store = store
        self.cfg = cfg

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await SMTPSession(self.cfg, self.store, reader, writer).run()
