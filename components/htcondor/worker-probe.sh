#!/bin/bash
# Exec probe of the worker pods (components/htcondor/health.ts, manifests.ts).
#   worker-probe.sh live   the startd answers an authenticated ping (a hung startd behind a
#                          listening shared port fails it, which a TCP probe would not see)
#   worker-probe.sh ready  ... and the collector has its slots with HasCvmfs true (published by the
#                          startd cron cvmfs-health.sh): "ready" means "this worker can run jobs"
# Runs as root in the pod: the HTCondor tools authenticate to the local startd with FS.
set -uo pipefail

mode=${1:-ready}
if [[ "${mode}" != live && "${mode}" != ready ]]; then
    echo "usage: worker-probe.sh live|ready" >&2
    exit 2
fi

address_file=$(condor_config_val STARTD_ADDRESS_FILE 2>/dev/null) || { echo "condor_config_val failed"; exit 1; }
if [[ ! -r "${address_file}" ]]; then
    echo "no startd address file (${address_file}): the startd is not up"
    exit 1
fi
address=$(head -n 1 "${address_file}")

# The startd's own command socket answers an authenticated READ (HTCondor 24.0's startd answers no
# direct ad query: QUERY_STARTD_ADS is not registered there).
if ! ping=$(timeout 8 condor_ping -addr "${address}" -type STARTD READ 2>&1); then
    echo "the startd does not answer at ${address}: ${ping}"
    exit 1
fi
[[ "${mode}" == live ]] && exit 0

# Its slots as the pool sees them (the negotiator matches what the collector has).
machine=$(condor_config_val FULL_HOSTNAME 2>/dev/null)
if ! slots=$(timeout 8 condor_status -constraint "Machine == \"${machine}\"" -af Name HasCvmfs 2>&1) || [[ -z "${slots}" ]]; then
    echo "no slot of ${machine} in the collector: ${slots}"
    exit 1
fi
if grep -qv ' true$' <<< "${slots}"; then
    echo "cannot run jobs (HasCvmfs): ${slots}"
    exit 1
fi
