# ATLAS software from CVMFS (mounted at /cvmfs by the CVMFS CSI driver in the pool, and by the
# CVMFS service container on the submit host): `setupATLAS`, then `lsetup ...`.
export ATLAS_LOCAL_ROOT_BASE=/cvmfs/atlas.cern.ch/repo/ATLASLocalRootBase
# A function, not an alias: a non-interactive shell expands no aliases, and jobs' own scripts
# read this file too (BASH_ENV, set for every job by the workers' STARTER_JOB_ENVIRONMENT).
setupATLAS() {
    # shellcheck source=/dev/null
    . "${ATLAS_LOCAL_ROOT_BASE}/user/atlasLocalSetup.sh" "$@"
}
# VOMS: the ATLAS vomses and LSC files installed in the image.
export X509_VOMS_DIR=/etc/grid-security/vomsdir
export X509_VOMSES=/etc/vomses
