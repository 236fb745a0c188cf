/**
 * The loopback INDIGO-IAM: an RS256 signing key, the OpenID discovery document and JWKS that
 * HTCondor's SciTokens library (scitokens-cpp) fetches over HTTPS, a test CA and the issuer's
 * certificate, and user access tokens shaped like the ones IAM issues to the facility's client.
 *
 * IAM's access tokens (indigo-iam, WLCG JWT profile 1.0, "Common Claims" and "Access Token
 * Claims") carry wlcg.ver, sub, aud, nbf, scope, iss, exp, iat, jti and client_id. The `wlcg.ver`
 * claim matters for scitokens-cpp 0.7.3 (Debian 12's libscitokens0): a token with neither `ver`
 * nor `wlcg.ver` is read as a SciTokens 1.0 token, for which every claim must have a validator,
 * and IAM's `client_id` has none: "'client_id' claim verification is mandatory". IAM's default
 * ("iam") profile tokens have no wlcg.ver, so the facility's IAM client must get WLCG-profile
 * tokens (docs/first-job.md). The pool test proves both sides on the loopback pool.
 */
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";

/** The claims of a user's access token; `undefined` leaves a claim out. */
export interface AccessTokenClaims {
    iss: string;
    sub: string;
    aud: string;
    scope: string;
    /** Lifetime from now, seconds (IAM's default is one hour). */
    lifetime?: number;
    client_id?: string;
    /** "1.0" in IAM's WLCG profile; absent in its default profile. */
    "wlcg.ver"?: string;
}

export interface Issuer {
    url: string;
    dir: string;
    caPem: string;
    kid: string;
    privateKey: crypto.KeyObject;
}

const KID = "rsa1";

/** Key, certificates and the documents the issuer serves, written to `dir`. */
export function makeIssuer(dir: string, url: string): Issuer {
    const host = new URL(url).hostname;
    fs.mkdirSync(path.join(dir, "www", ".well-known"), { recursive: true });
    const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
    const jwk = publicKey.export({ format: "jwk" });
    const jwksUri = new URL("jwk", url).toString();
    fs.writeFileSync(path.join(dir, "www", "jwk"), JSON.stringify({ keys: [{ ...jwk, kid: KID, alg: "RS256", use: "sig" }] }));
    // OpenID Connect Discovery 1.0: scitokens-cpp reads `jwks_uri`.
    fs.writeFileSync(path.join(dir, "www", ".well-known", "openid-configuration"), JSON.stringify({
        issuer: url, jwks_uri: jwksUri, token_endpoint: new URL("token", url).toString(),
        id_token_signing_alg_values_supported: ["RS256"], scopes_supported: ["openid", "profile", "offline_access", "condor:/READ", "condor:/WRITE"],
    }));
    const ssl = (args: string[]) => {
        const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
        if (r.status !== 0) throw new Error(`openssl ${args[0]}: ${r.stderr}`);
    };
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    ssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=INCANT loopback test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
    ssl(["req", "-new", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", `/CN=${host}`]);
    fs.writeFileSync(path.join(dir, "server.ext"), `subjectAltName=DNS:${host}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n`);
    ssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-out", "server.pem", "-extfile", "server.ext"]);
    // The token endpoint (issuer-server.ts, refresh-token grant) signs with the same key.
    fs.writeFileSync(path.join(dir, "signing.pem"), privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 });
    return { url, dir, caPem: fs.readFileSync(path.join(dir, "ca.pem"), "utf8"), kid: KID, privateKey };
}

/** An RS256 access token from `issuer` (what `oidc-token` would print). */
export function mintAccessToken(issuer: Pick<Issuer, "kid" | "privateKey">, c: AccessTokenClaims, now = Math.floor(Date.now() / 1000)): string {
    const header = { kid: issuer.kid, alg: "RS256", typ: "JWT" };
    const payload: Record<string, string | number> = {
        ...(c["wlcg.ver"] ? { "wlcg.ver": c["wlcg.ver"] } : {}),
        sub: c.sub, aud: c.aud, nbf: now - 5, scope: c.scope, iss: c.iss, exp: now + (c.lifetime ?? 3600), iat: now - 5,
        jti: crypto.randomUUID(),
        ...(c.client_id ? { client_id: c.client_id } : {}),
    };
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const input = `${b64(header)}.${b64(payload)}`;
    return `${input}.${crypto.sign("sha256", Buffer.from(input), issuer.privateKey).toString("base64url")}`;
}

/** Where a test registers the refresh tokens the token endpoint accepts (issuer-server.ts). */
export const REFRESH_TOKENS_FILE = "refresh-tokens.json";

/** What a refresh token stands for: the user, the client it was issued to, its access tokens' lifetime. */
export interface RefreshGrant { sub: string; clientId: string; iss: string; lifetime: number }

/** Registers refresh tokens at the loopback token endpoint (read at each request). */
export function registerRefreshTokens(issuer: Pick<Issuer, "dir">, grants: Record<string, RefreshGrant>): void {
    fs.writeFileSync(path.join(issuer.dir, REFRESH_TOKENS_FILE), JSON.stringify(grants), { mode: 0o600 });
}

/**
 * The token endpoint's answer to a refresh-token grant (RFC 6749 section 5.1): a WLCG-profile
 * access token with the requested scope and audience, numbered by `refresh_count`; IAM does not
 * rotate the refresh token by default, so none is returned.
 */
export function tokenResponse(key: crypto.KeyObject, grant: RefreshGrant, req: { scope?: string; audience?: string }, count: number,
    now = Math.floor(Date.now() / 1000)): Record<string, string | number> {
    const header = { kid: KID, alg: "RS256", typ: "JWT" };
    const payload = {
        "wlcg.ver": "1.0", sub: grant.sub, aud: req.audience ?? "https://wlcg.cern.ch/jwt/v1/any", nbf: now - 5, scope: req.scope ?? "",
        iss: grant.iss, exp: now + grant.lifetime, iat: now, jti: crypto.randomUUID(), client_id: grant.clientId, refresh_count: count,
    };
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const input = `${b64(header)}.${b64(payload)}`;
    const jwt = `${input}.${crypto.sign("sha256", Buffer.from(input), key).toString("base64url")}`;
    return { access_token: jwt, token_type: "Bearer", expires_in: grant.lifetime, scope: payload.scope };
}
