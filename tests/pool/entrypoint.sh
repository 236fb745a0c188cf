#!/bin/bash
# The official HTCondor images' start-up, as the loopback pool's pods run it (htcondor/htcondor
# build/docker/services/base: update-secrets copies the mounted tokens and keys in with mode 0600,
# update-config copies /root/config/*.conf into config.d and runs /root/config/pre-exec.sh,
# then the master runs in the foreground). $1: "daemons" (condor_master) or "idle" (the submit
# container: tools only, it waits to be exec-ed into).
set -euo pipefail

install -d -m 0700 /etc/condor/tokens.d /etc/condor/passwords.d
for f in /etc/condor/tokens-orig.d/* /etc/condor/passwords-orig.d/*; do
    [[ -f "$f" ]] || continue
    dest=/etc/condor/$(basename "$(dirname "$f")" | sed 's/-orig//')/$(basename "$f")
    install -o root -g root -m 0600 "$f" "$dest"
done
install -d -m 0755 /etc/condor/config.d
for f in /root/config/*.conf; do
    [[ -f "$f" ]] && cp "$f" /etc/condor/config.d/
done
if [[ -f /root/config/pre-exec.sh ]]; then
    bash -x /root/config/pre-exec.sh
fi

if [[ "${1:-daemons}" == idle ]]; then
    exec sleep infinity
fi
exec condor_master -f
