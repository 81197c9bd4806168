#!/usr/bin/env bash
# End to end on a real kind cluster (kind-config.yaml: a control plane and a worker). Where kind, kubectl or Docker
# is missing it says so in one line and exits 0. Otherwise: create the cluster, install the reference plugins the kind
# node image lacks (it ships host-local, loopback, ptp, portmap), start a pod on each node, attach eth1 to both over
# macvlan on the nodes' eth0 (198.18.210.0/24), ping across nodes, detach, check nothing is left; then the same from
# a "laptop" (no Docker: through agent pods, with --runtime agent and with the defaults); delete the cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

for tool in kind kubectl docker; do
  if ! command -v "$tool" >/dev/null 2>&1; then echo "kind e2e: skipped: $tool is not installed here"; exit 0; fi
done
if ! docker version >/dev/null 2>&1; then echo "kind e2e: skipped: no Docker engine answers"; exit 0; fi
[[ -f dist/bundle/attach.js ]] || npm ci --no-audit --no-fund --loglevel=error

cluster=cni-attach-e2e
kubeconfig=$(mktemp /tmp/cni-attach-kind.XXXXXX)
net=$(mktemp /tmp/cni-attach-kind-net.XXXXXX)
cleanup() {
  set +e
  kind delete cluster --name "$cluster" >/dev/null 2>&1
  rm -f "$kubeconfig" "$net" "$net".*
}
trap cleanup EXIT

kind create cluster --name "$cluster" --config kind-config.yaml --kubeconfig "$kubeconfig" --wait 120s
export KUBECONFIG=$kubeconfig PATH="$root/bin:$PATH"
nodes=$(kubectl get nodes -o jsonpath='{.items[*].metadata.name}')
for n in $nodes; do
  # the plugins kubelet's CNI (kindnet) does not need, from the node image's own Debian
  docker exec "$n" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containernetworking-plugins >/dev/null'
done

i=0
for n in $nodes; do
  i=$((i + 1))
  kubectl run "e2e-$i" --image=busybox:1.36 --restart=Never --overrides="{\"spec\":{\"nodeName\":\"$n\",\"tolerations\":[{\"operator\":\"Exists\"}]}}" -- sleep 3600
done
kubectl wait --for=condition=Ready pod/e2e-1 pod/e2e-2 --timeout=120s

# each node's host-local allocates on its own, so each pod's node gets its own slice of the subnet
for i in 1 2; do
  cat >"$net.$i" <<JSON
{ "cniVersion": "1.0.0", "name": "e2e-macvlan", "type": "macvlan", "master": "eth0", "mode": "bridge",
  "ipam": { "type": "host-local", "ranges": [[{ "subnet": "198.18.210.0/24", "rangeStart": "198.18.210.${i}0", "rangeEnd": "198.18.210.${i}9" }]] } }
JSON
  kubectl cni-attach "e2e-$i" --ifname eth1 --conf "$net.$i" --runtime kind --cni-path /usr/lib/cni:/opt/cni/bin
done
a2=$(kubectl exec e2e-2 -- ip -4 -o addr show dev eth1 | awk '{print $4}' | cut -d/ -f1)
kubectl exec e2e-1 -- ping -c 3 -W 2 "$a2"
kubectl get pod e2e-1 -o jsonpath='{.metadata.annotations.k8s\.v1\.cni\.cncf\.io/network-status}'; echo
kubectl cni-list -A
for p in e2e-1 e2e-2; do kubectl cni-detach "$p" --ifname eth1; done
for p in e2e-1 e2e-2; do
  if kubectl exec "$p" -- ip link show eth1 >/dev/null 2>&1; then echo "kind e2e: FAILED: eth1 still in $p" >&2; exit 1; fi
done
for n in $nodes; do
  left=$(docker exec "$n" sh -c 'ls /var/lib/cni/results 2>/dev/null | grep e2e-macvlan || true')
  if [[ -n $left ]]; then echo "kind e2e: FAILED: cache left on $n: $left" >&2; exit 1; fi
done

# The laptop case: a kubeconfig and no Docker (DOCKER_HOST points nowhere). Pod 1 with --runtime agent, pod 2 with the
# defaults (--runtime auto finds no runtime here and reaches the node through an agent pod by itself); net1 over the
# same macvlan, in slices of their own; ping; detach; no agent pod left.
for i in 1 2; do
  sed -e "s/198.18.210.${i}0/198.18.210.$((i + 2))0/" -e "s/198.18.210.${i}9/198.18.210.$((i + 2))9/" "$net.$i" >"$net.far$i"
done
laptop() { DOCKER_HOST=unix:///nonexistent/docker.sock CONTAINERD_ADDRESS=/nonexistent/containerd.sock "$@"; }
laptop kubectl cni-attach e2e-1 --ifname net1 --conf "$net.far1" --runtime agent --cni-path /usr/lib/cni:/opt/cni/bin -v
laptop kubectl cni-attach e2e-2 --ifname net1 --conf "$net.far2" --cni-path /usr/lib/cni:/opt/cni/bin
b2=$(kubectl exec e2e-2 -- ip -4 -o addr show dev net1 | awk '{print $4}' | cut -d/ -f1)
kubectl exec e2e-1 -- ping -c 3 -W 2 "$b2"
laptop kubectl cni-detach e2e-1 --ifname net1 --runtime agent
laptop kubectl cni-detach e2e-2 --ifname net1
for p in e2e-1 e2e-2; do
  if kubectl exec "$p" -- ip link show net1 >/dev/null 2>&1; then echo "kind e2e: FAILED: net1 still in $p (laptop case)" >&2; exit 1; fi
done
kubectl wait --for=delete pod -n kube-system -l app.kubernetes.io/name=cni-attach-agent --timeout=60s 2>/dev/null || true
left=$(kubectl get pods -n kube-system -l app.kubernetes.io/name=cni-attach-agent -o name)
if [[ -n $left ]]; then echo "kind e2e: FAILED: agent pods left: $left" >&2; exit 1; fi
echo "kind e2e: OK"
