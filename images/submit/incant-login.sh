# Login environment of the physicists in the submit container (/etc/profile.d; issue 14).
# Facility users (uid 2000 and up, components/config/accounts.ts USER_UID_MIN) have a runtime
# directory only they can enter (0700, made by incant-access-sync): their bearer token lives
# there, where HTCondor's tools look for it (BEARER_TOKEN_FILE, else $XDG_RUNTIME_DIR/bt_u<uid>).
incant_uid=$(id -u)
if [ "$incant_uid" -ge 2000 ] && [ -d "/run/user/$incant_uid" ] && [ -O "/run/user/$incant_uid" ]; then
    export XDG_RUNTIME_DIR="/run/user/$incant_uid"
    export BEARER_TOKEN_FILE="$XDG_RUNTIME_DIR/bt_u$incant_uid"
    # The user's oidc-agent: started, or reconnected to (OIDC_SOCK), and a refresher that keeps
    # BEARER_TOKEN_FILE current while they are logged in (incant-token-refresh; one per user).
    if command -v oidc-agent-service > /dev/null 2>&1; then
        eval "$(oidc-agent-service use 2> /dev/null)" > /dev/null
        if [ -n "${OIDC_SOCK:-}" ] && command -v incant-token-refresh > /dev/null 2>&1; then
            setsid -f incant-token-refresh > /dev/null 2>&1 < /dev/null
        fi
    fi
fi
unset incant_uid
