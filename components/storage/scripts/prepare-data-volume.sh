#!/bin/bash
# Waits for the Cinder data volume to appear, then makes sure it holds an ext4 file system:
# a blank volume is formatted, a volume with a file system is checked and kept, and anything
# else (a partition table, another file system, a probe error) stops here, untouched.
# Parameters (environment, /etc/incant/storage.env): DATA_DEVICE, DATA_LABEL, DATA_WAIT_SECONDS.
set -euo pipefail
: "${DATA_DEVICE:?}" "${DATA_LABEL:?}" "${DATA_WAIT_SECONDS:?}"

# A volume attached by the cloud after boot shows up late (FACTS.md): wait for its by-id link.
waited=0
until [ -e "$DATA_DEVICE" ]; do
    if [ "$waited" -ge "$DATA_WAIT_SECONDS" ]; then
        echo "data volume $DATA_DEVICE did not appear within ${DATA_WAIT_SECONDS}s: is it attached?" >&2
        exit 1
    fi
    sleep 1
    waited=$((waited + 1))
done

# blkid -p probes the device itself, bypassing its cache: exit 0 means a signature was found
# (file system, RAID member, partition table...), 2 means none, anything else means unknown.
status=0
fstype=$(blkid -p -s TYPE -o value "$DATA_DEVICE") || status=$?
case "$status" in
    2)
        echo "$DATA_DEVICE is blank: creating an ext4 file system labelled $DATA_LABEL"
        # -m 1: a data volume needs little space reserved for root.
        mkfs.ext4 -q -m 1 -L "$DATA_LABEL" "$DATA_DEVICE"
        exit 0
        ;;
    0) ;;
    *)
        echo "blkid could not probe $DATA_DEVICE (exit $status): refusing to touch it" >&2
        exit 1
        ;;
esac

if [ "$fstype" != "ext4" ]; then
    echo "$DATA_DEVICE holds '${fstype:-a partition table or unknown signature}', not ext4: not formatting it, not mounting it" >&2
    exit 1
fi

# The file system may come from a VM that died or was detached while mounted: preen it.
# e2fsck exit codes (e2fsck(8)): 0 clean, 1 errors fixed, 2 fixed and reboot advised; >= 4 not fixed.
status=0
e2fsck -p "$DATA_DEVICE" || status=$?
if [ "$status" -ge 4 ]; then
    echo "e2fsck could not repair $DATA_DEVICE (exit $status): run e2fsck by hand" >&2
    exit 1
fi
echo "$DATA_DEVICE already holds an ext4 file system: kept as it is"
