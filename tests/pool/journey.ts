/**
 * Steps of docs/first-job.md on the loopback pool, as a user of the submit container would run
 * them: an IAM token in BEARER_TOKEN_FILE, condor_ping, condor_status, condor_submit -remote,
 * condor_q, condor_transfer_data.
 */
import * as fs from "fs";
import * as path from "path";
import { SpawnSyncReturns } from "child_process";
import { AccessTokenClaims, mintAccessToken } from "./issuer";
import { hostPathOf } from "./pod";
import { LoopbackPool, setting } from "./pool";

const ROOT = path.resolve(__dirname, "..", "..");

/** The scopes docs/first-job.md tells users to request from IAM (`oidc-gen --scope "..."`). */
export function documentedScopes(): string {
    const doc = fs.readFileSync(path.join(ROOT, "docs", "first-job.md"), "utf8");
    const m = /oidc-gen [^\n]*--scope "([^"]+)"/.exec(doc);
    if (!m) throw new Error("docs/first-job.md has no `oidc-gen ... --scope \"...\"` line");
    return m[1];
}

/** The IAM client id the loopback issuer puts in tokens (IAM puts the requesting client's). */
export const CLIENT_ID = "incant-loopback-oidc-agent";

export interface UserSession {
    user: string;
    uid: number;
    run(args: string[], opts?: { cwd?: string; timeoutMs?: number }): SpawnSyncReturns<string>;
}

/**
 * A user's shell in the submit container with a fresh access token: by default the one IAM's WLCG
 * profile gives the facility's client (the documented scopes, the pool's audience); `claims`
 * changes what the refusal tests need.
 */
export function userSession(pool: LoopbackPool, user: string, claims: Partial<AccessTokenClaims> = {}): UserSession {
    const line = pool.rendered.configMaps["htcondor-users"].users.split("\n").find((l) => l.startsWith(`${user} `));
    const uid = line ? Number(line.split(" ")[1]) : 0;
    const sub = pool.rendered.mapfile.split("\n").find((l) => l.endsWith(` ${user}@${setting(pool.rendered.conf.scheduler, "TRUST_DOMAIN")}`))
        ?.split(/\s+/)[1].replace(/^\^.*,/, "").replace(/\$$/, "").replace(/\\(.)/g, "$1");
    const token = mintAccessToken(pool.issuer, {
        iss: pool.issuerUrl(), sub: sub ?? "unmapped", aud: setting(pool.rendered.conf.scheduler, "SCITOKENS_SERVER_AUDIENCE")!,
        scope: documentedScopes(), "wlcg.ver": "1.0", client_id: CLIENT_ID, ...claims,
    });
    const submit = pool.pods.submit;
    const file = `/tmp/bt_u${uid}`;
    const host = hostPathOf(submit.dir, file)!;
    fs.writeFileSync(host, token + "\n", { mode: 0o600 });
    fs.chownSync(host, uid, uid);
    return {
        user, uid,
        run: (args, opts = {}) => submit.exec(args, { user, cwd: opts.cwd, timeoutMs: opts.timeoutMs ?? 60_000, env: { BEARER_TOKEN_FILE: file } }),
    };
}

/** Copies examples/smoke-test into the user's home (the shared home volume), owned by the user. */
export function copySmokeTest(pool: LoopbackPool, user: UserSession): string {
    const dest = path.join(pool.volumes.home, user.user, "smoke-test");
    fs.cpSync(path.join(ROOT, "examples", "smoke-test"), dest, { recursive: true });
    for (const f of ["", ...fs.readdirSync(dest)]) fs.chownSync(path.join(dest, f), user.uid, user.uid);
    return `/home/${user.user}/smoke-test`;
}

export const output = (r: SpawnSyncReturns<string>) => `${r.stdout}${r.stderr}`;
