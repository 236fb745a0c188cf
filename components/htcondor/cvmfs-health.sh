#!/bin/bash
# Startd cron job of the workers (STARTD_CRON_CVMFS, components/htcondor/health.ts): checks every
# CVMFS repository named in the arguments and prints the startd attributes (HTCondor manual,
# "Startd Cron and Schedd Cron Daemon ClassAd Hooks": one `Attr = value` line each):
#   HasCvmfs                 true when every repository answers (the workers' START requires it)
#   CvmfsFailedRepositories  the ones that did not, comma-separated ("" when none)
# A repository answers when its root lists at least one entry within the timeout: a CVMFS root is
# never empty, while an autofs mount point whose mount failed is empty or returns an error, and a
# stuck FUSE mount hangs (hence `timeout`). CVMFS_ROOT overrides /cvmfs (tests only).
set -uo pipefail

root=${CVMFS_ROOT:-/cvmfs}
timeout_seconds=${CVMFS_CHECK_TIMEOUT:-20}
failed=()
checked=0

for repo in "$@"; do
    checked=$((checked + 1))
    # Only repository names: anything else can be neither a path under /cvmfs nor a ClassAd string.
    if [[ ! "${repo}" =~ ^[a-z0-9][a-z0-9.-]*$ ]]; then
        failed+=("invalid-name")
        continue
    fi
    if ! entries=$(timeout "${timeout_seconds}" ls -A -- "${root}/${repo}" 2>/dev/null) || [[ -z "${entries}" ]]; then
        failed+=("${repo}")
    fi
done

if [[ "${checked}" -gt 0 && "${#failed[@]}" -eq 0 ]]; then
    echo "HasCvmfs = true"
else
    echo "HasCvmfs = false"
fi
(IFS=,; echo "CvmfsFailedRepositories = \"${failed[*]}\"")
