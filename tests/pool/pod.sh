#!/bin/bash
# One "pod" of the loopback pool (tests/pool/pod.ts). Runs as root in a fresh mount and UTS
# namespace, inside the pool's network namespace, and does what the container runtime and the
# image would do before HTCondor starts:
#   1. the pod's own /etc, /root, /var/lib, /var/log, /var/tmp, /run and /tmp (prepared in $POD_DIR),
#      HTCondor bind-mounted at $RELEASE_MOUNT, the pod's volumes bind-mounted ($POD_DIR/binds:
#      "<source> <target> <ro|rw>" per line);
#   2. the image's condor account;
#   3. the container's capability bounding set ($POD_CAPS, setpriv) and no_new_privs ($POD_NNP),
#      a clean environment ($POD_DIR/container.env), then the image's entry point
#      (entrypoint.sh), which runs as the container would.
set -euo pipefail
: "${POD_DIR:?}" "${POD_HOSTNAME:?}" "${HTCONDOR_PREFIX:?}" "${RELEASE_MOUNT:?}" "${POD_ENTRY:?}"

hostname "${POD_HOSTNAME}"
bind() { mount --bind "$1" "$2"; if [[ "${3:-rw}" == ro ]]; then mount -o remount,bind,ro "$2"; fi; }

bind "${POD_DIR}/etc" /etc
bind "${POD_DIR}/root" /root
bind "${POD_DIR}/var-lib" /var/lib
bind "${POD_DIR}/var-log" /var/log
# The worker's /tmp guard measures and cleans /var/tmp (components/htcondor/tmp-guard.sh): never the host's.
bind "${POD_DIR}/var-tmp" /var/tmp
mkdir -p "${RELEASE_MOUNT}"
bind "${HTCONDOR_PREFIX}" "${RELEASE_MOUNT}" ro
if [[ -s "${POD_DIR}/binds" ]]; then
    while read -r source target mode; do
        mkdir -p "${target}"
        bind "${source}" "${target}" "${mode}"
    done < "${POD_DIR}/binds"
fi
# /run and /tmp last: POD_DIR itself may live under /tmp.
entry="${POD_DIR}/entrypoint.sh"
cp "${entry}" /root/.incant-entrypoint.sh
mapfile -t container_env < "${POD_DIR}/container.env"
bind "${POD_DIR}/run" /run
bind "${POD_DIR}/tmp" /tmp
cd /

# The image's account for the daemons (the official images create `condor` at build time).
if ! getent passwd condor >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/condor --no-create-home --shell /sbin/nologin condor
fi
# ... and its directories, where no volume is mounted (an emptyDir or a volume keeps its own).
for d in /var/lib/condor /var/lib/condor/spool /var/lib/condor/execute /var/log/condor /run/condor /run/lock/condor; do
    [[ -e "$d" ]] || install -d -o condor -g condor -m 0755 "$d"
done

setpriv_args=()
if [[ -n "${POD_CAPS:-}" ]]; then setpriv_args+=("--bounding-set=-all${POD_CAPS}"); fi
if [[ "${POD_NNP:-false}" == true ]]; then setpriv_args+=(--no-new-privs); fi
exec env -i "${container_env[@]}" setpriv "${setpriv_args[@]}" -- bash /root/.incant-entrypoint.sh "${POD_ENTRY}"
