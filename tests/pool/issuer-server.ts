/**
 * The loopback issuer's HTTPS server (started by pool.ts inside the pool's network namespace):
 * serves <dir>/www (discovery document, JWKS) with <dir>/server.pem on port <port>, and logs
 * every request, so a test can tell whether HTCondor fetched the keys.
 * POST /token is IAM's token endpoint for the refresh-token grant (RFC 6749 section 6): the
 * refresh tokens a test registered in <dir>/refresh-tokens.json (RefreshGrant, by token) get a
 * fresh access token each time, signed with the issuer's key and numbered by the `refresh_count`
 * claim (tests/pool/credentials.test.ts). Tokens are never logged.
 * Usage: node -r ts-node/register/transpile-only issuer-server.ts <dir> <port>
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as https from "https";
import * as path from "path";
import { RefreshGrant, REFRESH_TOKENS_FILE, tokenResponse } from "./issuer";

const [dir, port] = process.argv.slice(2);
const www = path.join(dir, "www");
let issued = 0;

/** The token endpoint: a form POST, answered as RFC 6749 sections 5.1 and 5.2 say. */
function token(body: string, res: import("http").ServerResponse): string {
    const form = new URLSearchParams(body);
    const fail = (error: string) => { res.writeHead(400, { "content-type": "application/json" }); res.end(JSON.stringify({ error })); return `400 ${error}`; };
    if (form.get("grant_type") !== "refresh_token") return fail("unsupported_grant_type");
    const file = path.join(dir, REFRESH_TOKENS_FILE);
    const grants: Record<string, RefreshGrant> = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
    const grant = grants[form.get("refresh_token") ?? ""];
    if (!grant || grant.clientId !== form.get("client_id")) return fail("invalid_grant");
    issued += 1;
    const key = crypto.createPrivateKey(fs.readFileSync(path.join(dir, "signing.pem")));
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(tokenResponse(key, grant, { scope: form.get("scope") ?? undefined, audience: form.get("audience") ?? undefined }, issued)));
    return `200 ${grant.sub} refresh_count=${issued}`;
}

https.createServer({ cert: fs.readFileSync(path.join(dir, "server.pem")), key: fs.readFileSync(path.join(dir, "server.key")) }, (req, res) => {
    if (req.method === "POST" && (req.url ?? "").split("?")[0] === "/token") {
        let body = "";
        req.on("data", (d: Buffer) => { body += d.toString(); });
        req.on("end", () => console.log(`${new Date().toISOString()} POST /token ${token(body, res)}`));
        return;
    }
    const file = path.join(www, path.normalize(decodeURIComponent((req.url ?? "/").split("?")[0])));
    const ok = file.startsWith(www + path.sep) && fs.existsSync(file) && fs.statSync(file).isFile();
    console.log(`${new Date().toISOString()} ${req.method} ${req.url} ${ok ? 200 : 404}`);
    res.writeHead(ok ? 200 : 404, { "content-type": "application/json" });
    res.end(ok ? fs.readFileSync(file) : "{}");
}).listen(Number(port), "0.0.0.0", () => console.log(`listening on ${port}`));
