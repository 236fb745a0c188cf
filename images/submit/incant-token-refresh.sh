#!/bin/bash
# Keeps the user's bearer token file valid while they are logged in to the submit container
# (issue 14): every INCANT_TOKEN_REFRESH_SECONDS it asks the user's oidc-agent for an access
# token for the pool (oidc-token --aud, valid at least two periods; the agent returns its cached
# token while that one still is) and renames it over BEARER_TOKEN_FILE (0600, in the user's
# 0700 runtime directory), so HTCondor's tools always read a whole, current token. A failed
# request leaves the previous file alone. One refresher per user (a lock in the runtime
# directory); it ends when the user has no ssh session left. Started by /etc/profile.d/incant-login.sh.
set -uo pipefail
: "${BEARER_TOKEN_FILE:?}" "${XDG_RUNTIME_DIR:?}" "${INCANT_TOKEN_AUDIENCE:?}"
account=${INCANT_OIDC_ACCOUNT:-incant}
period=${INCANT_TOKEN_REFRESH_SECONDS:-300}
oidc_token=${INCANT_OIDC_TOKEN:-oidc-token}
uid=$(id -u)

exec 9> "$XDG_RUNTIME_DIR/token-refresh.lock"
flock -n 9 || exit 0
umask 077

# sshd's per-session processes run as the user and are named sshd.
while pgrep -u "$uid" -x sshd > /dev/null; do
    new="$BEARER_TOKEN_FILE.new"
    if "$oidc_token" --aud "$INCANT_TOKEN_AUDIENCE" --time "$((period * 2))" "$account" > "$new" 2> /dev/null && [ -s "$new" ]; then
        mv -f "$new" "$BEARER_TOKEN_FILE"
    else
        rm -f "$new"
    fi
    sleep "$period"
done
