"""report.html: self-contained, escaped, capped, and working in a real headless Chromium.

The browser tests drive Debian's chromium through chromium-driver with Selenium
(ci/install-browser installs both; `make test` calls it). They skip, naming the
reason, only where that install fails. Each writes a screenshot under its tmp
dir and copies it to reports/artifacts/.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.report.html import DEFAULT_TRANSCRIPT_CAP, esc, render_report, write_html
from conformance.report.results import CaseResult, read_results
from tests.conftest import ROOT, mailspec

ARTIFACTS = ROOT / "reports" / "artifacts"
HOSTILE = '\x00\x01\x07\x1b[31mred\x1b[0m \x7f\x85 </script><script>window.pwned=1</script> <img src=x onerror="window.pwned=2"> &amp; \ud800 "\''


# --- the browser ----------------------------------------------------------------------


def _browser_or_reason() -> str:
    """ "" when chromium and chromedriver are there (installing them if need be), else why not."""
    if shutil.which("chromium") and shutil.which("chromedriver"):
        return ""
    from filelock import FileLock

    with FileLock("/tmp/mailspec-install-browser.lock", timeout=900):
        if shutil.which("chromium") and shutil.which("chromedriver"):
            return ""
        try:
            proc = subprocess.run(
                [str(ROOT / "ci" / "install-browser")], capture_output=True, text=True, timeout=900, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"ci/install-browser could not run: {e}"
        if proc.returncode != 0:
            return f"Chromium cannot be installed here: {(proc.stderr.strip().splitlines() or ['no reason given'])[-1]}"
    return ""


def _selenium_or_reason() -> str:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return ""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    why = _selenium_or_reason() or _browser_or_reason()
    if why:
        pytest.skip(why)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1400",
    ):
        opts.add_argument(arg)
    opts.binary_location = shutil.which("chromium") or "chromium"
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(shutil.which("chromedriver") or "chromedriver"))
    try:
        yield driver
    finally:
        driver.quit()


def console_errors(driver: Any, since: list[dict[str, Any]] | None = None) -> list[str]:
    logs = (since or []) + driver.get_log("browser")
    return [f"{e['level']}: {e['message']}" for e in logs if e["level"] in ("SEVERE", "ERROR")]


def load(driver: Any, path: Path, fragment: str = "") -> list[dict[str, Any]]:
    """Open the page; return what the browser logged while loading it."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(path.resolve().as_uri() + fragment)
    logs: list[dict[str, Any]] = driver.get_log("browser")
    return logs


def screenshot(driver: Any, tmp_path: Path, name: str) -> Path:
    """A screenshot in the test's tmp dir, copied to reports/artifacts/NAME."""
    shot = tmp_path / name
    assert driver.save_screenshot(str(shot)), "screenshot failed"
    assert shot.stat().st_size > 5000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / name)
    return shot


def visible_rows(driver: Any, css: str) -> list[Any]:
    return [e for e in driver.find_elements("css selector", css) if e.is_displayed()]


def click_filter(driver: Any, kind: str, value: str) -> None:
    driver.find_element("css selector", f'.filters button[data-filter="{kind}"][data-value="{value}"]').click()


# --- results to render ----------------------------------------------------------------


def case(verdict: str, req: str, **kw: Any) -> CaseResult:
    from conformance.requirements import get

    base: dict[str, Any] = {
        "case": f"smtp/test_x.py::test_{verdict.lower()}_{req.rsplit('.', 1)[-1].replace('-', '_')}",
        "requirements": [req],
        "protocol": req.split(".")[0],
        "direction": "server",
        "level": get(req).level,
        "verdict": verdict,
        "target": "external:smtp://127.0.0.1:2525",
        "implementation": "hostile 6.6.6",
        "duration_s": 0.01,
        "transcript": "== smtp session 1\n  0.001 S: 220 ready\n  0.002 C: EHLO x\n",
    }
    base.update(kw)
    return CaseResult(**base)


