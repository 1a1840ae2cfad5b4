#!/usr/bin/env bash
# Run mailspec's conformance suite against your server, in your CI (GitHub Actions,
# GitLab CI, or anything that runs bash). Copy this file into your repository
# (ci/run-conformance.sh in the templates) and set, in the job's environment:
#
#   MAILSPEC_TARGET          the server under test, on loopback: imap://127.0.0.1:1143,
#                            smtp://127.0.0.1:2525, pop3://..., lmtp://... (required)
#   MAILSPEC_USER            an account on it, and
#   MAILSPEC_PASSWORD        its password (never written to the reports)
#   MAILSPEC_RECIPIENT       an address the server accepts mail for (SMTP/LMTP)
#   MAILSPEC_KNOWN_FAILURES  file of '<requirement-id> <reason>' lines: FAILs you accept
#                            (default: known-failures.txt when it exists)
#   MAILSPEC_REPORT_DIR      where junit.xml, report.html, results.jsonl go
#                            (default: mailspec-report)
#   MAILSPEC_PIP_SPEC        what `pip install` gets mailspec from when the `mailspec`
#                            command is not already there: a path to a checkout, a wheel,
#                            or "mailspec @ git+https://<host>/<owner>/mailspec"
#   MAILSPEC_WAIT            seconds to wait for the server's port to open (default 60)
#   MAILSPEC_ARGS            more `mailspec run` options, e.g. "--strict -k capability"
#
# Exit status: mailspec's own: 0 no FAIL/ERROR/TIMEOUT (nor WARN with --strict) beyond
# the known failures; 1 otherwise; 2 a usage or connection error (the server never
# answered, a wrong URL). The reports are written in every case the suite ran.
set -euo pipefail

target=${MAILSPEC_TARGET:?set MAILSPEC_TARGET to your server, e.g. imap://127.0.0.1:1143}
report_dir=${MAILSPEC_REPORT_DIR:-mailspec-report}
wait_s=${MAILSPEC_WAIT:-60}
known=${MAILSPEC_KNOWN_FAILURES:-}
if [ -z "$known" ] && [ -f known-failures.txt ]; then
  known=known-failures.txt
fi

# 1. mailspec itself.
if ! command -v mailspec >/dev/null 2>&1; then
  if [ -z "${MAILSPEC_PIP_SPEC:-}" ]; then
    echo "run-conformance: mailspec is not installed and MAILSPEC_PIP_SPEC is not set" >&2
    exit 2
  fi
  echo "run-conformance: pip install $MAILSPEC_PIP_SPEC" >&2
  python3 -m pip install --quiet "$MAILSPEC_PIP_SPEC"
fi

# 2. Wait for the server's port (a server started in the background a moment ago).
hostport=${target#*://}
hostport=${hostport#*@}
hostport=${hostport%%/*}
host=${hostport%:*}
port=${hostport##*:}
if [ "$host" != "$hostport" ] && [ -n "$port" ]; then
  host=${host#[}
  host=${host%]}
  deadline=$((SECONDS + wait_s))
  until (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "run-conformance: nothing listens on $host:$port after ${wait_s}s: did the server start?" >&2
      exit 2
    fi
    sleep 1
  done
fi

# 3. The suite.
args=(run --target "$target" --report-dir "$report_dir")
[ -n "${MAILSPEC_USER:-}" ] && args+=(--user "$MAILSPEC_USER")
[ -n "${MAILSPEC_PASSWORD:-}" ] && args+=(--password "$MAILSPEC_PASSWORD")
[ -n "${MAILSPEC_RECIPIENT:-}" ] && args+=(--recipient "$MAILSPEC_RECIPIENT")
[ -n "$known" ] && args+=(--known-failures "$known")
if [ -n "${MAILSPEC_ARGS:-}" ]; then
  read -r -a extra <<<"$MAILSPEC_ARGS"
  args+=("${extra[@]}")
fi
shown=()
for a in "${args[@]}"; do
  if [ -n "${MAILSPEC_PASSWORD:-}" ] && [ "$a" = "$MAILSPEC_PASSWORD" ]; then a="<password>"; fi
  shown+=("$a")
done
echo "run-conformance: mailspec ${shown[*]}" >&2
set +e
mailspec "${args[@]}"
code=$?
set -e

# 4. What the CI publishes.
for f in junit.xml report.html; do
  if [ -f "$report_dir/$f" ]; then
    echo "run-conformance: $report_dir/$f"
  elif [ "$code" -le 1 ]; then
    echo "run-conformance: $report_dir/$f is missing after a run that finished" >&2
    code=2
  fi
done
exit "$code"
