#!/bin/sh
# Entrypoint wrapper of the CVMFS service container (bind-mounted read-only, then exec'ing the
# image's own entrypoint, /usr/bin/mount_cvmfs.sh). After a crash of the container, its FUSE mounts
# stay behind on the host's /cvmfs as dead mounts ("Transport endpoint is not connected"). The
# image clears one with a plain `umount`, which fails with EBUSY as soon as anyone still has a
# working directory or an open file there (a user's shell in the submit container, through its
# rslave bind), and then the container exits and Docker restarts it: a loop (FACTS.md).
# Here every dead mount under the CVMFS root is detached lazily (umount -l: gone from the tree at
# once, released when its last user lets go); the shared propagation carries that to the host and
# to the submit container's rslave bind, and the new mounts propagate the same way.
# A dead mount that even a lazy unmount cannot clear stops the container with a message instead
# of mounting over it; Docker's restart back-off (doubling, up to a minute) spaces the retries.
# Parameters (environment; defaults for the container): CVMFS_ROOT, MOUNTINFO.
set -eu
root=${CVMFS_ROOT:-/cvmfs}
mountinfo=${MOUNTINFO:-/proc/self/mountinfo}
[ "$#" -ge 1 ] || { echo "usage: $0 ENTRYPOINT [ARGS...]" >&2; exit 2; }

# Mount points under the root, deepest first (field 5 of mountinfo; octal escapes are not
# expected in repository names, which are DNS names).
stale=0
mounts=$(awk -v r="$root/" 'index($5, r) == 1 { print $5 }' "$mountinfo" | sort -r)
while IFS= read -r mp; do
    # A live mount answers; a dead FUSE mount fails every access with ENOTCONN.
    if [ -z "$mp" ] || ls "$mp" >/dev/null 2>&1; then
        continue
    fi
    echo "[incant] $mp is a dead mount: detaching it (umount -l)"
    if ! umount -l "$mp"; then
        echo "[incant] could not detach $mp: not mounting over it (the host needs 'umount -l $mp')" >&2
        stale=1
    fi
done <<MOUNTS
$mounts
MOUNTS
[ "$stale" -eq 0 ] || exit 1
exec "$@"
