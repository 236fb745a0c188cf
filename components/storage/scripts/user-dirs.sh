#!/bin/bash
# Creates the exported trees on the mounted data volume and, for each facility user, a home
# (0700) and a scratch area (0755) owned by the user's uid and private group (gid = uid), so jobs
# running as the user on any NFS client can write them, and sets each tree's project quota
# (components/storage/quotas.ts). Idempotent: existing directories only get their owner, mode and
# limit set again; directories of users no longer configured are left alone.
# Parameters (environment, /etc/incant/storage.env): HOME_ROOT, SCRATCH_ROOT, NFS_STATE_DIR,
# DATA_MOUNT, SCRATCH_PROJECT_OFFSET, FACILITY_USERS ("name:uid:homeGb:scratchGb ...", GB 0 = no limit).
set -euo pipefail
: "${HOME_ROOT:?}" "${SCRATCH_ROOT:?}" "${NFS_STATE_DIR:?}" "${DATA_MOUNT:?}" "${SCRATCH_PROJECT_OFFSET:?}"

install -d -o root -g root -m 0755 "$HOME_ROOT" "$SCRATCH_ROOT"
install -d -o root -g root -m 0700 "$NFS_STATE_DIR"

# Quotas need the volume mounted with prjquota (the mount unit's options); without it the
# directories are still made, and the log says why no limit was set.
quotas=yes
if ! findmnt -n -o OPTIONS --target "$DATA_MOUNT" | tr , '\n' | grep -qx prjquota; then
    quotas=no
    echo "project quotas are not enabled on ${DATA_MOUNT} (no prjquota): directories made, no limit set" >&2
fi

# Puts a tree in a project: every directory and file in it now (once: skipped when the top
# already carries the id), and everything made in it later through the inherit flag.
project() {
    local dir=$1 id=$2 current
    current=$(lsattr -d -p "$dir" | awk '{ print $1 }')
    if [ "$current" != "$id" ]; then
        find "$dir" -xdev \( -type d -o -type f \) -exec chattr -p "$id" {} +
        find "$dir" -xdev -type d -exec chattr +P {} +
    fi
}

# setquota takes 1 KiB blocks; 0 means no limit. Soft = hard: no grace period to outlive.
limit() {
    local id=$1 gb=$2 kib=$(( $2 * 1024 * 1024 ))
    setquota -P "$id" "$kib" "$kib" 0 0 "$DATA_MOUNT"
    echo "project ${id}: limit ${gb} GB"
}

read -r -a users <<< "${FACILITY_USERS:-}"
for entry in "${users[@]}"; do
    IFS=: read -r name uid home_gb scratch_gb <<< "$entry"
    if [[ ! "$name" =~ ^[a-z_][a-z0-9_-]*$ || ! "$uid" =~ ^[0-9]+$ || ! "$home_gb" =~ ^[0-9]+$ || ! "$scratch_gb" =~ ^[0-9]+$ ]]; then
        echo "bad FACILITY_USERS entry '$entry' (name:uid:homeGb:scratchGb)" >&2
        exit 1
    fi
    install -d -o "$uid" -g "$uid" -m 0700 "$HOME_ROOT/$name"
    install -d -o "$uid" -g "$uid" -m 0755 "$SCRATCH_ROOT/$name"
    if [ "$quotas" = yes ]; then
        project "$HOME_ROOT/$name" "$uid"
        limit "$uid" "$home_gb"
        project "$SCRATCH_ROOT/$name" "$(( uid + SCRATCH_PROJECT_OFFSET ))"
        limit "$(( uid + SCRATCH_PROJECT_OFFSET ))" "$scratch_gb"
    fi
done
