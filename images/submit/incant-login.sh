# Login environment of the physicists in the submit container (/etc/profile.d; issue 14).
# Facility users (uid 2000 and up, components/config/accounts.ts USER_UID_MIN) have a runtime
# directory only they can enter (0700, made by incant-access-sync): their bearer token lives
# there, where HTCondor's tools look for it (BEARER_TOKEN_FILE, else $XDG_RUNTIME_DIR/bt_u<uid>).
incant_uid=$(id -u)
if [ "$incant_uid" -ge 2000 ] && [ -d "/run/user/$incant_uid" ] && [ -O "/run/user/$incant_uid" ]; then
    export XDG_RUNTIME_DIR="/run/user/$incant_uid"
    export BEARER_TOKEN_FILE="$XDG_RUNTIME_DIR/bt_u$incant_uid"
fi
unset incant_uid
