#!/bin/bash
# Re-creates the program's bootstrap token (same value, fresh TTL) so that workers added after
# the first day can still join: run it on the first control plane before `pulumi up` grows
# nodes.workers.count. Usage: incant-renew-join-token [TTL, default 24h]
set -euo pipefail

ENV_FILE=/etc/incant/kubernetes.env
set -a
# shellcheck source=/dev/null
. "$ENV_FILE"
set +a

ttl=${1:-24h}
token=$(grep -oE -m1 '[a-z0-9]{6}\.[a-z0-9]{16}' "$KUBEADM_CONFIG") \
    || { echo "no bootstrap token found in ${KUBEADM_CONFIG}" >&2; exit 1; }
export KUBECONFIG=/etc/kubernetes/admin.conf
kubeadm token delete "${token%%.*}" > /dev/null 2>&1 || true
kubeadm token create "$token" --ttl "$ttl" --description "INCANT node join token, renewed on $(date -u +%F)" > /dev/null
echo "bootstrap token ${token%%.*}.**************** valid for ${ttl}"
