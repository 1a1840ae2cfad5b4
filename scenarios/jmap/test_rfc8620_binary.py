"""RFC 8620 section 6: uploading and downloading binary data through the Session's URL templates."""

import json
import os
import re
from typing import Any

from conformance.clients.jmap import JMAPSessions
from conformance.scenario import case
from conformance.servers.jmap import core as srv
from conformance.verdict import check, unsupported
from conformance.wire import jmap as wire

TYPE = "application/x-mailspec-test"


def _upload(jmap: JMAPSessions, data: bytes, ctype: str = TYPE) -> dict[str, Any]:
    acc = _account(jmap)
    reply = jmap.main.upload(acc, data, ctype)
    check(
        reply.status in (200, 201) and isinstance(reply.json, dict),
        "the upload was not answered with a JSON object",
        expected="200 or 201 with a JSON object",
        observed=reply.summary(300),
    )
    assert isinstance(reply.json, dict)
    return reply.json


def _account(jmap: JMAPSessions) -> str:
    """Any account of the user: uploads work for every account (the mail one when there is one)."""
    primary = jmap.session().raw.get("primaryAccounts") or {}
    accounts = jmap.session().raw.get("accounts") or {}
    acc = primary.get("urn:ietf:params:jmap:mail") or next(iter(accounts), None)
    if not isinstance(acc, str):
        unsupported("the Session names no account")
    return acc


def _blob(jmap: JMAPSessions) -> tuple[str, str, bytes]:
    data = os.urandom(200) + b"\r\nmailspec\r\n" + bytes(range(256))
    got = _upload(jmap, data)
    if not wire.is_id(got.get("blobId")):
        unsupported(f"the upload gave no blobId: {json.dumps(got)[:200]}")
    return _account(jmap), str(got["blobId"]), data


@case("jmap.rfc8620.6.1.upload-response", defect=srv.UPLOAD_NO_SIZE)
def test_upload_response(jmap: JMAPSessions) -> None:
    got = _upload(jmap, b"mailspec upload\r\n")
    devs = [
        d
        for d in (
            wire.type_deviation(got.get("accountId"), "Id", "/accountId"),
            wire.type_deviation(got.get("blobId"), "Id", "/blobId"),
            wire.type_deviation(got.get("type"), "String", "/type"),
            wire.type_deviation(got.get("size"), "UnsignedInt", "/size"),
        )
        if d
    ]
    check(
        not devs,
        "the upload response lacks accountId/blobId/type/size of the right types",
        observed="; ".join(map(str, devs)),
    )


@case("jmap.rfc8620.6.1.upload-size", defect=srv.UPLOAD_SIZE_WRONG)
def test_upload_size(jmap: JMAPSessions) -> None:
    data = b"x" * 1234
    got = _upload(jmap, data)
    check(
        got.get("size") == len(data),
        "the upload size is not the number of octets sent",
        expected=str(len(data)),
        observed=str(got.get("size")),
    )


@case("jmap.rfc8620.6.1.upload-type", defect=srv.UPLOAD_TYPE_WRONG)
def test_upload_type(jmap: JMAPSessions) -> None:
    got = _upload(jmap, b"mailspec", TYPE)
    check(
        str(got.get("type", "")).split(";")[0].strip().lower() == TYPE,
        "the upload type is not the Content-Type sent",
        expected=TYPE,
        observed=str(got.get("type")),
    )


@case("jmap.rfc8620.6.2.download-data", defect=srv.DOWNLOAD_TRUNCATES)
def test_download_same_octets(jmap: JMAPSessions) -> None:
    acc, blob, data = _blob(jmap)
    resp = jmap.main.download(acc, blob, "mailspec.bin", TYPE)
    check(resp.status_code == 200, "the download of an uploaded blob failed", observed=str(resp.status_code))
    check(
        resp.content == data,
        "the download is not the octets uploaded",
        expected=f"{len(data)} octets",
        observed=f"{len(resp.content)} octets",
    )


@case("jmap.rfc8620.6.2.download-type", defect=srv.DOWNLOAD_WRONG_TYPE)
def test_download_content_type(jmap: JMAPSessions) -> None:
    acc, blob, _ = _blob(jmap)
    resp = jmap.main.download(acc, blob, "mailspec.txt", "text/x-mailspec")
    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    check(
        resp.status_code == 200 and ctype == "text/x-mailspec",
        "the download's Content-Type is not the {type} asked for",
        expected="text/x-mailspec",
        observed=f"{resp.status_code} {ctype}",
    )


@case("jmap.rfc8620.6.2.download-filename", defect=srv.DOWNLOAD_FILENAME_WRONG)
def test_download_filename(jmap: JMAPSessions) -> None:
    acc, blob, _ = _blob(jmap)
    resp = jmap.main.download(acc, blob, "mailspec-report.bin", TYPE)
    disposition = resp.headers.get("content-disposition")
    if disposition is None:
        unsupported("the download has no Content-Disposition header (the filename rule applies only with one)")
    m = re.search(r"filename\*?=(?:UTF-8'[^']*')?\"?([^\";]+)", disposition)
    check(
        m is not None and m.group(1) == "mailspec-report.bin",
        "the Content-Disposition filename is not the {name} asked for",
        expected="mailspec-report.bin",
        observed=disposition,
    )


@case("jmap.rfc8620.1.7.authenticated", defect=srv.NO_AUTH)
def test_download_needs_credentials(jmap: JMAPSessions) -> None:
    acc, blob, _ = _blob(jmap)
    url = jmap.main.download_url(acc, blob, "x.bin", TYPE)
    resp = jmap.main.request("GET", url, auth=False)
    check(
        resp.status_code in (401, 403, 404),
        "a blob was downloaded without credentials",
        expected="401",
        observed=str(resp.status_code),
    )
