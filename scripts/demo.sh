#!/usr/bin/env bash
# The demo (`npm run demo`, or `bash scripts/demo.sh`): the seed walkthrough, part 1, done by cni-attach on this host.
# Two "pods" (network namespaces), eth1 attached to each over a bridge network, the results printed, a ping between
# them, detach, and a check that nothing is left. Installs what it needs on a fresh Debian machine (run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [[ $(id -u) -ne 0 ]]; then echo "demo: run as root (it creates network namespaces)" >&2; exit 2; fi

source scripts/lib.sh
ensure_packages demo containernetworking-plugins iproute2 iputils-ping util-linux
if [[ ! -d node_modules || ! -f dist/bundle/attach.js ]]; then npm ci --no-audit --no-fund --loglevel=error; fi

# The embedded default: a bridge network on a test subnet (no gateway on the host, no masquerade).
pod_a=cni-demo-pod-a
pod_b=cni-demo-pod-b
bridge=cni-demo0
work=$(mktemp -d /tmp/cni-attach-demo.XXXXXX)
conf=$work/net.json
cat >"$conf" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "cni-demo",
  "type": "bridge",
  "bridge": "$bridge",
  "ipam": { "type": "host-local", "subnet": "198.18.100.0/24", "dataDir": "$work/ipam" }
}
JSON
export PATH="$root/bin:$PATH"
forward_before=$(sysctl -n net.ipv4.ip_forward)
# the demo keeps its CNI cache (results, intents, locks, the plugins' VERSION answers) in its own directory, not in
# this node's /var/lib/cni; a real attach leaves out --cache-dir
cache=$work/cache

cleanup() {
  set +e
  for ns in $pod_a $pod_b; do
    kubectl-cni_detach --netns /var/run/netns/$ns --ifname eth1 --cache-dir "$cache" >/dev/null 2>&1
    ip netns del $ns 2>/dev/null
  done
  ip link del $bridge 2>/dev/null
  sysctl -qw net.ipv4.ip_forward="$forward_before"
  rm -rf "$work"
}
trap cleanup EXIT
for ns in $pod_a $pod_b; do ip netns del $ns 2>/dev/null || true; done

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { step "$*"; "$@"; }

echo "cni-attach demo: two pods (network namespaces) joined over a bridge network, as in the seed walkthrough."
echo "kubectl runs kubectl-cni_attach as 'kubectl cni-attach'; here it is called by its file name."
run ip netns add $pod_a
run ip netns add $pod_b
step "cat net.json"; cat "$conf"
run kubectl-cni_attach --netns /var/run/netns/$pod_a --ifname eth1 --cache-dir "$cache" --conf "$conf"
# CHECK while the bridge has one port: the bridge plugin records the bridge's MAC, which Linux changes as ports join
run kubectl-cni_check --netns /var/run/netns/$pod_a --ifname eth1 --cache-dir "$cache"
run kubectl-cni_attach --netns /var/run/netns/$pod_b --ifname eth1 --cache-dir "$cache" --conf "$conf" -o json
run ip -n $pod_a -br addr show dev eth1
addr_b=$(ip -n $pod_b -4 -o addr show dev eth1 | awk '{print $4}' | cut -d/ -f1)
run ip netns exec $pod_a ping -c 3 -W 2 "$addr_b"
run kubectl-cni_detach --netns /var/run/netns/$pod_a --ifname eth1 --cache-dir "$cache"
run kubectl-cni_detach --netns /var/run/netns/$pod_b --ifname eth1 --cache-dir "$cache"
run kubectl-cni_detach --netns /var/run/netns/$pod_b --ifname eth1 --cache-dir "$cache"

step "verify clean"
left=0
for ns in $pod_a $pod_b; do
  if ip -n $ns link show eth1 >/dev/null 2>&1; then echo "  eth1 still in $ns"; left=1; fi
done
cached=$(grep -l '"networkName":"cni-demo"' "$cache"/results/* 2>/dev/null || true)
if [[ -n $cached ]]; then echo "  cache files left: $cached"; left=1; fi
leases=$(find "$work/ipam" -type f -name '198.18.*' 2>/dev/null)
if [[ -n $leases ]]; then echo "  IPAM leases left: $leases"; left=1; fi
if ((left)); then echo "demo: FAILED, something was left behind" >&2; exit 1; fi
echo "  no eth1 in either pod, no cache entry, no IPAM lease: clean"
echo
echo "demo: OK"
