#!/bin/bash
# Facility users' files under a worker's /tmp and /var/tmp (issue 12, components/htcondor/health.ts).
# A job's sandbox is its execute directory: TMPDIR points there, the starter counts it in DiskUsage
# and POLICY:HOLD_IF_DISK_EXCEEDED holds the job. /tmp and /var/tmp are the worker container's own
# directories, on the node's disk, outside every sandbox: a job that fills them would have the
# kubelet evict the whole pod, every job on it. Two halves, because the startd runs its cron jobs as
# the condor user (src/condor_utils/cron_job.cpp: set_user_ids(get_condor_uid(), ...)), which can
# neither read a user's private directories nor delete a user's files:
#
#   tmp-guard.sh watch PERIOD UID_MIN UID_MAX DIR...
#       root, the master's INCANT_TMP_GUARD daemon. Every PERIOD seconds, in each DIR (not crossing
#       into other mounts, never following a symbolic link): removes the files of every uid in
#       UID_MIN..UID_MAX (the facility's users) that has no process left in the pod (a finished or
#       held job's leftovers, so that the user's next job starts clean), then writes each such
#       uid's usage, "<login> <KiB>" per line, to the state file (root's, 0644: the cron reads it).
#   tmp-guard.sh publish LIMIT_MIB MAX_AGE_SECONDS
#       the startd cron (condor): reads the state file and prints the slot attributes
#         IncantTmpOverUsers = "<login>,..."      users above LIMIT_MIB on this worker
#         IncantTmpOverUsage = "<login>:<MiB>,..." how much each of them holds there
#         IncantTmpGuardOk = true|false           false when the state file is missing, unreadable
#                                                 or older than MAX_AGE_SECONDS (then nobody is listed)
# The daemon logs what it removes to INCANT_TMP_GUARD_LOG (/var/log/condor/TmpGuardLog);
# INCANT_TMP_GUARD_STATE overrides the state file (tests only).
set -uo pipefail

state=${INCANT_TMP_GUARD_STATE:-/run/incant-tmp-guard/usage}
state_dir=${state%/*}
log_file=${INCANT_TMP_GUARD_LOG:-/var/log/condor/TmpGuardLog}
login_re='^[a-z_][a-z0-9_-]*$'

log() { printf '%s tmp-guard[%s]: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$$" "$*" >&2; }

# Every real or effective uid of a process in the pod, one per line (a job, its starter after the
# switch to the owner). In a pod, /proc shows the container's processes only.
busy_uids() {
    local status key real effective _rest
    for status in /proc/[0-9]*/status; do
        { while read -r key real effective _rest; do
            if [[ "${key}" == Uid: ]]; then
                printf '%s\n%s\n' "${real}" "${effective}"
                break
            fi
        done < "${status}"; } 2>/dev/null || true
    done
}

# "<uid> <KiB>" per facility uid with anything in the directories: blocks allocated (what fills the
# disk), directories included. find prints no file name, so no name can inject a line.
usage_by_uid() {
    local lo=$1 hi=$2
    shift 2
    find -P "$@" -xdev -printf '%U %b\n' 2>/dev/null |
        awk -v lo="${lo}" -v hi="${hi}" '$1 >= lo && $1 <= hi { kib[$1] += $2 / 2 }
            END { for (u in kib) printf "%d %d\n", u, kib[u] }'
}

