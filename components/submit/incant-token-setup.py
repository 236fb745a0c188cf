#!/usr/bin/python3
"""incant-token-setup: store your IAM refresh token for jobs (use_oauth_services).

Run once in the submit container (docs/first-job.md): it runs IAM's device flow (RFC 8628) with
the facility's job-token client, you approve it in a browser, and it hands the refresh token to
the pool's condor_credd with `condor_store_cred add-oauth -s <service> -i -` (stdin: the token
never reaches a command line or a file). The credd's credential monitor then keeps an access
token for your jobs (components/htcondor/credentials.ts). condor_submit also runs it
(SEC_CREDENTIAL_STORER) with the services a submit file asks for, so a job submitted before
the setup starts the device flow instead of failing (submit_utils.cpp process_job_credentials).

Settings come from the container's HTCondor configuration (INCANT_JOB_TOKEN_*, rendered by the
Pulumi program). Python 3 with its standard library only, as the pool's credmon.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

KEYS = ("SERVICE", "CLIENT_ID", "SCOPES", "AUDIENCE", "DEVICE_URL", "TOKEN_URL")
HTTP_TIMEOUT = 30
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def condor_config_val(name):
    r = subprocess.run(["condor_config_val", name], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else ""


def settings():
    s = {k: condor_config_val("INCANT_JOB_TOKEN_" + k) for k in KEYS}
    missing = [k for k in KEYS if not s[k]]
    if missing:
        sys.exit("incant-token-setup: this facility has no job-token client (INCANT_JOB_TOKEN_%s unset; "
                 "the operators set incant:iam.jobTokens)" % ", ".join(missing))
    return s


def store_cred():
    sbin = condor_config_val("SBIN") or "/usr/sbin"
    return os.path.join(sbin, "condor_store_cred")


def post(url, form):
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(),
                                     headers={"Accept": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
            return json.load(response)
    except urllib.error.HTTPError as e:
        try:
            return json.load(e)
        except ValueError:
            return {"error": "http_%d" % e.code}


def device_flow(s, out):
    """The refresh token from IAM's device flow, or exits with IAM's error."""
    scope = " ".join(["openid", "offline_access"] + s["SCOPES"].split())
    start = post(s["DEVICE_URL"], {"client_id": s["CLIENT_ID"], "scope": scope, "audience": s["AUDIENCE"]})
    if "device_code" not in start:
        sys.exit("incant-token-setup: IAM refused the device request: %s" % start.get("error_description", start.get("error", start)))
    where = start.get("verification_uri_complete") or start.get("verification_uri")
    out.write("To let your jobs read and write storage as you, open\n    %s\nand enter the code  %s\n" % (where, start.get("user_code", "")))
    out.flush()
    interval = int(start.get("interval", 5))
    deadline = time.time() + int(start.get("expires_in", 600))
    while time.time() < deadline:
        time.sleep(interval)
        answer = post(s["TOKEN_URL"], {"grant_type": DEVICE_GRANT, "device_code": start["device_code"], "client_id": s["CLIENT_ID"]})
        if "refresh_token" in answer:
            return answer["refresh_token"]
        error = answer.get("error")
        if error == "slow_down":
            interval += 5
        elif error != "authorization_pending":
            sys.exit("incant-token-setup: IAM refused: %s" % answer.get("error_description", error or "no refresh token (is offline_access allowed for the client?)"))
    sys.exit("incant-token-setup: the code expired before it was approved; run incant-token-setup again")


def stored(service):
    return subprocess.run([store_cred(), "query-oauth", "-s", service], capture_output=True).returncode == 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--force", action="store_true", help="replace a stored token (e.g. after revoking it in IAM)")
    parser.add_argument("requests", nargs="*", help="service[&scopes=...&audience=...] as condor_submit passes them")
    args = parser.parse_args()
    s = settings()
    services = {r.split("&")[0] for r in args.requests} or {s["SERVICE"]}
    unknown = sorted(services - {s["SERVICE"]})
    if unknown:
        sys.exit("incant-token-setup: this facility provides use_oauth_services = %s only (asked for %s)" % (s["SERVICE"], ", ".join(unknown)))
    service = s["SERVICE"]
    if stored(service) and not args.force:
        # condor_submit runs us for every submit: say nothing when all is in place.
        if not args.requests:
            print("A %s token is stored for your jobs (incant-token-setup --force replaces it)." % service)
        return 0
    refresh_token = device_flow(s, sys.stderr)
    r = subprocess.run([store_cred(), "add-oauth", "-s", service, "-i", "-"],
                       input=json.dumps({"refresh_token": refresh_token}), capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("incant-token-setup: condor_store_cred failed: %s" % (r.stdout + r.stderr).strip())
    print("Stored: jobs with `use_oauth_services = %s` find an access token in $_CONDOR_CREDS/%s.use." % (service, service))
    return 0


if __name__ == "__main__":
    sys.exit(main())
