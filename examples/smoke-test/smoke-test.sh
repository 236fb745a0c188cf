#!/bin/bash
# INCANT smoke test job (submitted with smoke-test.sub from the submit host).
#
# On a worker of the pool it:
#   1. reads /cvmfs/atlas.cern.ch: the repository's revision and the ATLAS setup script
#      (ATLASLocalRootBase), which proves the CVMFS mount reached the job;
#   2. writes a small flat n-tuple to the shared scratch: a CSV file, one row per toy event
#      (run, event, jet multiplicity, leading-jet pT and eta, missing ET), generated with a seed
#      taken from the job id so a rerun gives the same file;
#   3. prints a summary on stdout, which HTCondor returns to the submitter.
#
# Usage: smoke-test.sh <cluster> <proc> <output directory on the shared scratch> [events]
set -euo pipefail

cluster=${1:?cluster id}
proc=${2:?process id}
outdir=${3:?output directory}
events=${4:-100}
repo=${CVMFS_ATLAS:-/cvmfs/atlas.cern.ch}

echo "INCANT smoke test ${cluster}.${proc} on $(hostname) as $(id -un) at $(date -u +%Y-%m-%dT%H:%M:%SZ)"

# 1. CVMFS.
[ -d "$repo/repo" ] || { echo "FAIL: $repo/repo is not there: CVMFS is not mounted on this worker" >&2; exit 2; }
setup="$repo/repo/ATLASLocalRootBase/user/atlasLocalSetup.sh"
[ -r "$setup" ] || { echo "FAIL: $setup is not readable" >&2; exit 2; }
# CVMFS publishes the repository revision as an extended attribute of its root.
revision=$(python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "user.revision").decode())' "$repo" 2>/dev/null || echo unknown)
echo "CVMFS: $repo revision $revision, $(find "$repo/repo" -mindepth 1 -maxdepth 1 | wc -l) entries in repo/, setupATLAS available"

# 2. The n-tuple, written to a temporary name and renamed, so a reader never sees half a file.
mkdir -p "$outdir"
ntuple="$outdir/ntuple_${cluster}_${proc}.csv"
awk -v seed="$((cluster * 1000 + proc))" -v events="$events" -v run="$cluster" -v revision="$revision" 'BEGIN {
    srand(seed)
    printf "# INCANT smoke test n-tuple: toy events; CVMFS atlas.cern.ch revision %s\n", revision
    print "run,event,n_jets,lead_jet_pt_gev,lead_jet_eta,met_gev"
    for (i = 1; i <= events; i++) {
        n = int(rand() * 6)
        pt = n > 0 ? 20 + (-40 * log(1 - rand())) : 0
        eta = n > 0 ? (rand() * 5) - 2.5 : 0
        met = -25 * log(1 - rand())
        printf "%d,%d,%d,%.2f,%.3f,%.2f\n", run, i, n, pt, eta, met
    }
}' > "$ntuple.tmp"
mv "$ntuple.tmp" "$ntuple"

# 3. What comes back to the submitter.
rows=$(($(wc -l < "$ntuple") - 2))
echo "n-tuple: $ntuple ($rows events, $(wc -c < "$ntuple") bytes)"
head -n 5 "$ntuple"
echo "OK"
