"""RFC 5321 6.3: loop detection by counting Received lines - a threshold of at least 100, and loops stopped."""

from email.utils import formatdate

from conformance.clients.smtp import SMTPSessions
from conformance.context import CaseContext, make_message
from conformance.delivery import fetch, has_probe
from conformance.scenario import case
from conformance.servers import smtp as srv
from conformance.verdict import check, unsupported
from conformance.wire.smtp import Reply

SMTP_ONLY = ("smtp",)
# Under the 100 of 6.3 with room for the server's own line: a long but legitimate path.
LONG_PATH = 90
# Far beyond any sensible threshold: what a message going round a trivial loop carries.
LOOPING = 300


def _send_with_hops(smtp: SMTPSessions, hops: int) -> tuple[Reply, str]:
    """A message that already carries ``hops`` Received lines; the reply to its end of data, and its token."""
    message, token = make_message(f"mailspec with {hops} Received lines")
    date = formatdate(usegmt=True)
    trace = "".join(f"Received: from hop{n}.mailspec.test by hop{n + 1}.mailspec.test; {date}\r\n" for n in range(hops))
    replies = smtp.with_recipient().data(trace.encode() + message)
    if replies[0].code != 354:
        unsupported(f"DATA was refused: {replies[0]}")
    return replies[-1], token


@case("smtp.rfc5321.6.3.loop-threshold-100", defect=srv.RECEIVED_LIMIT_30, protocols=SMTP_ONLY)
def test_long_path_not_taken_for_a_loop(smtp: SMTPSessions, case_context: CaseContext) -> None:
    final, token = _send_with_hops(smtp, LONG_PATH)
    check(
        final.code == 250,
        f"a message with {LONG_PATH} Received lines was refused: the loop threshold is under 100",
        expected="250 (a threshold of at least 100 Received lines)",
        observed=str(final),
    )
    # A server may count the hops only when it delivers from its queue, and bounce then.
    if has_probe(case_context):
        check(
            fetch(case_context, token) is not None,
            f"a message with {LONG_PATH} Received lines was accepted but never delivered (taken for a loop?)",
            expected="delivered",
            observed=f"{final}, then nothing in the mailbox",
        )


@case("smtp.rfc5321.6.3.loop-detection", defect=srv.NO_LOOP_DETECTION, protocols=SMTP_ONLY)
def test_looping_message_stopped(smtp: SMTPSessions, case_context: CaseContext) -> None:
    final, token = _send_with_hops(smtp, LOOPING)
    if final.klass != 2:
        return  # refused at the end of data: stopped here
    # Taken, then perhaps bounced from the queue: only the mailbox shows whether it went on.
    if not has_probe(case_context):
        unsupported(f"the message with {LOOPING} Received lines was accepted; its fate cannot be seen")
    check(
        fetch(case_context, token, timeout=5.0) is None,
        f"a message with {LOOPING} Received lines was accepted and delivered: no loop was detected",
        expected="refused (554 too many hops) or not passed on",
        observed=str(final),
    )
