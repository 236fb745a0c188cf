#!/bin/bash
# Adds the ATLAS analysis clients to an official HTCondor EL9 image (run by each Dockerfile, as
# root, with the build context's common/ at $1):
#   Kerberos (CERN.CH realm), VOMS clients with the ATLAS vomses and LSC files, the IGTF CAs,
#   the XRootD client, the NFS client, and the CVMFS client configuration and ATLAS setup.
# Build arguments arrive as environment variables: CVMFS_REPOSITORIES, CVMFS_HTTP_PROXY.
set -euo pipefail

src=${1:?usage: install-atlas-clients.sh <common dir>}

# EPEL (voms-clients-cpp, xrootd-client) is enabled in the HTCondor images already.
install -m 0644 "${src}/egi-trustanchors.repo" /etc/yum.repos.d/egi-trustanchors.repo
dnf -y install --setopt=install_weak_deps=False \
    krb5-workstation \
    voms-clients-cpp \
    xrootd-client \
    nfs-utils \
    ca-policy-egi-core
dnf clean all
rm -rf /var/cache/dnf

install -m 0644 "${src}/krb5.conf" /etc/krb5.conf
install -d -m 0755 /etc/vomses /etc/grid-security/vomsdir/atlas
install -m 0644 "${src}"/vomses/* /etc/vomses/
install -m 0644 "${src}"/vomsdir/atlas/*.lsc /etc/grid-security/vomsdir/atlas/
install -m 0644 "${src}/setup-atlas.sh" /etc/profile.d/setup-atlas.sh

# CVMFS client configuration, for tools that read it (cvmfs_config showconfig); the mounts
# themselves come from the CVMFS CSI driver (pool) or the CVMFS service container (submit host).
install -d -m 0755 /etc/cvmfs /cvmfs
printf 'CVMFS_REPOSITORIES=%s\nCVMFS_HTTP_PROXY=%s\n' \
    "${CVMFS_REPOSITORIES:?}" "${CVMFS_HTTP_PROXY:?}" > /etc/cvmfs/default.local
