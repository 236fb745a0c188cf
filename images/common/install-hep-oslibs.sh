#!/bin/bash
# Adds HEP_OSlibs to an official HTCondor EL9 image (run by the worker and submit Dockerfiles, as
# root, with the build context's common/ at $1): the meta-package of the OS libraries the LHC
# experiments' software expects (ATLAS releases and the LCG views from CVMFS link against them),
# maintained by CERN (gitlab.cern.ch/linuxsupport/rpms/HEP_OSlibs) and published in the WLCG
# repository. Its dependencies come from the EL9 repositories, CRB included, which the HTCondor
# images enable (htcondor/htcondor build/docker/services/base/container-install-htcondor.sh).
set -euo pipefail

src=${1:?usage: install-hep-oslibs.sh <common dir>}

install -m 0644 "${src}/wlcg-el9.repo" /etc/yum.repos.d/wlcg-el9.repo
dnf -y install --setopt=install_weak_deps=False --enablerepo=wlcg HEP_OSlibs
rpm -q HEP_OSlibs
dnf clean all
rm -rf /var/cache/dnf
