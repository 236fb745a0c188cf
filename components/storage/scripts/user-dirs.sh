#!/bin/bash
# Creates the exported trees on the mounted data volume and, for each facility user, a home
# (0700) and a scratch area (0755) owned by the user's uid and private group (gid = uid), so jobs
# running as the user on any NFS client can write them. Idempotent: existing directories only get
# their owner and mode set again; directories of users no longer configured are left alone.
# Parameters (environment, /etc/incant/storage.env): HOME_ROOT, SCRATCH_ROOT, NFS_STATE_DIR,
# FACILITY_USERS ("name:uid name:uid ...").
set -euo pipefail
: "${HOME_ROOT:?}" "${SCRATCH_ROOT:?}" "${NFS_STATE_DIR:?}"

install -d -o root -g root -m 0755 "$HOME_ROOT" "$SCRATCH_ROOT"
install -d -o root -g root -m 0700 "$NFS_STATE_DIR"

read -r -a users <<< "${FACILITY_USERS:-}"
for entry in "${users[@]}"; do
    name=${entry%%:*}
    uid=${entry##*:}
    if [[ ! "$name" =~ ^[a-z_][a-z0-9_-]*$ || ! "$uid" =~ ^[0-9]+$ ]]; then
        echo "bad FACILITY_USERS entry '$entry'" >&2
        exit 1
    fi
    install -d -o "$uid" -g "$uid" -m 0700 "$HOME_ROOT/$name"
    install -d -o "$uid" -g "$uid" -m 0755 "$SCRATCH_ROOT/$name"
done
