#!/usr/bin/env bash
# The test command (`npm test`): on Debian as root it installs everything the tests need, then runs every test —
# unit tests with fakes, and integration tests against real network namespaces and the real CNI reference plugins.
# It stops what it started. Run from anywhere; CI (.ci/run) calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "test: run as root (the integration tests create network namespaces and run CNI plugins)" >&2
  exit 2
fi

# 1. Debian packages: the reference CNI plugins (in /usr/lib/cni), ip/tc, ping, nsenter, jq.
pkgs=(containernetworking-plugins iproute2 iputils-ping util-linux jq)
missing=()
for p in "${pkgs[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "test: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. npm dependencies exactly as locked (this also builds dist/ through the prepare script).
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build

# 3. Every test. vitest's own summary is printed; the last line is the plain count CI reads.
report=$(mktemp /tmp/cni-attach-vitest.XXXXXX.json)
trap 'rm -f "$report"' EXIT
set +e
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
rc=$?
set -e
if [[ -s $report ]]; then
  passed=$(jq '.numPassedTests' "$report")
  failed=$(jq '.numFailedTests' "$report")
  skipped=$(jq '.numPendingTests + .numTodoTests' "$report")
  echo "${passed} passed, ${failed} failed, ${skipped} skipped"
  if [[ $passed -eq 0 && $rc -eq 0 ]]; then echo "test: no test ran" >&2; rc=1; fi
fi
exit $rc
