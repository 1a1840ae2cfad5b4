"""The sans-IO SMTP codec: replies, commands, paths, DATA transparency, fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.wire import smtp as wire
from conformance.wire.errors import LocalProtocolError, ProtocolError, RemoteProtocolError


def parse_all(data: bytes, chunk: int | None = None) -> list[wire.Reply]:
    p = wire.ReplyParser()
    out = []
    pieces = [data] if chunk is None else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    for piece in pieces:
        p.feed(piece)
        while (r := p.next_reply()) is not None:
            out.append(r)
    return out


def test_single_and_multiline_replies() -> None:
    replies = parse_all(b"220 mx ready\r\n250-mx\r\n250-SIZE 100\r\n250 8BITMIME\r\n")
    assert [r.code for r in replies] == [220, 250]
    assert replies[1].lines == ("mx", "SIZE 100", "8BITMIME")
    assert not any(r.deviations for r in replies)


def test_reply_split_across_reads_is_the_same() -> None:
    data = b"250-a\r\n250-b\r\n250 c\r\n354 go\r\n"
    assert parse_all(data) == parse_all(data, chunk=1)


def test_enhanced_status_code() -> None:
    (r,) = parse_all(b"550 5.1.1 no such user\r\n")
    assert r.enhanced == "5.1.1"
    assert wire.parse_enhanced("2.0.0 ok") == (2, 0, 0)
    assert wire.parse_enhanced("ok") is None


@pytest.mark.parametrize(
    ("data", "what", "section"),
    [
        (b"250 ok\n", "bare LF", "2.3.8"),
        (b"250-a\r\n220 b\r\n", "mixes codes", "4.2.1"),
        (b"199 odd\r\n", "outside", "4.2"),
        (b"250ok\r\n", "not followed by SP", "4.2"),
        (b"250 " + b"x" * 600 + b"\r\n", "limit 512", "4.5.3.1.5"),
        (b"250 caf\xc3\xa9\r\n", "outside HT/SP", "4.2"),
    ],
)
def test_deviations_are_reported_with_position_and_section(data: bytes, what: str, section: str) -> None:
    (r,) = parse_all(b"220 hi\r\n" + data)[1:]
    matching = [d for d in r.deviations if what in d.what]
    assert matching, r.deviations
    assert matching[0].section == section
    assert matching[0].offset >= len(b"220 hi\r\n")
    assert "RFC 5321" in str(matching[0])


def test_garbage_reply_is_a_remote_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError) as e:
        parse_all(b"HTTP/1.1 400 Bad Request\r\n")
    assert e.value.deviation.section == "4.2"


def test_endless_line_hits_the_hard_limit() -> None:
    p = wire.ReplyParser()
    with pytest.raises(RemoteProtocolError):
        for _ in range(100):
            p.feed(b"2" * 1024)
            p.next_reply()


def test_encode_command_limits() -> None:
    assert wire.encode_command("MAIL", "FROM:<a@b.c>") == b"MAIL FROM:<a@b.c>\r\n"
    with pytest.raises(LocalProtocolError):
        wire.encode_command("NOOP", "x" * 600)
    assert len(wire.encode_command("NOOP", "x" * 600, check_length=False)) == 607
    with pytest.raises(LocalProtocolError):
        wire.encode_command("NOOP", "a\r\nRSET")


def test_command_parser_reports_bare_lf_and_long_lines() -> None:
    p = wire.CommandParser()
    p.feed(b"ehlo x\r\nNOOP\n" + b"NOOP " + b"y" * 600 + b"\r\n")
    c1, c2, c3 = p.next_command(), p.next_command(), p.next_command()
    assert c1 is not None and c1.verb == "EHLO" and c1.argument == "x" and not c1.deviations
    assert c2 is not None and any("bare LF" in d.what for d in c2.deviations)
    assert c3 is not None and any(d.section == "4.5.3.1.4" for d in c3.deviations)


@pytest.mark.parametrize(
    ("arg", "mailbox", "params"),
    [
        ("FROM:<>", "", {}),
        ("FROM:<a@b.example>", "a@b.example", {}),
        ("from:<a.b+c@[127.0.0.1]> SIZE=100 BODY=8BITMIME", "a.b+c@[127.0.0.1]", {"SIZE": "100", "BODY": "8BITMIME"}),
        ('FROM:<"quoted local"@b.example> SMTPUTF8', '"quoted local"@b.example', {"SMTPUTF8": None}),
        ("FROM:<@relay.example,@r2.example:a@b.example>", "a@b.example", {}),
    ],
)
def test_mail_argument_parsing(arg: str, mailbox: str, params: dict[str, str | None]) -> None:
    parsed = wire.parse_mail_argument(arg, "FROM")
    assert parsed.path.mailbox == mailbox
    assert parsed.params == params


@pytest.mark.parametrize(
    "arg", ["FROM: <a@b.c>", "FROM:a@b.c", "FROM:<a@@b.c>", "FROM:<a@b.c> =x", "TO:<a@b.c>", "FROM:<a b@c.d>"]
)
def test_mail_argument_errors(arg: str) -> None:
    with pytest.raises(RemoteProtocolError):
        wire.parse_mail_argument(arg, "FROM")


def test_null_forward_path_is_refused() -> None:
    with pytest.raises(RemoteProtocolError):
        wire.parse_mail_argument("TO:<>", "TO")


def test_format_reply() -> None:
    assert wire.format_reply(250, "a", "b") == b"250-a\r\n250 b\r\n"
    assert wire.format_reply(354) == b"354\r\n"


def receive(stuffed: bytes, endings: tuple[bytes, ...] = (), chunk: int = 0) -> tuple[wire.DataResult, bytes]:
    r = wire.DataReceiver(max_size=1 << 20, extra_endings=endings)
    pieces = [stuffed] if not chunk else [stuffed[i : i + chunk] for i in range(0, len(stuffed), chunk)]
    for piece in pieces:
        done = r.feed(piece)
        if done is not None:
            return done
    raise AssertionError("end of data not found")


def test_dot_stuffing_round_trip() -> None:
    msg = b"Subject: x\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n"
    stuffed = wire.dot_stuff(msg)
    assert b"\r\n..leading dot\r\n...two\r\n..\r\n" in stuffed
    result, rest = receive(stuffed + b"QUIT\r\n")
    assert result.message == msg
    assert rest == b"QUIT\r\n"


def test_empty_message_and_missing_final_crlf() -> None:
    assert receive(b".\r\n")[0].message == b""
    assert wire.dot_stuff(b"no newline") == b"no newline\r\n.\r\n"


def test_data_deviations_and_line_length() -> None:
    result, _ = receive(b"a\nb\r\nc\rd\r\n" + b"x" * 1200 + b"\r\n.\r\n")
    whats = " ".join(d.what for d in result.deviations)
    assert "bare LF" in whats and "bare CR" in whats and "limit 1000" in whats
    assert result.longest_line == 1202


@pytest.mark.parametrize("name", sorted(wire.SMUGGLING_ENDINGS))
def test_strict_receiver_ignores_every_smuggling_ending(name: str) -> None:
    ending = wire.SMUGGLING_ENDINGS[name]
    payload = b"first\r\n" + ending + b"MAIL FROM:<x@y.z>\r\n.\r\n"
    strict, _ = receive(payload)
    assert b"MAIL FROM" in strict.message  # one message: the smuggled part stays inside it
    lax, rest = receive(payload, endings=(ending,))
    assert b"MAIL FROM" not in lax.message and rest.startswith(b"MAIL FROM")


def test_oversized_data_is_read_to_the_end_but_not_kept() -> None:
    r = wire.DataReceiver(max_size=100)
    assert r.feed(b"x" * 5000) is None
    done = r.feed(b"\r\n.\r\nQUIT\r\n")
    assert done is not None and r.exceeded and done[1] == b"QUIT\r\n"


messages = st.lists(st.binary(max_size=80).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")), max_size=20).map(
    lambda lines: b"".join(line + b"\r\n" for line in lines)
)


@given(messages, st.integers(min_value=1, max_value=50))
@settings(max_examples=300, deadline=None)
def test_transparency_round_trips_any_message(msg: bytes, chunk: int) -> None:
    result, rest = receive(wire.dot_stuff(msg), chunk=chunk)
    assert result.message == msg and rest == b""


@given(st.binary(max_size=2000), st.integers(min_value=1, max_value=64))
@settings(max_examples=500, deadline=None)
def test_fuzz_reply_parser_only_raises_protocol_errors(data: bytes, chunk: int) -> None:
    p = wire.ReplyParser()
    try:
        for i in range(0, len(data), chunk):
            p.feed(data[i : i + chunk])
            while p.next_reply() is not None:
                pass
    except ProtocolError:
        pass


@given(st.binary(max_size=2000))
@settings(max_examples=500, deadline=None)
def test_fuzz_command_side_only_raises_protocol_errors(data: bytes) -> None:
    p = wire.CommandParser()
    p.feed(data)
    try:
        while (c := p.next_command()) is not None:
            for prefix in ("FROM", "TO"):
                with contextlib.suppress(ProtocolError):
                    wire.parse_mail_argument(c.argument, prefix)
    except ProtocolError:
        pass
    r = wire.DataReceiver(max_size=500)
    r.feed(data)


# --- CHUNKING framing and xtext (RFC 3030, RFC 3461) -----------------------------


def test_parse_bdat() -> None:
    assert wire.parse_bdat("10") == (10, False)
    assert wire.parse_bdat("0 LAST") == (0, True)
    assert wire.parse_bdat("5 last") == (5, True)
    for bad in ("", "-1", "ten", "10 FIRST", "10  LAST", "1 LAST x"):
        with pytest.raises(RemoteProtocolError):
            wire.parse_bdat(bad)


def test_bdat_chunks_cover_the_message_exactly() -> None:
    msg = b"Subject: x\r\n\r\nbody\r\n"
    assert wire.bdat_chunk(b"abc", last=True) == b"BDAT 3 LAST\r\nabc"
    assert wire.bdat_chunks(msg, []) == [b"BDAT %d LAST\r\n" % len(msg) + msg]
    chunks = wire.bdat_chunks(msg, [4, 4], empty_last=True)
    assert chunks[-1] == b"BDAT 0 LAST\r\n"
    data = b""
    for c in chunks:
        head, _, rest = c.partition(b"\r\n")
        size = int(head.split()[1])
        assert len(rest) == size
        data += rest
    assert data == msg


def test_xtext_round_trip() -> None:
    assert wire.xtext_encode("a+b=c d") == "a+2Bb+3Dc+20d"
    assert wire.xtext_encode(b"\x00\xff") == "+00+FF"
    for text in ("plain", "a+b=c d", "ü", "user@example.com"):
        assert wire.xtext_decode(wire.xtext_encode(text)) == text.encode("utf-8")
    assert wire.is_xtext("") and wire.is_xtext("a+2B")
    for bad in ("a+2b", "a+ZZ", "a=b", "a b", "a+2"):
        assert not wire.is_xtext(bad)
        with pytest.raises(RemoteProtocolError):
            wire.xtext_decode(bad)


def test_repeated_parameters_are_reported() -> None:
    arg = wire.parse_mail_argument("FROM:<a@b.test> RET=FULL ret=HDRS ENVID=x", "FROM")
    assert arg.params == {"RET": "HDRS", "ENVID": "x"}
    assert arg.duplicates == ("RET",)
