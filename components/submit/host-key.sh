#!/bin/bash
# The host key of the physicists' sshd (the one inside the submit container), kept on the host so
# that a re-created container presents the same key; only a new VM makes a new one. The program
# runs it over SSH after the readiness gate (sudo -n bash -s -- DIR < host-key.sh) and publishes
# the line it prints (key type and base64 only) in the stack outputs, so clients can pin it.
# Usage: host-key.sh DIR (DIR is bound read-only into the container; components/submit/access.ts).
set -euo pipefail
dir=${1:?usage: host-key.sh DIR}
key="$dir/ssh_host_ed25519_key"

install -d -m 0700 "$dir"
if [ ! -s "$key" ] || [ ! -s "$key.pub" ]; then
    # Written beside and renamed: an interrupted run never leaves half a key for sshd to load.
    rm -f "$key.new" "$key.new.pub"
    ssh-keygen -q -t ed25519 -N '' -C incant-submit -f "$key.new"
    mv -f "$key.new.pub" "$key.pub"
    mv -f "$key.new" "$key"
fi
read -r type b64 _ < "$key.pub"
echo "$type $b64"
