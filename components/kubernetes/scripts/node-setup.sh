#!/bin/bash
# Prepares an Ubuntu node (22.04 or 24.04) for kubeadm: kernel modules and sysctls, containerd
# with the systemd cgroup driver, kubelet/kubeadm/kubectl from pkgs.k8s.io pinned and held.
# Parameters come from the env file cloud-init wrote (/etc/incant/kubernetes.env).
# Output goes to /var/log/cloud-init-output.log and the journal (tag incant-kubernetes).
set -euo pipefail

ENV_FILE=${1:-/etc/incant/kubernetes.env}
set -a
# shellcheck source=/dev/null
. "$ENV_FILE"
set +a

log() { echo "incant-kubernetes: $*"; logger -t incant-kubernetes -- "$*" || true; }
fail() { log "FAILED: $*"; exit 1; }
step() { log "step: $*"; }

# Retries a command that depends on the network (mirrors, pkgs.k8s.io) with back-off (10 s,
# doubling, at most 2 min) until the node's deadline: a slow mirror delays the node, a dead one
# fails it with the command named, never a node half set up after a few minutes.
deadline=$((SECONDS + DEADLINE_SECONDS))
retry() {
    local n=1 pause=10
    until "$@"; do
        [ $((SECONDS + pause)) -lt "$deadline" ] \
            || { log "'$*' failed ${n} time(s) within the ${DEADLINE_SECONDS} s deadline"; return 1; }
        log "attempt ${n} of '$*' failed; retrying in ${pause} s"
        sleep "$pause"
        n=$((n + 1))
        pause=$((pause < 60 ? pause * 2 : 120))
    done
}

step "check the image is Ubuntu ${UBUNTU_RELEASE}"
# shellcheck source=/dev/null
. /etc/os-release
if [ "${ID}" != "ubuntu" ] || [ "${VERSION_ID}" != "${UBUNTU_RELEASE}" ]; then
    fail "this image is ${ID} ${VERSION_ID}, but incant:openstack.ubuntuRelease says ${UBUNTU_RELEASE}"
fi

step "kernel modules and sysctls"
while read -r module; do
    [ -n "$module" ] && modprobe "$module"
done < "$MODULES_FILE"
sysctl --system > /dev/null
# The kubelet refuses to run with swap on (failSwapOn); cloud images have none, but be sure.
swapoff -a

# Each download times out and retries by itself (apt.conf(5) Acquire::Retries, Acquire::http::Timeout).
apt_get() { apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 -o Acquire::http::Timeout=30 -o Acquire::https::Timeout=30 -y -q "$@"; }
export DEBIAN_FRONTEND=noninteractive

step "NFS client (the kubelet mounts the pool's NFS PersistentVolumes with the node's mount.nfs)"
retry apt_get install nfs-common

step "containerd with the systemd cgroup driver"
retry apt_get install containerd
install -D -m 0644 "$CONTAINERD_CONFIG" /etc/containerd/config.toml
systemctl restart containerd
systemctl enable containerd
effective=$(containerd config dump)
grep -q 'SystemdCgroup = true' <<< "$effective" \
    || fail "containerd did not take the systemd cgroup driver from /etc/containerd/config.toml"

step "Kubernetes ${KUBERNETES_VERSION} packages from pkgs.k8s.io (v${KUBERNETES_MINOR})"
repo="https://pkgs.k8s.io/core:/stable:/v${KUBERNETES_MINOR}/deb/"
keyring=/etc/apt/keyrings/kubernetes-apt-keyring.gpg
install -d -m 0755 /etc/apt/keyrings
armored=$(mktemp)
retry curl -fsSL --proto '=https' --connect-timeout 10 --max-time 60 -o "$armored" "${repo}Release.key"
# Pin the signing key: HTTPS alone would trust whatever the server hands out.
fingerprint=$(gpg --show-keys --with-colons "$armored" | awk -F: '$1 == "fpr" { print $10; exit }')
[ "$fingerprint" = "$KUBERNETES_APT_KEY_FINGERPRINT" ] \
    || fail "pkgs.k8s.io signing key has fingerprint '${fingerprint}', expected ${KUBERNETES_APT_KEY_FINGERPRINT}"
gpg --dearmor --yes -o "$keyring" "$armored"
rm -f "$armored"
echo "deb [signed-by=${keyring}] ${repo} /" > /etc/apt/sources.list.d/kubernetes.list
retry apt_get update
retry apt_get install --allow-change-held-packages \
    "kubelet=${KUBERNETES_VERSION}-*" "kubeadm=${KUBERNETES_VERSION}-*" "kubectl=${KUBERNETES_VERSION}-*"
# Held: an unattended upgrade must never move a node to another Kubernetes version.
apt-mark hold kubelet kubeadm kubectl
systemctl enable kubelet

installed=$(kubeadm version -o short)
[ "$installed" = "v${KUBERNETES_VERSION}" ] || fail "kubeadm ${installed} installed, expected v${KUBERNETES_VERSION}"
install -d -m 0755 "$STATE_DIR"
date -u +%FT%TZ > "$STATE_DIR/node-prepared"
log "node prepared: containerd $(containerd --version | awk '{ print $3 }'), kubeadm ${installed}"
