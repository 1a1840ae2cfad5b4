"""junit.xml from the results, in the shape Jenkins, GitLab and GitHub reporters read.

One testsuite per protocol; a testcase per case with classname from its
requirement (``smtp.rfc5321.4_1_1``); FAIL/TIMEOUT as <failure>, ERROR as
<error>, UNSUPPORTED as <skipped>; WARN and INFO pass with a note in system-out
(or fail as <failure> under --strict for WARN).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite

from .. import requirements
from .results import CaseResult

# XML 1.0 forbids most control characters; a hostile server's bytes end up in transcripts.
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def classname(result: CaseResult) -> str:
    req_id = result.requirements[0] if result.requirements else ""
    try:
        return requirements.get(req_id).classname
    except requirements.CatalogError:
        return result.protocol


def write_junit(results: list[CaseResult], path: Path, *, strict: bool = False) -> None:
    suites: dict[str, TestSuite] = {}
    cases: dict[str, list[TestCase]] = defaultdict(list)
    for r in results:
        name = r.case.split("::")[-1] + (f"[{r.target}]" if r.target else "")
        if r.variant:
            name += f"[{r.variant}]"
        tc = TestCase(xml_safe(name), classname(r), r.duration_s)
        text = xml_safe(f"{r.verdict}: {r.message}" if r.message else r.verdict)
        detail = xml_safe(
            "\n".join(
                x
                for x in (
                    f"expected: {r.expected}" if r.expected else "",
                    f"observed: {r.observed}" if r.observed else "",
                    f"requirements: {', '.join(r.requirements)}",
                )
                if x
            )
        )
        if r.known_failure:
            tc.result = [Skipped(f"known failure: {text}")]
        elif r.verdict in ("FAIL", "TIMEOUT") or (strict and r.verdict == "WARN"):
            f = Failure(text, r.verdict)
            f.text = detail
            tc.result = [f]
        elif r.verdict == "ERROR":
            e = Error(text, "ERROR")
            e.text = detail
            tc.result = [e]
        elif r.verdict == "UNSUPPORTED":
            tc.result = [Skipped(text)]
        tc.system_out = f"verdict: {r.verdict}\n{detail}\n\n{xml_safe(r.transcript)}"
        cases[r.protocol].append(tc)
    xml = JUnitXml("mailspec")
    for proto, tcs in sorted(cases.items()):
        suite = suites.setdefault(proto, TestSuite(f"mailspec.{proto}"))
        for tc in tcs:
            suite.add_testcase(tc)
        suite.update_statistics()  # type: ignore[no-untyped-call]
        xml.add_testsuite(suite)
    xml.update_statistics()  # type: ignore[no-untyped-call]
    xml.write(str(path), pretty=True)
