#!/bin/bash
# The facility's users in an HTCondor pod, applied live (components/htcondor/users.ts), and the
# pod's token or signing key, also live (components/htcondor/pool.ts, issue 12).
#   pool-users.sh sync             once, from pre-exec.sh before the daemons start: the accounts.
#   pool-users.sh watch [SECONDS]  the master's INCANT_USERS_RELOAD daemon (root): every SECONDS,
#                                  when the users ConfigMap's files changed, the accounts again and
#                                  a reconfiguration of the daemons (new ALLOW lists, group quotas,
#                                  map file): SIGHUP to the master, the equivalent of condor_reconfig;
#                                  and when a mounted token or key changed (renewal, re-keying), the
#                                  new file where HTCondor reads it (no signal needed: see sync_secrets).
# The users file ($INCANT_USERS_DIR/users) has "<name> <uid>" per line; the uid is also the gid.
# Accounts this script makes carry the comment "incant-facility-user"; only those are ever
# locked or deleted. A removed user's account is deleted once no process runs under its uid;
# until then it is disabled (expired, nologin) and its uid is not given to anybody else.
set -euo pipefail

users_dir=${INCANT_USERS_DIR:-/etc/condor/incant}
log_file=${INCANT_USERS_LOG:-/var/log/condor/UsersLog}
marker=incant-facility-user

