#!/bin/bash
# AWS `credential_process` helper for rclone (s3.credentials "sts"): gets an IAM access token
# with the client credentials grant, exchanges it for temporary S3 keys with STS
# AssumeRoleWithWebIdentity on the RADOS Gateway, and prints them as credential_process JSON
# (Version 1, with Expiration, so the AWS SDK in rclone runs this again before they expire).
# No secret is ever put on a command line: curl reads them from standard input.
# Usage: s3-sts-credentials.sh ENV_FILE (see /etc/incant/s3-sts.env for the parameters).
set -euo pipefail
# shellcheck source=/dev/null
. "${1:?usage: $0 ENV_FILE}"
: "${IAM_TOKEN_ENDPOINT:?}" "${IAM_CLIENT_ID:?}" "${IAM_CLIENT_SECRET_FILE:?}" "${IAM_SCOPE:?}"
: "${STS_ENDPOINT:?}" "${STS_ROLE_ARN:?}" "${STS_DURATION_SECONDS:?}" "${STS_SESSION_NAME:?}"

secret=$(<"$IAM_CLIENT_SECRET_FILE")
# curl -K - reads its options (here the client's basic auth) from stdin; printf is a builtin.
token=$(printf 'user = "%s:%s"\n' "$IAM_CLIENT_ID" "$secret" |
    curl -fsS --max-time 30 -K - -d grant_type=client_credentials --data-urlencode "scope=$IAM_SCOPE" "$IAM_TOKEN_ENDPOINT" |
    jq -er .access_token)

response=$(printf '%s' "$token" |
    curl -fsS --max-time 30 \
        --data-urlencode Action=AssumeRoleWithWebIdentity \
        --data-urlencode Version=2011-06-15 \
        --data-urlencode "RoleArn=$STS_ROLE_ARN" \
        --data-urlencode "RoleSessionName=$STS_SESSION_NAME" \
        --data-urlencode "DurationSeconds=$STS_DURATION_SECONDS" \
        --data-urlencode "WebIdentityToken@-" \
        "$STS_ENDPOINT")

# One element of the STS answer (AssumeRoleWithWebIdentityResponse > Credentials). Key, token
# and timestamp characters need no XML or JSON escaping; anything else is refused.
field() {
    local value
    value=$(printf '%s' "$response" | tr -d '\r\n' | sed -n "s:.*<$1>\([^<]*\)</$1>.*:\1:p")
    if [[ ! "$value" =~ ^[A-Za-z0-9+/=._:-]+$ ]]; then
        echo "the STS answer has no usable $1" >&2
        return 1
    fi
    printf '%s' "$value"
}
key_id=$(field AccessKeyId)
secret_key=$(field SecretAccessKey)
session_token=$(field SessionToken)
expiration=$(field Expiration)
printf '{"Version": 1, "AccessKeyId": "%s", "SecretAccessKey": "%s", "SessionToken": "%s", "Expiration": "%s"}\n' \
    "$key_id" "$secret_key" "$session_token" "$expiration"
