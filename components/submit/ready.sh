#!/bin/bash
# Readiness gate of the submit host, run by the program over SSH (as the image's default user)
# before anything talks to the host's Docker daemon. Every phase is bounded by TIMEOUT_SECONDS.
# On success it prints one line, the host's ed25519 public key, which the program pins for every
# later SSH connection (file uploads, the Docker provider). Diagnostics go to stderr.
#   TIMEOUT_SECONDS  how long each phase may take (incant:readinessTimeoutSeconds)
#   MOUNT_UNITS      systemd mount units that must be active (the NFS shares and /cvmfs)
#   RETRY_SECONDS    pause between mount attempts (default 10)
#   HOST_KEY_FILE    the key to print (default the ed25519 host key)
set -euo pipefail
: "${TIMEOUT_SECONDS:?}" "${MOUNT_UNITS:?}"
retry=${RETRY_SECONDS:-10}
host_key_file=${HOST_KEY_FILE:-/etc/ssh/ssh_host_ed25519_key.pub}

fail() {
    echo "submit host not ready: $*" >&2
    exit 1
}

# 1. cloud-init: 0 done, 2 done with recoverable errors (deprecations), 1 failed, 124 timeout.
rc=0
timeout "$TIMEOUT_SECONDS" cloud-init status --wait >/dev/null || rc=$?
case "$rc" in
    0) ;;
    2) echo "warning: cloud-init finished with recoverable errors:" >&2
       cloud-init status --long >&2 || true ;;
    124) fail "cloud-init still running after ${TIMEOUT_SECONDS}s (see /var/log/cloud-init-output.log)" ;;
    *) cloud-init status --long >&2 || true
       fail "cloud-init failed (exit $rc, see /var/log/cloud-init-output.log)" ;;
esac

# 2. The shares: the storage controller may still be booting, so retry until the deadline.
deadline=$((SECONDS + TIMEOUT_SECONDS))
for unit in $MOUNT_UNITS; do
    until sudo -n systemctl start "$unit" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            sudo -n systemctl status --no-pager "$unit" >&2 || true
            fail "$unit is not mounted after ${TIMEOUT_SECONDS}s: is the storage controller up and exporting to this host?"
        fi
        sleep "$retry"
    done
done

# 3. The Docker daemon, reached the way the Docker provider will reach it (docker group, no sudo).
docker info --format '{{.ServerVersion}}' >/dev/null \
    || fail "the Docker daemon does not answer $(id -un) (is $(id -un) in the docker group?)"

# 4. The host key to pin (key type and base64 only).
read -r keytype key _ < "$host_key_file"
echo "$keytype $key"
