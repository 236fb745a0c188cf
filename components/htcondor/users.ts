/**
 * The facility's users in the pool, applied live (issue 14, item 4): adding or removing a user in
 * `incant:users` restarts no pod and kills no job.
 *
 *   ConfigMap htcondor-users (users, map file, the users' part of the collector's and the
 *   schedd's configuration), mounted whole at /etc/condor/incant (no subPath: the kubelet
 *   rewrites it in running pods) and left out of every pod-template checksum
 *     -> pool-users.sh, run by each pod's master as the INCANT_USERS_RELOAD daemon (as root):
 *        polls the files, adds and locks/deletes Unix accounts, then condor_reconfig, so the
 *        collector, negotiator and schedd read the new ALLOW lists, group quotas and map file.
 *
 * Why a master daemon, not a sidecar or a new image: a sidecar has its own /etc/passwd and cannot
 * make the accounts the starter runs jobs as, and the official images stay unchanged. The master
 * starts a DAEMON_LIST entry as root unless <NAME>_USERID is set, and restarts it if it dies
 * (htcondor/htcondor src/condor_master.V6/masterDaemon.cpp, daemon::RealStart), as it does the
 * metrics exporter (components/observability/metrics.ts).
 *
 * The role configurations (config.ts) keep only `$(INCANT_USERS)` in their ALLOW lists and an
 * `include` of users.conf, so their content, hence their checksum, does not depend on the users.
 */
import type { ConfigEntry } from "./config";
import { groupQuotaSettings } from "./fairshare";
import type { PoolRole } from "./manifests";
import { tokenIdentity } from "./tokens";
import { FacilityUser } from "../config/schema";

/** The ConfigMap of the users (not in any checksum). */
export const USERS_CONFIGMAP = "htcondor-users";
/** The macro the role configurations' ALLOW lists name, defined in users.conf. */
export const USERS_MACRO = "INCANT_USERS";
/** The script that creates the accounts (pre-exec.sh) and keeps them live (the master's daemon). */
export const USERS_SCRIPT = "pool-users.sh";
/** How often the daemon looks at the files. The kubelet itself refreshes a ConfigMap volume within about a minute. */
export const USERS_RELOAD_SECONDS = 10;
/** The master's name for the daemon (DAEMON_LIST entry). */
export const USERS_DAEMON = "INCANT_USERS_RELOAD";
/** The log the daemon appends to, beside the daemons' own. */
export const USERS_LOG = "/var/log/condor/UsersLog";

/** Where the users ConfigMap is mounted (also the map file's directory, config.ts PATHS.mapfile). */
export const USERS_PATHS = {
    dir: "/etc/condor/incant",
    users: "/etc/condor/incant/users",
    config: "/etc/condor/incant/users.conf",
    /** The script, from the role's ConfigMap, executable (not under /root/config: the master cannot exec from /root). */
    script: `/etc/condor/incant-users-script/${USERS_SCRIPT}`,
} as const;

/** Keys of the users ConfigMap. */
export const USERS_KEYS = {
    users: "users",
    mapfile: "mapfile",
    config: (role: Exclude<PoolRole, "worker">) => `${role}.conf`,
} as const;

/**
 * The users' part of a role's configuration (users.conf): who may read and write (the
 * `$(INCANT_USERS)` of the ALLOW lists) and, for the negotiator, one accounting group per user.
 */
export function usersConfig(role: Exclude<PoolRole, "worker">, users: Pick<FacilityUser, "name" | "share">[], trustDomain: string): ConfigEntry[] {
    return [
        { comment: `INCANT: the facility's users (incant:users), re-read live by ${USERS_SCRIPT} with condor_reconfig.` },
        { key: USERS_MACRO, value: users.map((u) => tokenIdentity(u.name, trustDomain)) },
        ...(role === "central-manager" ? groupQuotaSettings(users) : []),
    ];
}

/** What the role configuration says about the users: the include and the daemon that reloads them. */
export function usersReload(withConfig: boolean): ConfigEntry[] {
    return [
        { comment: `Users applied live (components/htcondor/users.ts): ${USERS_SCRIPT} follows ${USERS_PATHS.dir}, then condor_reconfig.` },
        ...(withConfig ? [{ include: USERS_PATHS.config }] : []),
        { key: "DAEMON_LIST", value: `$(DAEMON_LIST) ${USERS_DAEMON}` },
        { key: USERS_DAEMON, value: USERS_PATHS.script },
        { key: `${USERS_DAEMON}_ARGS`, value: `watch ${USERS_RELOAD_SECONDS}` },
    ];
}

/** The items of the users ConfigMap a role's pod mounts at USERS_PATHS.dir. */
export function usersVolumeItems(role: PoolRole): { key: string; path: string }[] {
    const users = { key: USERS_KEYS.users, path: "users" };
    if (role === "worker") return [users];
    return [users, { key: USERS_KEYS.mapfile, path: "mapfile" }, { key: USERS_KEYS.config(role), path: "users.conf" }];
}
