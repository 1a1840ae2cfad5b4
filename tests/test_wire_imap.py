"""The sans-IO IMAP codec: responses, literals, commands, sequence sets, modified UTF-7, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.wire import imap
from conformance.wire.errors import LocalProtocolError, ProtocolError, RemoteProtocolError


def parse(data: bytes, chunk: int | None = None) -> list[imap.Response]:
    p = imap.ResponseParser()
    out: list[imap.Response] = []
    pieces = [data] if chunk is None else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    for piece in pieces:
        p.feed(piece)
        while (r := p.next_response()) is not None:
            out.append(r)
    return out


def test_greeting_capability_and_tagged() -> None:
    rs = parse(b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+] ready\r\n* CAPABILITY IMAP4rev2 IDLE\r\nA1 OK done\r\n")
    g, cap, tagged = rs
    assert isinstance(g, imap.Untagged) and g.name == "OK" and g.code is not None
    assert g.code.name == "CAPABILITY" and g.code.args == ("IMAP4rev1", "IMAP4rev2", "LITERAL+") and g.text == "ready"
    assert isinstance(cap, imap.Untagged) and cap.values == ("IMAP4rev2", "IDLE")
    assert isinstance(tagged, imap.Tagged) and (tagged.tag, tagged.status, tagged.text) == ("A1", "OK", "done")


def test_select_responses() -> None:
    data = (
        b"* 172 EXISTS\r\n* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
        b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n"
        b'* LIST (\\HasNoChildren) "/" INBOX\r\nA142 OK [READ-WRITE] SELECT completed\r\n'
    )
    exists, flags, uidv, perm, lst, done = parse(data)
    assert isinstance(exists, imap.Untagged) and (exists.number, exists.name) == (172, "EXISTS")
    assert isinstance(flags, imap.Untagged) and flags.values[0] == [
        "\\Answered",
        "\\Flagged",
        "\\Deleted",
        "\\Seen",
        "\\Draft",
    ]
    assert isinstance(uidv, imap.Untagged) and uidv.code is not None and uidv.code.args == ("3857529045",)
    assert (
        isinstance(perm, imap.Untagged)
        and perm.code is not None
        and perm.code.args == (["\\Deleted", "\\Seen", "\\*"],)
    )
    assert isinstance(lst, imap.Untagged) and lst.values == (["\\HasNoChildren"], b"/", "INBOX")
    assert isinstance(done, imap.Tagged) and done.code is not None and done.code.name == "READ-WRITE"


def test_fetch_with_literals_nil_and_sections() -> None:
    body = b'Subject: hi\r\n\r\nline with ) and ( and "quotes"\r\n'
    data = (
        b"* 12 FETCH (FLAGS (\\Seen) UID 4827313 BODY[HEADER.FIELDS (SUBJECT)] {3}\r\nabc BODY[]<0> {%d}\r\n"
        % len(body)
        + body
        + b' ENVELOPE (NIL "subj" (("Name" NIL "a" "b.c")) NIL NIL NIL NIL NIL NIL NIL) BINARY[1] ~{3}\r\na\x00b)\r\n'
    )
    for chunk in (None, 1, 7):
        (r,) = parse(data, chunk)
        assert isinstance(r, imap.Untagged) and r.name == "FETCH" and r.number == 12
        items = r.values[0]
        assert isinstance(items, list)
        pairs = dict(zip(items[::2], items[1::2], strict=True))
        assert pairs["UID"] == "4827313" and pairs["BODY[HEADER.FIELDS (SUBJECT)]"] == b"abc"
        assert pairs["BODY[]<0>"] == body
        env = pairs["ENVELOPE"]
        assert (
            isinstance(env, list) and env[0] is None and env[1] == b"subj" and env[2] == [[b"Name", None, b"a", b"b.c"]]
        )
        assert isinstance(pairs["BINARY[1]"], imap.Binary) and pairs["BINARY[1]"] == b"a\x00b"


def test_continuation_and_sasl() -> None:
    cont, plain = parse(b"+ dGVzdA==\r\n+ Ready for literal data\r\n")
    assert isinstance(cont, imap.Continuation) and cont.sasl_data() == b"test"
    assert isinstance(plain, imap.Continuation) and plain.sasl_data() is None


@pytest.mark.parametrize(
    ("data", "what", "section"),
    [
        (b"A1 OK done\n", "bare LF", "2.2"),
        (b"* 1 FETCH (BODY[] {2+}\r\nab)\r\n", "non-synchronizing literal", "4.3"),
        (b"A1 OK\r\n", "without text", "7.1"),
        (b"* SEARCH 1 2 \r\n", "trailing space", "9"),
        (b"* 1 FETCH (BODY[] {3}\r\na\x00b)\r\n", "NUL in a literal", "4.3"),
    ],
)
def test_deviations(data: bytes, what: str, section: str) -> None:
    (r,) = parse(data)
    found = [d for d in r.deviations if what in d.what]
    assert found and found[0].section == section, r.deviations


@pytest.mark.parametrize(
    "data",
    [
        b"A1 MAYBE done\r\n",  # status other than OK/NO/BAD
        b"* 1 FETCH (FLAGS (\\Seen)\r\n",  # unterminated list
        b"* 1 FETCH (BODY[] {5}\r\nab)\r\n* OK x\r\n",  # the literal swallows the list's end
        b'* LIST () "/" "unterminated\r\n',
        b"(bad tag\r\n",
        b"* OK [UIDVALIDITY 5 text\r\n",  # response code without ]
        b"* 1 FETCH (UID 1  FLAGS ())\r\n",  # two spaces between list items
    ],
)
def test_unparsable_responses_raise_remote_protocol_error(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        parse(data)


def test_endless_line_hits_the_hard_limit() -> None:
    p = imap.ResponseParser()
    with pytest.raises(RemoteProtocolError):
        for _ in range(100):
            p.feed(b"x" * 1024)
            p.next_response()


def test_encode_command_literals() -> None:
    assert imap.encode_command("A1", "LOGIN", "alice", 'p"w\\') == [b'A1 LOGIN "alice" "p\\"w\\\\"\r\n']
    chunks = imap.encode_command("A2", "APPEND", "INBOX", [imap.Atom("\\Seen")], b"Subject: x\r\n\r\nhi\r\n")
    assert chunks == [b'A2 APPEND "INBOX" (\\Seen) {18}\r\n', b"Subject: x\r\n\r\nhi\r\n\r\n"]
    plus = imap.encode_command("A3", "APPEND", "INBOX", b"abc", literal_plus=True)
    assert plus == [b'A3 APPEND "INBOX" {3+}\r\nabc\r\n']
    assert imap.encode_command("A4", "SELECT", "caf\u00e9") == [b"A4 SELECT {5}\r\n", "caf\u00e9\r\n".encode()]
    assert imap.encode_command("A5", "X", b"a\x00b", literal_plus=True, binary=True) == [b"A5 X ~{3+}\r\na\x00b\r\n"]
    with pytest.raises(LocalProtocolError):
        imap.encode_command("A 6", "NOOP")


def test_command_parser_asks_for_continuation_once() -> None:
    p = imap.CommandParser()
    p.feed(b"A1 APPEND INBOX (\\Seen) {5}\r\n")
    assert p.next_event() == imap.NeedContinuation(5)
    assert p.next_event() is None  # asked once
    p.feed(b"hel")
    assert p.next_event() is None
    p.feed(b"lo\r\nA2 NOOP\r\nA3 LOGIN a {1+}\r\nb\r\n")
    c1, c2, c3 = p.next_event(), p.next_event(), p.next_event()
    assert isinstance(c1, imap.Command) and c1.name == "APPEND" and c1.args == ("INBOX", ["\\Seen"], b"hello")
    assert isinstance(c2, imap.Command) and c2.name == "NOOP" and c2.args == ()
    assert isinstance(c3, imap.Command) and c3.args == ("a", b"b")  # LITERAL+: no continuation asked


def test_round_trip_commands_through_the_parser() -> None:
    p = imap.CommandParser()
    first, rest = imap.encode_command(
        "T1", "SEARCH", imap.Atom("CHARSET"), imap.Atom("UTF-8"), imap.Atom("SUBJECT"), "\u00fcber"
    )
    p.feed(first)
    assert p.next_event() == imap.NeedContinuation(5)
    p.feed(rest)
    cmd = p.next_event()
    assert isinstance(cmd, imap.Command) and cmd.args[-1] == "\u00fcber".encode()


def test_sequence_sets() -> None:
    assert imap.parse_sequence_set("1:3,5,7:*") == [(1, 3), (5, 5), (7, None)]
    assert imap.expand_sequence_set("3:1,5,7:*", 8) == [1, 2, 3, 5, 7, 8]
    assert imap.expand_sequence_set("*:4", 6) == [4, 5, 6]
    assert imap.expand_sequence_set("10:12", 6) == []
    assert imap.format_sequence_set([5, 1, 2, 3, 9, 10]) == "1:3,5,9:10"
    for bad in ("", "0", "1:0", "a", "1,,2", "1:2:3"):
        with pytest.raises(RemoteProtocolError):
            imap.parse_sequence_set(bad)


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("INBOX", "INBOX"),
        ("~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
        ("A&B", "A&-B"),
        ("Entw\u00fcrfe", "Entw&APw-rfe"),
    ],
)
def test_modified_utf7(text: str, encoded: str) -> None:
    assert imap.encode_mailbox(text) == encoded
    assert imap.decode_mailbox(encoded) == text


@pytest.mark.parametrize("bad", ["&Jjo!", "&AGE-", "&U,BTFw-&ZeVnLIqe-", "caf\u00e9", "&"])
def test_modified_utf7_rejects_what_rfc3501_forbids(bad: str) -> None:
    with pytest.raises(RemoteProtocolError) as e:
        imap.decode_mailbox(bad)
    assert e.value.deviation.section == "5.1.3"


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_modified_utf7_round_trips(text: str) -> None:
    text = "".join(c for c in text if not 0xD800 <= ord(c) <= 0xDFFF)
    assert imap.decode_mailbox(imap.encode_mailbox(text)) == text


@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=64))
@settings(max_examples=500, deadline=None)
def test_fuzz_response_parser_only_raises_protocol_errors(data: bytes, chunk: int) -> None:
    p = imap.ResponseParser()
    try:
        for i in range(0, len(data), chunk):
            p.feed(data[i : i + chunk])
            while p.next_response() is not None:
                pass
    except ProtocolError:
        pass


@given(
    st.lists(
        st.sampled_from(
            [
                b"* ",
                b"A1 ",
                b"OK ",
                b"(",
                b")",
                b"{3}\r\n",
                b"~{2}\r\n",
                b'"',
                b"\\",
                b"[",
                b"]",
                b"NIL",
                b" ",
                b"\r\n",
                b"x",
                b"\x00",
                b"{99999999999}\r\n",
            ]
        ),
        max_size=60,
    )
)
@settings(max_examples=500, deadline=None)
def test_fuzz_grammar_fragments(parts: list[bytes]) -> None:
    data = b"".join(parts)
    for parser in (imap.ResponseParser(), imap.CommandParser()):
        try:
            parser.feed(data)
            for _ in range(200):
                ev = parser.next_response() if isinstance(parser, imap.ResponseParser) else parser.next_event()
                if ev is None:
                    break
        except ProtocolError:
            pass


def test_response_code_ends_at_its_own_bracket() -> None:
    (r,) = parse(b"* NO [REFERRAL imap://[::1]/INBOX] try there\r\n")
    assert isinstance(r, imap.Untagged) and r.code is not None
    assert r.code.raw == "REFERRAL imap://[::1]/INBOX" and r.text == "try there"
    (t,) = parse(b'A1 NO [BADCHARSET ("X]Y" UTF-8)] unknown charset\r\n')
    assert isinstance(t, imap.Tagged) and t.code is not None and t.code.name == "BADCHARSET"
    assert t.code.args == ([b"X]Y", "UTF-8"],) and t.text == "unknown charset"


def test_mailbox_atom_may_hold_a_closing_bracket() -> None:
    (r,) = parse(b'* LIST () "/" odd]name\r\n')
    assert isinstance(r, imap.Untagged) and r.values[-1] == "odd]name"


def test_brace_number_at_the_end_of_status_text_is_not_a_literal() -> None:
    rs = parse(b"* OK [ALERT] see {5}\r\nA1 NO nope {3}\r\n+ more {2}\r\nA2 OK done\r\n")
    assert [type(r).__name__ for r in rs] == ["Untagged", "Tagged", "Continuation", "Tagged"]
    assert isinstance(rs[0], imap.Untagged) and rs[0].text == "see {5}"
    # ... while a data response still announces one.
    (f,) = parse(b"* 1 FETCH (BODY[] {5}\r\nHello)\r\n")
    assert isinstance(f, imap.Untagged) and f.values == (["BODY[]", b"Hello"],)