# One pass of the root daemon: the leftovers of idle uids, then the state file.
guard_once() {
    local lo=$1 hi=$2 uid kib login stamp tmp removed
    shift 2
    local -a dirs=()
    local d
    for d in "$@"; do
        # The configured directories themselves, never a symbolic link standing in for one.
        if [[ -d "${d}" && ! -L "${d}" ]]; then dirs+=("${d}"); fi
    done
    [[ ${#dirs[@]} -gt 0 ]] || return 0
    # Files changed after this stamp are kept: a job of that uid may have started since the check.
    stamp=$(mktemp "${state_dir}/.stamp.XXXXXX") || return 1
    local -A busy=()
    while read -r uid; do busy[${uid}]=1; done < <(busy_uids)
    while read -r uid kib; do
        [[ -n "${busy[${uid}]:-}" ]] && continue
        # -uid tests each entry's own owner (lstat, -P): a user's symbolic link is removed, never
        # what it points at; -xdev stays on each directory's file system; -delete unlinks relative to
        # the directory find has open (no path re-resolved), and a directory that still holds
        # another uid's files stays.
        # One character per entry removed (-printf after -delete runs only when it succeeded).
        removed=$(find -P "${dirs[@]}" -xdev -mindepth 1 -uid "${uid}" ! -newer "${stamp}" -delete -printf x 2>/dev/null | wc -c)
        if (( removed > 0 )); then
            login=$(getent passwd "${uid}" | cut -d: -f1) || login=""
            log "removed the leftovers of uid ${uid} ${login:+(${login}) }in ${dirs[*]}: ${removed} entries of ${kib} KiB, no process left"
        fi
    done < <(usage_by_uid "${lo}" "${hi}" "${dirs[@]}")
    rm -f "${stamp}"

    tmp=$(mktemp "${state_dir}/.usage.XXXXXX") || return 1
    while read -r uid kib; do
        login=$(getent passwd "${uid}" | cut -d: -f1) || login=""
        # A uid without an account runs no job here; a name the ad could not carry is left out.
        if [[ "${login}" =~ ${login_re} ]]; then printf '%s %s\n' "${login}" "${kib}"; fi
    done < <(usage_by_uid "${lo}" "${hi}" "${dirs[@]}") > "${tmp}"
    # The cron reads it as condor: readable by all, written by root only (logins and sizes, which
    # condor_status shows of running jobs anyway).
    chmod 0644 "${tmp}"
    mv -f "${tmp}" "${state}"
}

watch_tmp() {
    local period=$1 lo=$2 hi=$3
    shift 3
    if [[ ! "${period}" =~ ^[1-9][0-9]*$ || ! "${lo}" =~ ^[1-9][0-9]*$ || ! "${hi}" =~ ^[1-9][0-9]*$ ]] || (( lo > hi )); then
        log "usage: watch PERIOD UID_MIN UID_MAX DIR... (got ${period} ${lo} ${hi})"
        exit 2
    fi
    install -d -o root -g root -m 0755 "${state_dir}"
    # The master signals its non-DaemonCore daemons on reconfig: a HUP must not end the loop.
    trap '' HUP
    trap 'exit 0' TERM INT QUIT
    while true; do
        guard_once "${lo}" "${hi}" "$@" || log "could not measure ${*}: trying again in ${period} s"
        sleep "${period}" &
        wait $! || true
    done
}

publish() {
    local limit_mib=$1 max_age=$2 now mtime login kib
    local -a over=() usage=()
    if [[ ! "${limit_mib}" =~ ^[1-9][0-9]*$ || ! "${max_age}" =~ ^[1-9][0-9]*$ ]]; then
        echo "usage: publish LIMIT_MIB MAX_AGE_SECONDS" >&2
        exit 2
    fi
    now=$(date +%s)
    mtime=$(stat -c %Y -- "${state}" 2>/dev/null) || mtime=0
    if (( now - mtime > max_age )) || [[ ! -r "${state}" ]]; then
        printf 'IncantTmpOverUsers = ""\nIncantTmpOverUsage = ""\nIncantTmpGuardOk = false\n'
        return 0
    fi
    while read -r login kib; do
        [[ "${login}" =~ ${login_re} && "${kib}" =~ ^[0-9]+$ ]] || continue
        if (( kib > limit_mib * 1024 )); then
            over+=("${login}")
            usage+=("${login}:$((kib / 1024))")
        fi
    done < "${state}"
    (IFS=,; printf 'IncantTmpOverUsers = "%s"\nIncantTmpOverUsage = "%s"\nIncantTmpGuardOk = true\n' "${over[*]}" "${usage[*]}")
}

case "${1:-}" in
    watch)
        [[ $# -ge 5 ]] || { echo "usage: $0 watch PERIOD UID_MIN UID_MAX DIR..." >&2; exit 2; }
        shift
        if [[ -n "${log_file}" ]]; then exec 2>>"${log_file}"; fi
        watch_tmp "$@"
        ;;
    once)
        # One pass of the daemon (tests): once UID_MIN UID_MAX DIR...
        [[ $# -ge 4 ]] || { echo "usage: $0 once UID_MIN UID_MAX DIR..." >&2; exit 2; }
        shift
        install -d -o root -g root -m 0755 "${state_dir}"
        guard_once "$@"
        ;;
    publish)
        [[ $# -eq 3 ]] || { echo "usage: $0 publish LIMIT_MIB MAX_AGE_SECONDS" >&2; exit 2; }
        publish "$2" "$3"
        ;;
    *)
        echo "usage: $0 watch PERIOD UID_MIN UID_MAX DIR... | once UID_MIN UID_MAX DIR... | publish LIMIT_MIB MAX_AGE_SECONDS" >&2
        exit 2
        ;;
esac
