#!/bin/bash
# Brings this node into the cluster: `kubeadm init` on the first control plane, `kubeadm join`
# on the others and on workers. Workers run this in parallel at first boot: a join simply retries
# until the first control plane answers. Extra control planes wait for the previous one (JOIN_AFTER).
# On failure the node is reset and tried again until DEADLINE_SECONDS, then the script fails
# with a message that says where to look. Parameters: /etc/incant/kubernetes.env.
set -euo pipefail

ENV_FILE=${1:-/etc/incant/kubernetes.env}
set -a
# shellcheck source=/dev/null
. "$ENV_FILE"
set +a

log() { echo "incant-kubernetes: $*"; logger -t incant-kubernetes -- "$*" || true; }
fail() { log "FAILED: $*"; exit 1; }

# cloud-init runs the next command even when the previous one failed: stop here with the reason.
[ -f "$STATE_DIR/node-prepared" ] \
    || fail "node setup (incant-node-setup) did not finish: its FAILED line above says why"

if [ -f "$K8S_DIR/kubelet.conf" ]; then
    log "this node already belongs to a cluster (${K8S_DIR}/kubelet.conf exists); nothing to do"
    exit 0
fi

# Control planes get the program's CA and shared keys; kubeadm reset deletes ${K8S_DIR}/pki,
# so they are restored from the copy cloud-init wrote before every attempt.
restore_pki() {
    if [ -d "$PKI_SOURCE" ]; then
        install -d -m 0700 "$K8S_DIR/pki" "$K8S_DIR/pki/etcd"
        cp -a "$PKI_SOURCE/." "$K8S_DIR/pki/"
    fi
}

attempt() {
    # (set -e does not apply inside the loop condition: check explicitly.) Without the program's CA
    # kubeadm would make its own, which no worker and not the program would trust.
    restore_pki || fail "could not copy the program's PKI from ${PKI_SOURCE} to ${K8S_DIR}/pki"
    if [ "$NODE_ROLE" != worker ] && [ ! -f "$K8S_DIR/pki/ca.key" ]; then
        fail "the program's CA is missing from ${K8S_DIR}/pki (expected from ${PKI_SOURCE})"
    fi
    case "$NODE_ROLE" in
        init) kubeadm init --config "$KUBEADM_CONFIG" ;;
        control-plane | worker) kubeadm join --config "$KUBEADM_CONFIG" ;;
        *) fail "unknown NODE_ROLE '${NODE_ROLE}'" ;;
    esac
}

deadline=$((SECONDS + DEADLINE_SECONDS))

if [ "$NODE_ROLE" = init ] && [ -n "$REJOIN_CONFIG" ]; then
    # 3 control planes: a first control plane that replaces a lost one must not create a second
    # cluster. If the API address answers with our CA, the cluster lives on: join it instead.
    if curl --silent --fail --connect-timeout 5 --max-time 10 --cacert "$PKI_SOURCE/ca.crt" "https://${API_ENDPOINT}/readyz" > /dev/null; then
        log "a cluster already answers at ${API_ENDPOINT}: this control plane joins it instead of initialising a new one"
        NODE_ROLE=control-plane
        KUBEADM_CONFIG=$REJOIN_CONFIG
    else
        log "no cluster answers at ${API_ENDPOINT}: initialising it"
    fi
fi

if [ -n "$JOIN_AFTER" ]; then
    # Control planes join one after another: etcd adds one member at a time, so this one waits
    # until the previous control plane's API server (and with it its etcd member) is ready.
    log "waiting for the previous control plane ${JOIN_AFTER} to be ready before joining"
    until curl --silent --show-error --fail --max-time 10 --cacert "$PKI_SOURCE/ca.crt" "${JOIN_AFTER}/readyz" > /dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            fail "the previous control plane ${JOIN_AFTER} was not ready within ${DEADLINE_SECONDS} s: read its /var/log/cloud-init-output.log (lines tagged incant-kubernetes)"
        fi
        sleep "$RETRY_SECONDS"
    done
    log "${JOIN_AFTER} is ready"
fi
n=1
log "kubeadm ${NODE_ROLE} (attempt ${n}) against ${API_ENDPOINT}"
until attempt; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        fail "kubeadm ${NODE_ROLE} did not succeed within ${DEADLINE_SECONDS} s (${n} attempts). The kubeadm output above says why; also: journalctl -u kubelet -u containerd; crictl ps -a; on the first control plane, /var/log/cloud-init-output.log"
    fi
    log "attempt ${n} failed; resetting the node and retrying in ${RETRY_SECONDS} s"
    kubeadm reset --force || log "kubeadm reset reported an error; retrying anyway"
    sleep "$RETRY_SECONDS"
    n=$((n + 1))
    log "kubeadm ${NODE_ROLE} (attempt ${n}) against ${API_ENDPOINT}"
done
install -d -m 0755 "$STATE_DIR"
date -u +%FT%TZ > "$STATE_DIR/kubernetes-joined"
log "kubeadm ${NODE_ROLE} succeeded after ${n} attempt(s)"
