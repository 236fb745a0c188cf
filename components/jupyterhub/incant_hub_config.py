# INCANT's part of the hub's configuration: run by the z2jh chart's jupyterhub_config.py
# (hub.extraConfig, values.ts), where `c` is the hub's traitlets config. Data comes from the
# users file the chart mounts (hub.extraFiles); this file holds logic only.
#
#  - Login: GenericOAuthenticator against INDIGO-IAM. The JupyterHub name is the facility login
#    of the token's `sub` (incant:users), so homes, uids and HTCondor's SciTokens mapping agree;
#    a subject not in incant:users gets a name nobody is allowed, and JupyterHub answers 403.
#  - Spawn: KubeSpawner runs the server as the user's uid and private gid (callables:
#    kubespawner 7 `uid`/`gid` accept `callable(spawner)`), in their NFS home.
#  - Token: the user's IAM access token (auth_state, encrypted by CryptKeeper) reaches the server as
#    BEARER_TOKEN, which HTCondor's SciTokens client reads (WLCG bearer token discovery).
import json

INCANT_USERS_FILE = "/usr/local/etc/jupyterhub/incant/users.json"
UNREGISTERED_PREFIX = "unregistered-"


def incant_load_users(path=INCANT_USERS_FILE):
    with open(path, encoding="utf-8") as f:
        users = json.load(f)["users"]
    by_name = {u["name"]: u for u in users}
    by_subject = {u["iamSubject"]: u["name"] for u in users}
    if len(by_name) != len(users) or len(by_subject) != len(users):
        raise ValueError("incant users file: duplicate names or IAM subjects")
    return by_name, by_subject


def incant_configure(c, by_name, by_subject):
    def username_from_claims(user_info):
        sub = str(user_info.get("sub") or "")
        if not sub:
            return None  # oauthenticator refuses the login (no username)
        return by_subject.get(sub, UNREGISTERED_PREFIX + sub)

    def user_of(spawner):
        user = by_name.get(spawner.user.name)
        if user is None:
            raise ValueError(f"{spawner.user.name} is not a facility user (incant:users)")
        return user

    def uid(spawner):
        return user_of(spawner)["uid"]

    def auth_state_hook(spawner, auth_state):
        token = (auth_state or {}).get("access_token")
        if token:
            spawner.environment["BEARER_TOKEN"] = token

    c.GenericOAuthenticator.username_claim = username_from_claims
    c.GenericOAuthenticator.allowed_users = set(by_name)
    c.GenericOAuthenticator.admin_users = set()
    c.KubeSpawner.uid = uid
    # Each user's private group has the uid's number (incant:users, docs/operations.md).
    c.KubeSpawner.gid = uid
    c.KubeSpawner.fs_gid = None
    c.KubeSpawner.auth_state_hook = auth_state_hook
    # Paths as on the submit host and in batch jobs.
    c.KubeSpawner.working_dir = "/home/{username}"
    c.KubeSpawner.environment.update({
        "HOME": "/home/{username}",
        "USER": "{username}",
        "SCRATCH": "/scratch/{username}",
    })


if "c" in globals():
    incant_configure(c, *incant_load_users())  # noqa: F821 (`c` is the hub's config)