def hostile_results() -> list[CaseResult]:
    from conformance.requirements import catalog

    smtp = sorted(r.id for r in catalog().values() if r.protocol == "smtp" and r.strength == "must")
    should = sorted(r.id for r in catalog().values() if r.protocol == "smtp" and r.strength == "should")
    pop3 = sorted(r.id for r in catalog().values() if r.protocol == "pop3")
    huge = "== smtp session 1\n" + "".join(f"  0.{i:03d} S: 250-{'A' * 70} line {i}\n" for i in range(40_000))
    return [
        case("PASS", smtp[0]),
        case("PASS", smtp[1]),
        case("PASS", pop3[0], protocol="pop3"),
        case(
            "FAIL",
            smtp[2],
            message=f"{smtp[2]}: server said {HOSTILE}",
            expected="a 5xx reply </script>",
            observed=HOSTILE,
            transcript="== smtp session 1\n  0.001 S: " + HOSTILE + "\n" + "</script>" * 3,
        ),
        case("FAIL", smtp[3], message=f"{smtp[3]}: known", known_failure=True),
        case("WARN", should[0], message=f"{should[0]}: should have", transcript=huge),
        case("UNSUPPORTED", smtp[4], message="not advertised"),
        case("ERROR", smtp[5], message="peer broke the exchange: " + HOSTILE, transcript=""),
        case("TIMEOUT", pop3[1], protocol="pop3", message="timeout: no reply in 0.3s"),
    ]


RUN = {
    "version": "0.1.0",
    "command": "mailspec run --target smtp://127.0.0.1:2525 </script>",
    "start": "2026-01-01T00:00:00Z",
    "end": "2026-01-01T00:01:00Z",
    "targets": [{"url": "smtp://127.0.0.1:2525", "protocol": "smtp", "peer": "", "implementation": "hostile 6.6.6"}],
}


# --- without a browser ----------------------------------------------------------------


def test_everything_is_escaped_and_self_contained() -> None:
    text = render_report(hostile_results(), RUN)
    # One script element, ours: every "</script>" from the run is escaped text.
    assert text.count("<script") == 1 and text.count("</script>") == 1
    assert "&lt;/script&gt;" in text and "<img src=x" not in text
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", text), "raw control characters in the page"
    assert "\\x00\\x01\\x07\\x1b[31mred" in text and "\\ud800" in text
    text.encode("utf-8")  # no lone surrogate survives
    # Nothing is fetched: no URL to another host, no external stylesheet or script.
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)
    assert "@import" not in text and '<link rel="stylesheet"' not in text


def test_huge_transcript_is_capped_and_says_so(tmp_path: Path) -> None:
    results = hostile_results()
    huge = next(r for r in results if len(r.transcript) > 1_000_000)
    write_html(results, tmp_path / "report.html", RUN)
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert len(text) < 200_000
    assert f"capped: {DEFAULT_TRANSCRIPT_CAP:,} of {len(huge.transcript):,} characters shown" in text
    assert "characters not shown" in text and "line 39999" in text and "line 0\n" in text
    small = tmp_path / "small.html"
    write_html(results, small, RUN, transcript_cap=1000)
    assert "capped: 1,000 of" in small.read_text(encoding="utf-8")


def test_grouped_by_protocol_rfc_and_requirement() -> None:
    from conformance.requirements import get

    results = hostile_results()
    text = render_report(results, RUN)
    for r in results:
        req = get(r.requirements[0])
        assert f'id="req-{req.id}"' in text
        assert f"RFC {req.rfc}" in text
        assert f"<blockquote>{esc(req.text)}</blockquote>" in text
    assert text.index('id="proto-pop3"') < text.index('id="proto-smtp"')
    assert "hostile@6.6.6" in text and "2026-01-01T00:00:00Z" in text
    assert "mailspec run --target smtp://127.0.0.1:2525 &lt;/script&gt;" in text
    assert "FAIL (known)" in text


