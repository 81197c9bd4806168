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

# 1. Debian packages: the reference CNI plugins (in /usr/lib/cni), ip/tc, ping, nsenter, jq, a Docker engine and the
#    busybox-static binary the test image is made of, debootstrap for the kind-like node image; strip for x86-64 and
#    aarch64 (the release test strips the Node binaries it ships); nft (the tests of portmap's nftables backend).
source scripts/lib.sh
ensure_packages test containernetworking-plugins iproute2 iputils-ping util-linux procps jq docker.io containerd busybox-static tar debootstrap binutils binutils-aarch64-linux-gnu nftables

# 2. npm dependencies exactly as locked; this also type-checks and bundles dist/ (the prepare script).
npm ci --no-audit --no-fund --loglevel=error

# 2b. The layers of src/ (.dependency-cruiser.cjs, README "Layout"): an import across a forbidden arrow fails the test
#     command here, with the file and the rule ("error exec-not-to-resolve: src/exec/x.ts → src/resolve/y.ts").
if ! npm run --silent lint:deps; then
  echo "test: src/ imports across a forbidden arrow (see the lines above and .dependency-cruiser.cjs)" >&2
  exit 1
fi

# 3. A Docker engine for the pod tests: the one that is running, or one started here with safe flags (no iptables,
#    no masquerade, no ip_forward, no default bridge, its own directories) and stopped again at the end.
started_dockerd=""
dockerd_dir=""
stop_dockerd() {
  if [[ -n $started_dockerd ]]; then
    kill "$started_dockerd" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$started_dockerd" 2>/dev/null || true
    # containerd-shim processes of this engine's containers, if any survived
    pkill -f -- "$dockerd_dir/exec" 2>/dev/null || true
    umount -R "$dockerd_dir/data" 2>/dev/null || true
    rm -rf "$dockerd_dir"
  fi
}
trap stop_dockerd EXIT
docker_answers() { timeout 5 docker -H "$1" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if [[ -z ${DOCKER_HOST:-} ]] && docker_answers unix:///var/run/docker.sock; then
  export DOCKER_HOST=unix:///var/run/docker.sock
elif [[ -z ${DOCKER_HOST:-} ]] || ! docker_answers "$DOCKER_HOST"; then
  dockerd_dir=$(mktemp -d /tmp/cni-attach-dockerd.XXXXXX)
  dockerd --iptables=false --ip-masq=false --ip-forward=false --bridge=none \
    --data-root "$dockerd_dir/data" --exec-root "$dockerd_dir/exec" --pidfile "$dockerd_dir/dockerd.pid" \
    --host "unix://$dockerd_dir/docker.sock" >"$dockerd_dir/dockerd.log" 2>&1 &
  started_dockerd=$!
  export DOCKER_HOST="unix://$dockerd_dir/docker.sock"
  for _ in $(seq 1 200); do docker_answers "$DOCKER_HOST" && break; sleep 0.1; done
  if ! docker_answers "$DOCKER_HOST"; then
    echo "test: dockerd did not come up; its log:" >&2
    tail -20 "$dockerd_dir/dockerd.log" >&2
    stop_dockerd
    exit 1
  fi
  echo "test: started dockerd (pid $started_dockerd) at $DOCKER_HOST"
fi

# 4. The kind end-to-end run, where kind and kubectl exist (elsewhere it prints one line and exits 0).
bash test/e2e/kind.sh

# 5. Every test. vitest's own summary is printed; the last line is the plain count CI reads.
report=$(mktemp /tmp/cni-attach-vitest.XXXXXX.json)
trap 'rm -f "$report"; stop_dockerd' EXIT
set +e
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
rc=$?
set -e
if [[ -s $report ]]; then
  passed=$(jq '.numPassedTests' "$report")
  failed=$(jq '.numFailedTests' "$report")
  skipped=$(jq '.numPendingTests + .numTodoTests' "$report")
  # a test file that failed before any of its tests ran (it does not compile, its set-up threw) counts no test
  broken=$(jq '[.testResults[] | select(.status == "failed" and ((.assertionResults // []) | map(select(.status == "failed")) | length) == 0)] | length' "$report")
  more=''
  if [[ $broken -gt 0 ]]; then more=", ${broken} test file(s) failed to run"; fi
  echo "${passed} passed, ${failed} failed, ${skipped} skipped${more}"
  if [[ $passed -eq 0 && $rc -eq 0 ]]; then echo "test: no test ran" >&2; rc=1; fi
fi
exit $rc
