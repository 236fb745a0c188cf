/**
 * Platform limits the configuration can push a rendered object past, checked at config time with
 * the number, so `pulumi up` does not fail half-way (or, offline, render what the cloud refuses):
 * - Kubernetes objects: the API server refuses an object over 1 MiB (etcd's request limit,
 *   https://kubernetes.io/docs/concepts/configuration/configmap/#motivation "cannot exceed 1 MiB").
 *   The pool's users ConfigMap grows with `incant:users` (users file, SciTokens map file, the
 *   users' ALLOW lists and groups; components/htcondor/users.ts): measured here with the renderers
 *   the pool uses, with the roles' ConfigMaps.
 * - Nova user-data: 65535 bytes once base64-encoded (FACTS.md). What the stack file adds to a
 *   VM's user-data is bounded by per-key lengths and list sizes (grammar.ts, LIST_LIMITS);
 *   tests/config.test.ts renders the dev stack with every such value at its maximum and checks
 *   the user-data stays under the limit.
 * - Names: host names are one DNS label (at most 63 characters, RFC 1123), and the pool's
 *   private network name is a DNS name (at most 253).
 */
import { FacilityConfig } from "./schema";
import { plannedVms } from "./quota";
import {
    centralManagerConfig, poolSettings, renderCondorConfig, renderMapfile, renderUsersFile, schedulerConfig, workerConfig,
} from "../htcondor/config";
import { usersConfig } from "../htcondor/users";

/** The API server's object size limit (bytes). */
export const KUBERNETES_OBJECT_LIMIT = 1024 * 1024;
/**
 * What a pool ConfigMap holds beyond the measured files: pre-exec.sh and the object's metadata.
 * tests/config.test.ts checks pre-exec.sh fits in it.
 */
export const CONFIGMAP_RESERVE = 64 * 1024;
/** A DNS label (RFC 1123), e.g. a host name. */
export const DNS_LABEL_LIMIT = 63;
export const DNS_NAME_LIMIT = 253;

/** The namespace and address the measured settings use: the longest forms they can take. */
const MEASURE_NAMESPACE = "htcondor";
const MEASURE_ADDRESS = "255.255.255.255";

/** Bytes of the pool's ConfigMaps' data (without their scripts), by role, and of the users ConfigMap. */
export function poolConfigMapBytes(config: FacilityConfig): Record<string, number> {
    const s = poolSettings(config, MEASURE_NAMESPACE, MEASURE_ADDRESS);
    const users = renderUsersFile(config.users);
    const mapfile = renderMapfile(s);
    const bytes = (...files: string[]) => files.reduce((sum, f) => sum + Buffer.byteLength(f, "utf8"), 0);
    const usersConf = (role: "central-manager" | "scheduler") => renderCondorConfig(usersConfig(role, config.users, s.trustDomain));
    return {
        "central-manager": bytes(renderCondorConfig(centralManagerConfig(s))),
        scheduler: bytes(renderCondorConfig(schedulerConfig(s))),
        worker: bytes(renderCondorConfig(workerConfig(s))),
        users: bytes(users, mapfile, usersConf("central-manager"), usersConf("scheduler")),
    };
}

/** Problems (key first, without namespace) for every limit the config would exceed. */
export function platformLimitProblems(config: FacilityConfig): string[] {
    const problems: string[] = [];
    const n = (x: number) => x.toLocaleString("en-US");
    let sizes: Record<string, number> = {};
    try {
        sizes = poolConfigMapBytes(config);
    } catch {
        // A renderer refusing a value: that value has its own validation problem already.
    }
    const budget = KUBERNETES_OBJECT_LIMIT - CONFIGMAP_RESERVE;
    for (const [role, size] of Object.entries(sizes)) {
        if (size > budget) {
            problems.push(`users lists ${n(config.users.length)} users: the pool's htcondor-${role} ConfigMap would hold ${n(size)} bytes ` +
                `of configuration, over the ${n(budget)} that fit in a Kubernetes object (1 MiB, ${n(KUBERNETES_OBJECT_LIMIT)} bytes, ` +
                `less ${n(CONFIGMAP_RESERVE)} for its script and metadata)`);
        }
    }
    for (const vm of plannedVms(config)) {
        if (vm.name.length > DNS_LABEL_LIMIT) {
            problems.push(`namePrefix makes the host name ${vm.name} ${vm.name.length} characters long, over the ${DNS_LABEL_LIMIT} of a DNS label`);
            break;
        }
    }
    const privateNetwork = poolSettings(config, MEASURE_NAMESPACE, MEASURE_ADDRESS).privateNetworkName;
    if (privateNetwork.length > DNS_NAME_LIMIT) {
        problems.push(`htcondor.trustDomain makes the pool's PRIVATE_NETWORK_NAME ${privateNetwork.length} characters long, over the ${DNS_NAME_LIMIT} of a DNS name`);
    }
    return problems;
}