# --- a real run writes it ---------------------------------------------------------------


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("htmlrun") / "run"
    proc = mailspec("run", "--report-dir", str(d), "-k", "rfc1939_session or rfc5321_ehlo", timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return d


def test_session_end_writes_report_html_beside_junit(real_run: Path) -> None:
    assert (real_run / "junit.xml").exists() and (real_run / "report.html").exists()
    text = (real_run / "report.html").read_text(encoding="utf-8")
    results = read_results(real_run / "results.jsonl")
    assert text.count('class="case"') == len(results) > 20
    assert "mailspec-embedded@" in text and "wire transcript" in text


def test_report_command_rewrites_html(real_run: Path) -> None:
    (real_run / "report.html").unlink()
    proc = mailspec("report", str(real_run), "--html", "--transcript-cap", "500")
    assert proc.returncode == 0, proc.stderr
    assert f"html: {real_run / 'report.html'}" in proc.stdout
    assert "Transcripts are capped at 500 characters" in (real_run / "report.html").read_text(encoding="utf-8")


# --- in Chromium ------------------------------------------------------------------------


def test_report_renders_and_filters_in_chromium(browser: Any, tmp_path: Path) -> None:
    results = hostile_results()
    page = tmp_path / "report.html"
    write_html(results, page, RUN)
    logs = load(browser, page)
    assert browser.title.startswith("mailspec report: hostile@6.6.6")
    rows = visible_rows(browser, "tr.case")
    assert len(rows) == len(results)
    # The hostile payloads stayed text: nothing ran, the page's own script did.
    assert browser.execute_script("return window.pwned === undefined")
    assert browser.find_element("id", "shown").text == str(len(results))
    # A verdict filter hides every other row.
    click_filter(browser, "verdict", "FAIL")
    rows = visible_rows(browser, "tr.case")
    assert len(rows) == 2 and {r.get_attribute("data-verdict") for r in rows} == {"FAIL"}
    assert browser.find_element("id", "shown").text == "2"
    assert not visible_rows(browser, "#proto-pop3"), "a protocol with no shown case is hidden"
    # Two verdicts, then a level on top.
    click_filter(browser, "verdict", "TIMEOUT")
    assert {r.get_attribute("data-verdict") for r in visible_rows(browser, "tr.case")} == {"FAIL", "TIMEOUT"}
    click_filter(browser, "verdict", "")
    click_filter(browser, "level", "SHOULD")
    rows = visible_rows(browser, "tr.case")
    assert rows and {r.get_attribute("data-level") for r in rows} == {"SHOULD"}
    click_filter(browser, "level", "")
    assert len(visible_rows(browser, "tr.case")) == len(results)
    # A transcript opens; its hostile bytes show as text.
    fail_row = browser.find_element("css selector", 'tr.case[data-verdict="FAIL"]')
    fail_row.find_element("css selector", "summary").click()
    pre = fail_row.find_element("css selector", "pre")
    assert pre.is_displayed() and "</script><script>window.pwned=1</script>" in pre.text and "\\x1b[31mred" in pre.text
    shot = screenshot(browser, tmp_path, "report-html.png")
    assert shot.exists()
    assert console_errors(browser, logs) == []


def test_anchor_opens_the_requirement_and_its_transcripts(browser: Any, tmp_path: Path) -> None:
    results = hostile_results()
    page = tmp_path / "report.html"
    write_html(results, page, RUN)
    target = results[3].requirements[0]
    logs = load(browser, page, f"#req-{target}")
    section = browser.find_element("id", f"req-{target}")
    assert section.is_displayed()
    assert all(d.get_attribute("open") is not None for d in section.find_elements("css selector", "details"))
    assert console_errors(browser, logs) == []


def test_real_run_report_in_chromium(browser: Any, real_run: Path, tmp_path: Path) -> None:
    logs = load(browser, real_run / "report.html")
    rows = visible_rows(browser, "tr.case")
    assert len(rows) == len(read_results(real_run / "results.jsonl"))
    verdicts = {r.get_attribute("data-verdict") for r in rows}
    pick = "UNSUPPORTED" if "UNSUPPORTED" in verdicts else "PASS"
    click_filter(browser, "verdict", pick)
    assert {r.get_attribute("data-verdict") for r in visible_rows(browser, "tr.case")} == {pick}
    screenshot(browser, tmp_path, "report-html-embedded.png")
    assert console_errors(browser, logs) == []
