#!/bin/bash
# Waits for the Cinder data volume to appear under any of its by-id names (virtio-blk or
# virtio-scsi), then makes sure it holds an ext4 file system: a blank volume is formatted, a
# volume with a file system is checked and kept, and anything else (a partition table, another
# file system, a probe error) stops here, untouched. Last, it links the volume at DATA_LINK,
# which the mount unit names (so systemd adds no device job with its own 90 s timeout).
# Parameters (environment, /etc/incant/storage.env): DATA_DEVICES (space-separated candidates),
# DATA_LINK, DATA_LABEL, DATA_WAIT_SECONDS.
set -euo pipefail
: "${DATA_DEVICES:?}" "${DATA_LINK:?}" "${DATA_LABEL:?}" "${DATA_WAIT_SECONDS:?}"
read -r -a candidates <<< "$DATA_DEVICES"

# A volume attached by the cloud after boot shows up late (FACTS.md): wait for one of its links.
device=""
waited=0
while :; do
    for c in "${candidates[@]}"; do
        if [ -e "$c" ]; then device=$c; break 2; fi
    done
    if [ "$waited" -ge "$DATA_WAIT_SECONDS" ]; then
        echo "data volume did not appear within ${DATA_WAIT_SECONDS}s as any of: ${DATA_DEVICES}: is it attached?" >&2
        exit 1
    fi
    sleep 1
    waited=$((waited + 1))
done
echo "data volume found at $device after ${waited}s"

link() {
    mkdir -p "$(dirname "$DATA_LINK")"
    ln -sfn "$(readlink -f "$device")" "$DATA_LINK"
}

# blkid -p probes the device itself, bypassing its cache: exit 0 means a signature was found
# (file system, RAID member, partition table...), 2 means none, anything else means unknown.
status=0
fstype=$(blkid -p -s TYPE -o value "$device") || status=$?
case "$status" in
    2)
        echo "$device is blank: creating an ext4 file system labelled $DATA_LABEL"
        # -m 1: a data volume needs little space reserved for root. quota,project: the per-user
        # project quotas (components/storage/quotas.ts), tracked by the file system itself.
        mkfs.ext4 -q -m 1 -O quota,project -E quotatype=prjquota -L "$DATA_LABEL" "$device"
        link
        exit 0
        ;;
    0) ;;
    *)
        echo "blkid could not probe $device (exit $status): refusing to touch it" >&2
        exit 1
        ;;
esac

if [ "$fstype" != "ext4" ]; then
    echo "$device holds '${fstype:-a partition table or unknown signature}', not ext4: not formatting it, not mounting it" >&2
    exit 1
fi

# The file system may come from a VM that died or was detached while mounted: preen it.
# e2fsck exit codes (e2fsck(8)): 0 clean, 1 errors fixed, 2 fixed and reboot advised; >= 4 not fixed.
status=0
e2fsck -p "$device" || status=$?
if [ "$status" -ge 4 ]; then
    echo "e2fsck could not repair $device (exit $status): run e2fsck by hand" >&2
    exit 1
fi
# A volume made before the per-user quotas: add project ids and their quota file (unmounted:
# this runs before the mount). Its data is kept; e2fsck above left it clean.
if ! dumpe2fs -h "$device" 2>/dev/null | grep -q '^Project quota inode:'; then
    echo "$device has no project quota yet: adding it (tune2fs -O project -Q prjquota)"
    # Never fatal: homes served without limits beat homes not served (128-byte inodes cannot
    # carry project ids; the users' directories script then logs that no limit was set).
    tune2fs -O project -Q prjquota "$device" > /dev/null \
        || echo "could not add project quotas to $device: serving it without per-user limits" >&2
fi
link
echo "$device already holds an ext4 file system: kept as it is"
