#!/bin/bash
# Runs as root in every HTCondor pod before the daemons start (the official images' hook,
# /root/config/pre-exec.sh). Creates the facility's users (/etc/condor/incant/users, the users
# ConfigMap: "<name> <uid>" per line) with the same uid everywhere, so a job runs as its owner and
# owns its files on the NFS homes and scratch; later changes are applied live by the same script,
# run by the master (pool-users.sh watch, components/htcondor/users.ts).
set -euo pipefail

/etc/condor/incant-users-script/pool-users.sh sync

# The schedd's spool is a bare node directory on its first start (a Kubernetes local volume,
# SCHEDD_SPOOL in manifests.ts): give it the owner and mode the HTCondor packages give theirs.
spool=/var/lib/condor/spool
if [[ -d "${spool}" && "$(stat -c %U "${spool}")" != condor ]]; then
    chown condor:condor "${spool}"
    chmod 0755 "${spool}"
fi

# The worker's execute directory is an emptyDir, which kubelet creates root:root 0777. The startd
# accepts a directory it does not own only at 01777 and chmods it after dropping to the condor
# uid, which fails (EPERM) and the startd exits (check_execute_dir_perms, HTCondor 24.0
# src/condor_startd.V6/util.cpp). Own it as the packages own theirs: condor, 0755.
execute=/var/lib/condor/execute
if [[ -d "${execute}" ]]; then
    chown condor:condor "${execute}"
    chmod 0755 "${execute}"
fi
