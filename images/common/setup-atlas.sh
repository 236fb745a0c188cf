# ATLAS software from CVMFS (mounted at /cvmfs by the CVMFS CSI driver in the pool, and by the
# CVMFS service container on the submit host): `setupATLAS`, then `lsetup ...`.
export ATLAS_LOCAL_ROOT_BASE=/cvmfs/atlas.cern.ch/repo/ATLASLocalRootBase
alias setupATLAS='source ${ATLAS_LOCAL_ROOT_BASE}/user/atlasLocalSetup.sh'
# VOMS: the ATLAS vomses and LSC files installed in the image.
export X509_VOMS_DIR=/etc/grid-security/vomsdir
export X509_VOMSES=/etc/vomses
