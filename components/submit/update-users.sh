#!/bin/bash
# Installs the physicists' access list on the submit host and applies it in the running submit
# container, restarting nothing: the Pulumi program runs it over SSH whenever incant:users or a
# user's key changes (components/submit/host.ts), as incant-update-users does on the storage
# controller, so no session is dropped and the container is not re-created.
# Usage: incant-submit-users TIMEOUT_SECONDS < access.list
#   stdin: one `user <name> <uid> <OpenSSH public key | ->` line per user (access.ts renderAccessList)
# Writes ACCESS_DIR/users ("<name> <uid>") and ACCESS_DIR/authorized_keys/<name>, each file
# replaced whole; a user no longer listed loses their key file first. Then, if the container
# runs, `docker exec` runs its account sync (access-sync.sh); a container that starts later runs
# it as its pre-exec. Nothing is changed when stdin is not a valid list.
set -euo pipefail
timeout_seconds=${1:?usage: incant-submit-users TIMEOUT_SECONDS < access.list}

# Overridable only so the tests can run this script in a scratch directory with a stand-in docker.
ACCESS_DIR=${ACCESS_DIR:-/etc/incant/submit/access}
CONTAINER=${CONTAINER:-incant-submit}
SYNC=${SYNC:-/root/config/pre-exec.sh}
DOCKER=${DOCKER:-docker}

fail() { echo "incant-submit-users: FAILED: $*" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
: > "$work/users"
# One OpenSSH public key line, as incant:users[].sshPublicKey is validated (components/config/validate.ts).
key_re='^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( [ -~]*)?$'
line_re='^user ([a-z_][a-z0-9_-]{0,31}) ([0-9]+) (.*)$'
while IFS= read -r line || [ -n "$line" ]; do
    [[ "$line" =~ $line_re ]] || fail "not an access line: '${line:0:40}'"
    name=${BASH_REMATCH[1]} uid=${BASH_REMATCH[2]} key=${BASH_REMATCH[3]}
    [[ "$key" == - || "$key" =~ $key_re ]] || fail "the key of ${name} is not one OpenSSH public key line"
    if grep -q "^${name} " "$work/users"; then fail "${name} is listed twice"; fi
    printf '%s %s\n' "$name" "$uid" >> "$work/users"
    if [ "$key" != - ]; then printf '%s\n' "$key" > "$work/key.$name"; fi
done

install -d -m 0755 "$ACCESS_DIR" "$ACCESS_DIR/authorized_keys"
# Revocation first: the key of a user no longer listed (or listed without a key) goes at once.
for f in "$ACCESS_DIR"/authorized_keys/*; do
    [ -e "$f" ] || continue
    [ -e "$work/key.${f##*/}" ] || rm -f "$f"
done
# Each file written beside and renamed: sshd never reads half a key list.
for f in "$work"/key.*; do
    [ -e "$f" ] || continue
    name=${f##*/key.}
    install -m 0644 "$f" "$ACCESS_DIR/authorized_keys/.$name.new"
    mv -f "$ACCESS_DIR/authorized_keys/.$name.new" "$ACCESS_DIR/authorized_keys/$name"
done
install -m 0644 "$work/users" "$ACCESS_DIR/.users.new"
mv -f "$ACCESS_DIR/.users.new" "$ACCESS_DIR/users"

running=$("$DOCKER" inspect --format '{{.State.Running}}' "$CONTAINER" 2>/dev/null || echo absent)
if [ "$running" = true ]; then
    timeout "$timeout_seconds" "$DOCKER" exec "$CONTAINER" "$SYNC" \
        || fail "the account sync in ${CONTAINER} failed: see the lines above"
else
    echo "incant-submit-users: ${CONTAINER} is not running (${running}): it applies the list when it starts" >&2
fi