log() { printf '%s pool-users[%s]: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$$" "$*" >&2; }

# The kubelet writes a ConfigMap volume as AtomicWriter does: the files are symbolic links
# through "..data", itself a link to a timestamped directory that one rename swaps
# (kubernetes pkg/volume/util/atomic_writer.go). Reading every file through the resolved target
# gives one consistent version, never half of the old and half of the new.
snapshot_dir() {
    if [[ -L "${users_dir}/..data" ]]; then
        readlink -f "${users_dir}/..data"
    else
        printf '%s\n' "${users_dir}"
    fi
}

# A digest of the files this pod reads (those that exist: the workers mount the users file only).
digest() {
    local dir=$1 f
    for f in users mapfile users.conf; do
        if [[ -f "${dir}/${f}" ]]; then printf '%s\n' "${f}"; cat "${dir}/${f}"; fi
    done | sha256sum | cut -d' ' -f1
}

# True when a process runs with real or effective uid $1 (a job, its starter after the switch).
uid_busy() {
    local want=$1 status key real effective _rest
    for status in /proc/[0-9]*/status; do
        { while read -r key real effective _rest; do
            if [[ "${key}" == Uid: ]]; then
                [[ "${real}" == "${want}" || "${effective}" == "${want}" ]] && return 0
                break
            fi
        done < "${status}"; } 2>/dev/null || true
    done
    return 1
}

# Field 8 of the shadow entry (account expiry) is 1 for an account disabled here.
disabled() { [[ "$(getent shadow "$1" | cut -d: -f8)" == 1 ]]; }

# Makes the accounts match the users file $1. Returns 1 when something must wait (a removed
# user's processes still run, a uid or name is held), so that the caller tries again.
sync_users() {
    local file=$1 pending=0 name uid gecos holder current line
    local -A want=()
    while read -r name uid _; do
        [[ -z "${name}" || "${name}" == \#* ]] && continue
        if [[ ! "${name}" =~ ^[a-z_][a-z0-9_-]*$ || ! "${uid}" =~ ^[0-9]+$ ]]; then
            log "ignoring a malformed line of ${file}: ${name} ${uid}"
            pending=1
            continue
        fi
        want[${name}]=${uid}
    done < "${file}"

    # Removed users first: a uid they free may be a new user's.
    local -a accounts=()
    mapfile -t accounts < <(getent passwd)
    for line in "${accounts[@]}"; do
        IFS=: read -r name _ uid _ gecos _ <<< "${line}"
        [[ "${gecos}" == "${marker}" ]] || continue
        [[ "${want[${name}]:-}" == "${uid}" ]] && continue
        if uid_busy "${uid}"; then
            if ! disabled "${name}"; then
                # usermod(8): "to disable the account, set EXPIREDATE to 1"; no shell either.
                usermod --expiredate 1 --shell /usr/sbin/nologin "${name}"
                log "${name} (uid ${uid}) left the users list: disabled; deleted when its processes end"
            fi
            pending=1
        else
            userdel "${name}"
            if getent group "${name}" >/dev/null; then groupdel "${name}"; fi
            log "${name} (uid ${uid}) left the users list: account deleted"
        fi
    done

    for name in "${!want[@]}"; do
        uid=${want[${name}]}
        current=$(getent passwd "${name}" | cut -d: -f3) || current=""
        if [[ "${current}" == "${uid}" ]]; then
            if disabled "${name}"; then
                usermod --expiredate "" --shell /bin/bash "${name}"
                log "${name} (uid ${uid}) is back in the users list: enabled"
            fi
            continue
        fi
        if [[ -n "${current}" ]]; then
            log "cannot add ${name} with uid ${uid}: an account ${name} exists with uid ${current}"
            pending=1
            continue
        fi
        holder=$(getent passwd "${uid}" | cut -d: -f1) || holder=""
        if [[ -n "${holder}" ]]; then
            log "not adding ${name} yet: uid ${uid} still belongs to ${holder}"
            pending=1
            continue
        fi
        if ! getent group "${name}" >/dev/null; then
            holder=$(getent group "${uid}" | cut -d: -f1) || holder=""
            if [[ -n "${holder}" ]]; then
                log "not adding ${name} yet: gid ${uid} belongs to group ${holder}"
                pending=1
                continue
            fi
            groupadd --gid "${uid}" "${name}"
        fi
        # Homes live on NFS (the storage controller makes them): never created here.
        useradd --uid "${uid}" --gid "${uid}" --comment "${marker}" --no-create-home \
            --home-dir "/home/${name}" --shell /bin/bash "${name}"
        log "${name} (uid ${uid}) added"
    done
    return "${pending}"
}

# SIGHUP to the master that runs this daemon: a DaemonCore daemon reconfigures on SIGHUP, and the
# master then reconfigures every daemon it runs (HTCondor manual, admin-manual/daemoncore.rst), as
# condor_reconfig would, without authenticating (a tool run by root authenticates with FS as
# condor@, which is no ADMINISTRATOR of the schedd or the startd).
reconfigure() {
    local master=${PPID}
    # comm, not the exe link: the master is not dumpable, its exe link needs CAP_SYS_PTRACE.
    if [[ "$(cat "/proc/${master}/comm" 2>/dev/null)" != condor_master ]]; then
        log "the parent process ${master} is not a condor_master"
        return 1
    fi
    kill -HUP "${master}"
}

# The kubelet rewrites a Secret volume in place as it does a ConfigMap's (AtomicWriter); the
# official images copy it only at start (build/docker/services/base/update-secrets: tokens-orig.d ->
# tokens.d, passwords-orig.d -> passwords.d, root 0600). This does the same copy whenever a file
# differs: write beside, then rename, so a daemon never reads half a token. HTCondor reads these
# files at every new authentication (src/condor_io/condor_auth_passwd.cpp findTokens scans
# SEC_TOKEN_DIRECTORY; src/condor_utils/store_cred.cpp getTokenSigningKey reads the key file), so
# nothing restarts: sessions and claims already established (running jobs) go on.
secrets_pairs=${INCANT_SECRETS_PAIRS:-/etc/condor/tokens-orig.d:/etc/condor/tokens.d /etc/condor/passwords-orig.d:/etc/condor/passwords.d}

sync_secrets() {
    local pair from to src name f tmp
    for pair in ${secrets_pairs}; do
        from=${pair%%:*}
        to=${pair#*:}
        [[ -d "${from}" && -d "${to}" ]] || continue
        src=${from}
        if [[ -L "${from}/..data" ]]; then src=$(readlink -f "${from}/..data"); fi
        for f in "${src}"/*; do
            [[ -f "${f}" ]] || continue
            name=${f##*/}
            if ! cmp -s "${f}" "${to}/${name}"; then
                tmp=$(mktemp "${to}/.${name}.XXXXXX")
                install -o root -g root -m 0600 "${f}" "${tmp}"
                mv -f "${tmp}" "${to}/${name}"
                log "${to}/${name} updated from ${from}"
            fi
        done
    done
}

watch_users() {
    local period=${1:-10} last="" now dir pending=0
    # The master signals its non-DaemonCore daemons on reconfig: a HUP must not end the loop.
    trap '' HUP
    trap 'exit 0' TERM INT QUIT
    while true; do
        sync_secrets || log "could not update the pod's tokens or keys: trying again in ${period} s"
        dir=$(snapshot_dir)
        if [[ -f "${dir}/users" ]]; then
            now=$(digest "${dir}")
            if [[ "${now}" != "${last}" || "${pending}" == 1 ]]; then
                pending=0
                sync_users "${dir}/users" || pending=1
                if [[ "${now}" != "${last}" ]]; then
                    if reconfigure; then
                        log "users ${now:0:12} applied; daemons reconfigured"
                        last=${now}
                    else
                        log "could not reconfigure the daemons: trying again in ${period} s"
                    fi
                fi
            fi
        else
            log "${users_dir}/users is missing: nothing changed"
        fi
        sleep "${period}" &
        wait $! || true
    done
}

case "${1:-}" in
    sync)
        sync_users "$(snapshot_dir)/users"
        ;;
    sync-secrets)
        sync_secrets
        ;;
    watch)
        if [[ -n "${log_file}" ]]; then exec 2>>"${log_file}"; fi
        watch_users "${2:-10}"
        ;;
    *)
        echo "usage: $0 sync | sync-secrets | watch [seconds]" >&2
        exit 2
        ;;
esac
