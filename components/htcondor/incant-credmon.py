#!/usr/bin/python3
"""incant-credmon: the facility's OAuth credential monitor (components/htcondor/credentials.ts).

Follows HTCondor's credmon file protocol as htcondor/htcondor (branch 24.0) implements it:
- <cred-dir>/pid holds our pid; the credd SIGHUPs it after storing a credential
  (src/condor_utils/credmon_interface.cpp credmon_kick);
- <cred-dir>/<user>/<service>.top is the refresh token the credd wrote (JSON, as
  src/condor_utils/store_cred.cpp OAUTH_STORE_CRED stores it); we write <service>.use, the
  token endpoint's JSON answer (access_token, expires_in, ...), by an atomic rename, owned by
  root and private, which the shadow requires (src/condor_shadow.V6.1/NTreceivers.cpp
  CONDOR_getcreds, read_secure_file); again once half its lifetime has passed, as
  src/condor_credd/condor_credmon_oauth/credmon/CredentialMonitors/OAuthCredmon.py does;
- <cred-dir>/<user>.mark (the schedd, src/condor_schedd.V6/schedd.cpp: the user has had no job
  for a while) is the credd's to sweep after SEC_CREDENTIAL_SWEEP_DELAY; we keep refreshing
  until then, as upstream does, so a job submitted meanwhile finds a fresh token;
  <user>/<service>.mark older than a day: the service's files are deleted
  (OAuthCredmon.should_delete);
- <cred-dir>/CREDMON_COMPLETE is removed at start and touched after every scan
  (credmon/utils/utils.py credmon_incomplete, credmon_complete).

Python 3 without the htcondor module, not bash + curl + jq: the EL9 HTCondor images have
python3 (the condor packages need it) but no jq, and JSON, HTTPS with the system CA bundle and
signals are in the standard library. The master passes every setting on the command line
(CREDMON_OAUTH_ARGS), so nothing here reads the HTCondor configuration.
"""
import argparse
import grp
import json
import os
import re
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MARK_LIFETIME = 24 * 3600
LIFETIME_FRACTION = 0.5
# The first access token may take this long; the credd waits CREDD_POLLING_TIMEOUT (20 s).
HTTP_TIMEOUT = 15


def log(args, message):
    line = "%s incant-credmon: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), message)
    if args.log:
        with open(args.log, "a") as f:
            f.write(line)
    else:
        sys.stderr.write(line)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_private(directory, name, data, mode=0o600):
    """Writes data to directory/name through a temporary file and rename: root's, `mode`."""
    tmp = os.path.join(directory, ".%s.tmp-%d" % (name, os.getpid()))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, os.path.join(directory, name))


def should_renew(use_path):
    """True when there is no usable .use, or half its lifetime has passed."""
    try:
        token = read_json(use_path)
        lifetime = float(token["expires_in"])
        created = os.stat(use_path).st_mtime
    except (OSError, ValueError, KeyError, TypeError):
        return True
    return time.time() > created + lifetime * LIFETIME_FRACTION


def refresh(args, user_dir, service):
    """Exchanges <service>.top at the token endpoint; writes <service>.use (and a rotated .top)."""
    top_path = os.path.join(user_dir, service + ".top")
    try:
        top = read_json(top_path)
        refresh_token = top["refresh_token"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        log(args, "%s: no refresh token (%s)" % (top_path, type(e).__name__))
        return False
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": args.client_id}
    if args.scopes:
        form["scope"] = " ".join(args.scopes.split(","))
    if args.audience:
        form["audience"] = args.audience
    request = urllib.request.Request(args.token_url, data=urllib.parse.urlencode(form).encode(),
                                     headers={"Accept": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as e:
        # The error body is the endpoint's (RFC 6749 section 5.2), never the token.
        log(args, "%s: token endpoint answered %d %s" % (top_path, e.code, e.read(200).decode("utf-8", "replace")))
        return False
    except (OSError, ValueError) as e:
        log(args, "%s: token endpoint unreachable (%s)" % (top_path, e))
        return False
    if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str) or "expires_in" not in answer:
        log(args, "%s: the token endpoint's answer has no access_token or expires_in" % top_path)
        return False
    rotated = answer.pop("refresh_token", None)
    write_private(user_dir, service + ".use", (json.dumps(answer) + "\n").encode())
    if isinstance(rotated, str) and rotated != refresh_token:
        top["refresh_token"] = rotated
        write_private(user_dir, service + ".top", (json.dumps(top) + "\n").encode())
    log(args, "%s: refreshed (expires in %s s)" % (os.path.join(user_dir, service + ".use"), answer["expires_in"]))
    return True


def delete_service(args, user_dir, service):
    for ext in (".top", ".use", ".meta", ".mark"):
        try:
            os.unlink(os.path.join(user_dir, service + ext))
        except FileNotFoundError:
            pass
    log(args, "%s/%s: marked over a day ago, deleted" % (user_dir, service))


def scan(args):
    for user in sorted(os.listdir(args.cred_dir)):
        user_dir = os.path.join(args.cred_dir, user)
        # Only real directories with a user's name (never follow a link as root).
        if not NAME_RE.match(user) or os.path.islink(user_dir) or not os.path.isdir(user_dir):
            continue
        service = args.service
        mark = os.path.join(user_dir, service + ".mark")
        try:
            if time.time() - os.stat(mark).st_mtime > MARK_LIFETIME:
                delete_service(args, user_dir, service)
                continue
        except FileNotFoundError:
            pass
        if not os.path.isfile(os.path.join(user_dir, service + ".top")):
            continue
        if should_renew(os.path.join(user_dir, service + ".use")):
            refresh(args, user_dir, service)


def touch(path):
    with open(path, "a"):
        os.utime(path, None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cred-dir", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--token-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--scopes", default="")
    parser.add_argument("--audience", default="")
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--log", default="")
    parser.add_argument("--group", default="condor", help="the group the credd runs as")
    args = parser.parse_args()
    if not NAME_RE.match(args.service):
        parser.error("--service must be a file name")
    os.umask(0o077)
    # The directory as the credd expects it: root:condor 2770 (store_cred.cpp OAUTH_STORE_CRED
    # creates each user's 0700 directory in it as condor, then writes the files as root).
    os.makedirs(args.cred_dir, mode=0o700, exist_ok=True)
    os.chown(args.cred_dir, 0, grp.getgrnam(args.group).gr_gid)
    os.chmod(args.cred_dir, 0o2770)
    complete = os.path.join(args.cred_dir, "CREDMON_COMPLETE")
    if os.path.exists(complete):
        os.unlink(complete)
    # Signals wait while we scan: SIGHUP wakes the next scan at once, the others end us.
    wanted = {signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT}
    signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    # Readable by the credd, which reads it as condor before its SIGHUP (credmon_kick).
    write_private(args.cred_dir, "pid", str(os.getpid()).encode(), 0o644)
    log(args, "started: %s, service %s, token endpoint %s" % (args.cred_dir, args.service, args.token_url))
    while True:
        try:
            scan(args)
        except OSError as e:
            log(args, "scan failed: %s" % e)
        touch(complete)
        got = signal.sigtimedwait(wanted, args.interval)
        if got is not None and got.si_signo != signal.SIGHUP:
            log(args, "signal %d: exiting" % got.si_signo)
            return 0


if __name__ == "__main__":
    sys.exit(main())
