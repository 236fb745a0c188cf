#!/bin/sh
# keepalived's health check (components/kubernetes/keepalived.ts): this node's own API server
# answers /readyz over TLS verified against the cluster CA. Parameters: /etc/incant/kubernetes.env.
set -eu
ENV_FILE=${1:-/etc/incant/kubernetes.env}
# shellcheck source=/dev/null
. "$ENV_FILE"
exec curl --silent --fail --max-time 4 --cacert "$K8S_DIR/pki/ca.crt" -o /dev/null "https://${NODE_ADDRESS}:${API_SERVER_PORT}/readyz"
