#!/bin/bash
# Brings this node into the cluster: `kubeadm init` on the first control plane, `kubeadm join`
# on the others and on workers. Workers run this in parallel at first boot: a join simply retries
# until the first control plane answers. Extra control planes wait for the previous one (JOIN_AFTER).
# Tokens (components/kubernetes/join-tokens.ts): a worker's config carries its own; a control
# plane's carries MINTED_TOKEN_PLACEHOLDER and the node mints a token for each attempt with the
# cluster CA it holds; the first control plane deletes init's token once init succeeded.
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

mint_dir=$RUN_DIR/join-token

# A control plane's own join token: a one-day client certificate in kubeadm's admin group, signed
# with the cluster CA, lets `kubeadm token create` register a 15-minute token; the join config gets
# it in place of the placeholder. Prints the filled config's path. Everything lives in mint_dir (tmpfs).
mint_join_config() {
    local config=$1 token
    rm -rf "$mint_dir"
    install -d -m 0700 "$mint_dir" || return 1
    openssl ecparam -name prime256v1 -genkey -noout -out "$mint_dir/admin.key" || return 1
    printf '%s\n' 'keyUsage=critical,digitalSignature' 'extendedKeyUsage=clientAuth' > "$mint_dir/ext.cnf"
    # A random serial, so openssl writes no serial file beside the CA.
    openssl req -new -key "$mint_dir/admin.key" -subj "/O=kubeadm:cluster-admins/CN=incant-join-${NODE_NAME}" \
        | openssl x509 -req -CA "$PKI_SOURCE/ca.crt" -CAkey "$PKI_SOURCE/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
            -days 1 -extfile "$mint_dir/ext.cnf" -out "$mint_dir/admin.crt" || return 1
    # A fixed-shape kubeconfig whose values are base64 or the node's own name and API address
    # (kubectl config set-* would write the same; here it is checked by tests/kubernetes.test.ts).
    cat > "$mint_dir/admin.conf" <<EOF || return 1
apiVersion: v1
kind: Config
clusters:
- name: incant
  cluster:
    server: https://${API_ENDPOINT}
    certificate-authority-data: $(base64 -w0 "$PKI_SOURCE/ca.crt")
users:
- name: incant-join-${NODE_NAME}
  user:
    client-certificate-data: $(base64 -w0 "$mint_dir/admin.crt")
    client-key-data: $(base64 -w0 "$mint_dir/admin.key")
contexts:
- name: incant-join
  context:
    cluster: incant
    user: incant-join-${NODE_NAME}
current-context: incant-join
EOF
    token=$(kubeadm token create --kubeconfig "$mint_dir/admin.conf" --ttl 15m \
        --description "INCANT control-plane join of ${NODE_NAME}, minted on the node") || return 1
    [[ $token =~ ^[a-z0-9]{6}\.[a-z0-9]{16}$ ]] || { log "kubeadm token create printed no token"; return 1; }
    echo "${token%%.*}" > "$mint_dir/token-id"
    sed "s/${MINTED_TOKEN_PLACEHOLDER}/${token}/" "$config" > "$mint_dir/kubeadm-join.yaml" || return 1
    echo "$mint_dir/kubeadm-join.yaml"
}

# After the attempt, whatever its outcome: the token has done its work (or the next attempt mints another).
forget_minted_token() {
    if [ -f "$mint_dir/token-id" ]; then
        kubeadm token delete "$(cat "$mint_dir/token-id")" --kubeconfig "$mint_dir/admin.conf" > /dev/null \
            || log "could not delete the minted join token $(cat "$mint_dir/token-id"); it expires within 15 min"
    fi
    rm -rf "$mint_dir"
}

attempt() {
    # (set -e does not apply inside the loop condition: check explicitly.) Without the program's CA
    # kubeadm would make its own, which no worker and not the program would trust.
    restore_pki || fail "could not copy the program's PKI from ${PKI_SOURCE} to ${K8S_DIR}/pki"
    if [ "$NODE_ROLE" != worker ] && [ ! -f "$K8S_DIR/pki/ca.key" ]; then
        fail "the program's CA is missing from ${K8S_DIR}/pki (expected from ${PKI_SOURCE})"
    fi
    local config=$KUBEADM_CONFIG status=0
    case "$NODE_ROLE" in
        init) kubeadm init --config "$config" ;;
        control-plane | worker)
            if [ -n "$MINTED_TOKEN_PLACEHOLDER" ] && grep -qF -- "$MINTED_TOKEN_PLACEHOLDER" "$config"; then
                config=$(mint_join_config "$config") || { log "could not mint a join token (is the API at ${API_ENDPOINT} up?)"; forget_minted_token; return 1; }
            fi
            kubeadm join --config "$config" || status=$?
            [ "$config" = "$KUBEADM_CONFIG" ] || forget_minted_token
            return "$status"
            ;;
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
if [ "$NODE_ROLE" = init ] && [ -n "$INIT_TOKEN_ID" ]; then
    # Nobody joins with init's token (control planes mint theirs, workers have their own): delete it.
    if kubeadm token delete "$INIT_TOKEN_ID" --kubeconfig "$K8S_DIR/admin.conf" > /dev/null; then
        log "deleted init's bootstrap token ${INIT_TOKEN_ID}"
    else
        log "could not delete init's bootstrap token ${INIT_TOKEN_ID}; it expires within an hour"
    fi
fi
install -d -m 0755 "$STATE_DIR"
date -u +%FT%TZ > "$STATE_DIR/kubernetes-joined"
log "kubeadm ${NODE_ROLE} succeeded after ${n} attempt(s)"
