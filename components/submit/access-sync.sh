#!/bin/bash
# The submit container's physicists' accounts, from the access list the host keeps up to date
# (components/submit/access.ts, update-users.sh). Runs as root in the container: as its pre-exec
# before the daemons start (the HTCondor images' start.sh runs /root/config/pre-exec.sh) and
# through `docker exec` whenever incant:users changes, without a restart.
#  - a listed user: their group and account with the facility uid (as in the pool's pods, so
#    files on the NFS homes keep their owner), in the login group and in no other supplementary
#    group (never wheel or docker), account not expired, a 0700 runtime directory for tokens;
#  - a member of the login group no longer listed: out of the group (sshd's AllowGroups), the
#    account expired (PAM's account check), their processes killed (open sessions end) and
#    their runtime directory, with its tokens, deleted. The account stays, so its uid keeps
#    owning the user's files and a re-added user finds them.
set -euo pipefail

# Overridable only so the tests can run it in a scratch namespace.
ACCESS_DIR=${ACCESS_DIR:-/etc/incant/access}
RUNTIME_ROOT=${RUNTIME_ROOT:-/run/user}
LOGIN_GROUP=${LOGIN_GROUP:-incant-users}
HOME_ROOT=${HOME_ROOT:-/home}
users_file="$ACCESS_DIR/users"

fail() { echo "incant-access-sync: $*" >&2; exit 1; }
[ -r "$users_file" ] || fail "no ${users_file}"

getent group "$LOGIN_GROUP" >/dev/null || groupadd --system "$LOGIN_GROUP"

declare -A listed=()
while read -r name uid; do
    [[ -z "${name}" || "${name}" == \#* ]] && continue
    [[ "$name" =~ ^[a-z_][a-z0-9_-]{0,31}$ && "$uid" =~ ^[0-9]+$ ]] || fail "not a '<name> <uid>' line: ${name} ${uid}"
    listed[$name]=1
    getent group "$name" >/dev/null || groupadd --gid "$uid" "$name"
    if ! getent passwd "$name" >/dev/null; then
        useradd --uid "$uid" --gid "$uid" --no-create-home --home-dir "$HOME_ROOT/$name" --shell /bin/bash "$name"
    fi
    [ "$(id -u "$name")" = "$uid" ] || fail "${name} exists with uid $(id -u "$name"), not ${uid}"
    if [ "$(id -Gn "$name")" != "$(id -gn "$name") $LOGIN_GROUP" ] || [ -n "$(getent shadow "$name" | cut -d: -f8)" ]; then
        usermod --groups "$LOGIN_GROUP" --expiredate '' "$name"
    fi
    install -d -m 0700 -o "$uid" -g "$uid" "$RUNTIME_ROOT/$uid"
done < "$users_file"

IFS=, read -r -a members <<< "$(getent group "$LOGIN_GROUP" | cut -d: -f4)"
for name in "${members[@]}"; do
    if [ -z "$name" ] || [ -n "${listed[$name]:-}" ]; then continue; fi
    uid=$(id -u "$name")
    gpasswd --delete "$name" "$LOGIN_GROUP" >/dev/null
    usermod --expiredate 1 "$name"
    pkill -KILL -u "$uid" || true
    rm -rf "${RUNTIME_ROOT:?}/${uid}"
    echo "incant-access-sync: ${name} removed: login refused, sessions ended, tokens deleted" >&2
done
