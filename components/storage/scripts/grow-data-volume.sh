#!/bin/bash
# Grows the mounted data volume's ext4 file system online to the size of its (already extended)
# Cinder volume: the program runs it over SSH after a larger nodes.storage.dataVolumeGb extended
# the volume in place (openstack enableOnlineResize), so no VM is replaced and no client stalls.
# A virtio-scsi disk learns its new size only on a rescan; virtio-blk gets it from the host.
# Usage: incant-grow-data-volume EXPECTED_GB   (waits up to 5 minutes for the disk to reach it)
set -euo pipefail
expected_gb=${1:?usage: incant-grow-data-volume EXPECTED_GB}
STORAGE_ENV=${STORAGE_ENV:-/etc/incant/storage.env}
# shellcheck source=/dev/null
. "$STORAGE_ENV"
: "${DATA_LINK:?}" "${DATA_MOUNT:?}"
WAIT_SECONDS=${WAIT_SECONDS:-300}

fail() { echo "incant-grow-data-volume: FAILED: $*" >&2; exit 1; }

mountpoint -q "$DATA_MOUNT" || fail "$DATA_MOUNT is not mounted: nothing to grow"
device=$(readlink -f "$DATA_LINK")
[ -b "$device" ] || fail "$DATA_LINK does not lead to a block device"
name=$(basename "$device")
want=$((expected_gb * 1024 * 1024 * 1024))

waited=0
until [ "$(blockdev --getsize64 "$device")" -ge "$want" ]; do
    rescan=/sys/class/block/$name/device/rescan
    if [ -w "$rescan" ]; then echo 1 > "$rescan"; fi
    [ "$waited" -lt "$WAIT_SECONDS" ] || fail "$device is $(blockdev --getsize64 "$device") bytes after ${WAIT_SECONDS}s, not ${expected_gb} GiB: is the volume extended?"
    sleep 5
    waited=$((waited + 5))
done
resize2fs "$device"
df -h "$DATA_MOUNT"
