#!/bin/bash
# Installs the facility users list and creates their homes and scratch areas, restarting
# nothing: the Pulumi program runs it over SSH (through the bastion) whenever incant:users
# changes, so adding a user never replaces the NFS server (components/storage/controller.ts).
# Waits for the first boot to finish. Usage: incant-update-users TIMEOUT_SECONDS < users.env
# (stdin: FACILITY_USERS='name:uid ...', as renderEnvFile writes it).
set -euo pipefail
timeout_seconds=${1:?usage: incant-update-users TIMEOUT_SECONDS < users.env}

# Overridable only so the tests can run this script in a scratch directory.
STORAGE_ENV=${STORAGE_ENV:-/etc/incant/storage.env}
USERS_ENV=${USERS_ENV:-/etc/incant/storage-users.env}
USER_DIRS=${USER_DIRS:-/usr/local/sbin/incant-user-dirs.sh}
DATA_MOUNT_UNIT=${DATA_MOUNT_UNIT:-srv-incant.mount}

fail() { echo "incant-update-users: FAILED: $*" >&2; exit 1; }

status=0
timeout "$timeout_seconds" cloud-init status --wait > /dev/null || status=$?
# 0: done; 2: done with recoverable errors ("degraded"), the services are up all the same.
if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then
    fail "cloud-init did not finish within ${timeout_seconds} s (status ${status}): see /var/log/cloud-init-output.log"
fi
# Never create homes on the root file system: the data volume must be mounted.
systemctl is-active --quiet "$DATA_MOUNT_UNIT" || fail "${DATA_MOUNT_UNIT} is not active: see journalctl -u ${DATA_MOUNT_UNIT}"

new=$(mktemp "${USERS_ENV}.XXXXXX")
cat > "$new"
grep -Eq "^FACILITY_USERS='[a-z0-9_: -]*'$" "$new" || { rm -f "$new"; fail "stdin is not a FACILITY_USERS line"; }
chmod 0644 "$new"
mv "$new" "$USERS_ENV"

set -a
# shellcheck source=/dev/null
. "$STORAGE_ENV"
# shellcheck source=/dev/null
. "$USERS_ENV"
set +a
exec "$USER_DIRS"
