#!/bin/bash
# Starts keepalived on a control plane (3 control planes, components/kubernetes/keepalived.ts):
# finds the interface that holds this node's address (the image decides its name), writes it
# where keepalived.conf includes it, and (re)starts keepalived. Runs before kubeadm: the API
# address comes to this node only once its own API server answers (the health check).
# Parameters: /etc/incant/kubernetes.env.
set -euo pipefail

ENV_FILE=${1:-/etc/incant/kubernetes.env}
set -a
# shellcheck source=/dev/null
. "$ENV_FILE"
set +a

log() { echo "incant-kubernetes: $*"; logger -t incant-kubernetes -- "$*" || true; }
fail() { log "FAILED: $*"; exit 1; }

iface=$(ip -o -4 addr show to "${NODE_ADDRESS}/32" | awk '{ print $2; exit }')
[ -n "$iface" ] || fail "no network interface holds this node's address ${NODE_ADDRESS}"
install -d -m 0755 "$(dirname "$KEEPALIVED_INTERFACE_FILE")"
# keepalived.conf(5) parameter definition, used as $INTERFACE in the vrrp_instance.
# shellcheck disable=SC2016 # a literal $ for keepalived, not for the shell
printf '$INTERFACE=%s\n' "$iface" > "$KEEPALIVED_INTERFACE_FILE"
systemctl enable keepalived
systemctl restart keepalived
log "keepalived started on ${iface}: the API address ${API_VIP} stays on a control plane whose API server answers"
