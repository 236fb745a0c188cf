#!/bin/bash
# Keeps the OpenStack metadata service to root on this node. It serves the node's user-data (on a
# control plane: the cluster CA key, the service-account key, the encryption key), and
# host-network pods (node-exporter, the CVMFS CSI plugin) and any local user could read it;
# cloud-init and the node's own services run as root. Pods on the pod network are kept away by
# Calico (components/kubernetes/calico.ts); this covers the host's own network namespace.
# Idempotent: run at every boot by incant-metadata-guard.service, before containerd and kubelet.
# Parameters: /etc/incant/kubernetes.env (METADATA_ADDRESS).
set -euo pipefail

ENV_FILE=${1:-/etc/incant/kubernetes.env}
set -a
# shellcheck source=/dev/null
. "$ENV_FILE"
set +a

# A reset, not a silent drop: a refused client fails at once instead of timing out.
rule=(OUTPUT -d "${METADATA_ADDRESS}/32" -p tcp -m owner ! --uid-owner 0 -j REJECT --reject-with tcp-reset)
iptables -w -C "${rule[@]}" 2> /dev/null || iptables -w -I "${rule[@]}"
echo "incant-kubernetes: the metadata service ${METADATA_ADDRESS} is reachable by root only"
