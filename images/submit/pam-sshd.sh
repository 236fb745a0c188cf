#!/bin/sh
# sshd's PAM stack for the submit container (run at image build; the loopback test runs it on
# its copy of Debian's stack). Usage: pam-sshd.sh [/etc/pam.d/sshd]
#  - pam_loginuid cannot write /proc/self/loginuid without CAP_AUDIT_CONTROL, which the
#    container does not get: as "required" it would refuse every login, so it becomes
#    "optional" (the per-user audit trail is sshd's own VERBOSE log: user and key fingerprint);
#  - pam_limits applies the per-user limits (limits.d/90-incant-users.conf) at login: added
#    to the session stack when the file does not name it itself (EL9 has it in password-auth,
#    Debian in sshd; a second pass applies the same limits).
set -eu
f=${1:-/etc/pam.d/sshd}
sed -i -E 's/^(session[[:space:]]+)required([[:space:]]+pam_loginuid\.so)/\1optional\2/' "$f"
grep -Eq '^session[[:space:]]+required[[:space:]]+pam_limits\.so' "$f" \
    || echo 'session    required     pam_limits.so' >> "$f"
