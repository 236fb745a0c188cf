#!/bin/bash
# Renews kubeadm's own leaf certificates on a control plane before they expire (kubeadm makes them
# valid for one year and renews them only on `kubeadm upgrade`), then restarts the control-plane
# static pods one at a time so that they load the new files. Run daily by
# incant-renew-certificates.timer; safe to run by hand: `sudo incant-renew-certificates`.
# The restart is kubeadm's documented one: move the manifest out of the manifests folder, wait for
# the pod to stop, move it back ("Certificate Management with kubeadm", manual renewal).
# kubelet's own client certificate is not here: kubelet rotates it (rotateCertificates).
# Parameters: /etc/incant/kubernetes.env (K8S_DIR, CERT_RENEW_BEFORE_DAYS, CERT_RESTART_TIMEOUT_SECONDS).
set -euo pipefail

ENV_FILE=${1:-/etc/incant/kubernetes.env}
set -a
# shellcheck source=/dev/null
. "$ENV_FILE"
set +a

log() { echo "incant-certificates: $*"; logger -t incant-certificates -- "$*" || true; }
fail() { log "FAILED: $*"; exit 1; }

PKI="$K8S_DIR/pki"
MANIFESTS="$K8S_DIR/manifests"
HOLD="$K8S_DIR/incant-restarting"
window=$((CERT_RENEW_BEFORE_DAYS * 86400))

[ -f "$K8S_DIR/admin.conf" ] || { log "no ${K8S_DIR}/admin.conf: not a control plane (yet); nothing to renew"; exit 0; }

# A previous run that died between the two moves left a manifest aside: put it back first.
if [ -d "$HOLD" ]; then
    for held in "$HOLD"/*.yaml; do
        [ -e "$held" ] || continue
        log "restoring $(basename "$held") left aside by an interrupted run"
        mv "$held" "$MANIFESTS/"
    done
fi

# Files kubeadm renews (`kubeadm certs renew all`): the PKI's leaf certificates and the client
# certificates embedded in the control plane's kubeconfigs. CAs (10 years) are the program's.
expiring=()
for name in apiserver apiserver-kubelet-client apiserver-etcd-client front-proxy-client \
    etcd/server etcd/peer etcd/healthcheck-client; do
    crt="$PKI/$name.crt"
    [ -f "$crt" ] || continue
    openssl x509 -noout -checkend "$window" -in "$crt" > /dev/null || expiring+=("$name")
done
for conf in admin.conf super-admin.conf controller-manager.conf scheduler.conf; do
    file="$K8S_DIR/$conf"
    [ -f "$file" ] || continue
    data=$(sed -n 's/^ *client-certificate-data: *//p' "$file" | head -n 1)
    [ -n "$data" ] || continue
    printf '%s' "$data" | base64 -d | openssl x509 -noout -checkend "$window" > /dev/null || expiring+=("$conf")
done

if [ "${#expiring[@]}" -eq 0 ]; then
    log "kubeadm's certificates stay valid for more than ${CERT_RENEW_BEFORE_DAYS} days; nothing to do"
    exit 0
fi
log "renewing: ${expiring[*]} expire(s) within ${CERT_RENEW_BEFORE_DAYS} days"
kubeadm certs renew all || fail "kubeadm certs renew all failed; the old certificates are still in place"

running() { [ -n "$(crictl ps --name "^$1\$" --state running -q 2> /dev/null)" ]; }

# Waits up to CERT_RESTART_TIMEOUT_SECONDS for `running <pod>` to be $2 (yes|no).
wait_for() {
    local pod=$1 want=$2 deadline=$((SECONDS + CERT_RESTART_TIMEOUT_SECONDS))
    while :; do
        if running "$pod"; then [ "$want" = yes ] && return 0; else [ "$want" = no ] && return 0; fi
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 2
    done
}

restore() { [ -n "${held:-}" ] && [ -e "$HOLD/$held.yaml" ] && mv "$HOLD/$held.yaml" "$MANIFESTS/"; held=""; }
# Stopped mid-restart (systemctl stop, shutdown): the manifest goes back before the script ends.
trap restore EXIT
trap 'exit 143' TERM INT

install -d -m 0700 "$HOLD"
for pod in etcd kube-apiserver kube-controller-manager kube-scheduler; do
    [ -f "$MANIFESTS/$pod.yaml" ] || continue
    log "restarting ${pod} to load its new certificate"
    held=$pod
    mv "$MANIFESTS/$pod.yaml" "$HOLD/"
    wait_for "$pod" no || log "${pod} did not stop within ${CERT_RESTART_TIMEOUT_SECONDS} s; putting its manifest back anyway"
    restore
    wait_for "$pod" yes || fail "${pod} is not running again ${CERT_RESTART_TIMEOUT_SECONDS} s after its restart: crictl ps -a --name ${pod}; journalctl -u kubelet"
done
rmdir "$HOLD" 2> /dev/null || true
log "renewed; the control-plane pods run with the new certificates (admin.conf too; the program's own kubeconfig is renewed by pulumi up)"
