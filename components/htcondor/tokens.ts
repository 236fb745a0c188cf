/**
 * HTCondor IDTOKENS, minted by the program instead of `condor_token_create`, so no daemon ever
 * holds more than it needs; they expire (`incant:htcondor.tokenLifetimeDays`, TokenValidity) and
 * re-keying is one config change (`incant:htcondor.keyGeneration`), both applied without restarts (pool.ts).
 *
 * The algorithm, as HTCondor implements it (htcondor/htcondor):
 * - src/condor_utils/secure_file.cpp `simple_scramble`: a key file holds the key bytes XOR-ed
 *   with the repeating bytes DE AD BE EF (the operation is its own inverse);
 * - src/condor_utils/store_cred.cpp `getTokenSigningKey`: the whole file is the key (a trailing
 *   newline is key material) and the POOL key, only that one, is concatenated with itself;
 * - src/condor_io/condor_auth_passwd.cpp `generate_token`: HKDF-SHA256 (salt "htcondor", info
 *   "master jwt", 32 bytes) of that key signs an HS256 JWT with header {"alg":"HS256","kid":<key
 *   name>} and claims iss (= TRUST_DOMAIN), sub, iat, jti and scope "condor:/READ ...";
 *   `analyze_token` rejects a token without jti.
 * The server re-signs the header.payload it receives, so the JSON member order is free; we emit
 * the members sorted, as jwt-cpp does.
 *
 * Pure functions of their inputs: no randomness, no clock (see `TokenValidity`).
 */
import * as crypto from "crypto";

/** Name of the pool's signing key: the `kid` of every token and the key file's name. */
export const POOL_KEY_ID = "POOL";

/** Key length the program generates: 64 random bytes, as the collector does when it creates a key itself (`create_signing_key`). */
export const SIGNING_KEY_BYTES = 64;

const SCRAMBLE = [0xde, 0xad, 0xbe, 0xef];

/** HTCondor's `simple_scramble`: XOR with DE AD BE EF repeating. Scrambles and unscrambles. */
export function scramble(bytes: Uint8Array): Buffer {
    return Buffer.from(bytes.map((b, i) => b ^ SCRAMBLE[i % SCRAMBLE.length]));
}

/** The file HTCondor reads the key from (passwords.d/POOL): the scrambled key bytes. */
export function keyFileFor(key: Uint8Array): Buffer {
    return scramble(key);
}

/** The signing key HTCondor derives from a key file: unscrambled, and doubled for POOL only. */
export function signingKeyFromFile(keyFile: Uint8Array, keyId: string): Buffer {
    const key = scramble(keyFile);
    return keyId === POOL_KEY_ID ? Buffer.concat([key, key]) : key;
}

/** The HMAC key of the JWT: HKDF-SHA256(signing key, salt "htcondor", info "master jwt", 32 bytes). */
export function jwtKey(signingKey: Uint8Array): Buffer {
    return Buffer.from(crypto.hkdfSync("sha256", signingKey, "htcondor", "master jwt", 32));
}

/** HTCondor authorization levels a token can be scoped to (`condor:/<LEVEL>`). */
export type AuthorizationLevel = "READ" | "WRITE" | "DAEMON" | "NEGOTIATOR" | "ADMINISTRATOR"
    | "ADVERTISE_MASTER" | "ADVERTISE_STARTD" | "ADVERTISE_SCHEDD";

export interface IdTokenClaims {
    /** `iss`: the pool's TRUST_DOMAIN; a server ignores tokens of another trust domain. */
    issuer: string;
    /** `sub`: the identity the token authenticates as, e.g. `startd@incant.cloud.infn.it`. */
    subject: string;
    /** Authorization levels the identity is limited to (the token's `scope`). */
    scopes: AuthorizationLevel[];
    /** `iat`, seconds since the epoch. */
    issuedAt: number;
    /** `jti`: required by HTCondor; identifies the token (condor_token_list, revocation). */
    tokenId: string;
    /** `exp`, seconds since the epoch; omitted, the token lives as long as its key (condor_token_create's default). */
    expiresAt?: number;
}

const base64url = (data: string | Buffer): string => Buffer.from(data).toString("base64url");

/** The `scope` claim: "condor:/READ condor:/ADVERTISE_STARTD ...". */
export function scopeClaim(scopes: AuthorizationLevel[]): string {
    return scopes.map((s) => `condor:/${s}`).join(" ");
}

/** Signs an IDTOKEN with the key in `keyFile` (the file's bytes, as HTCondor would read them). */
export function mintIdToken(keyFile: Uint8Array, keyId: string, claims: IdTokenClaims): string {
    if (!claims.issuer || /[\s,]/.test(claims.issuer)) throw new Error(`invalid TRUST_DOMAIN "${claims.issuer}"`);
    if (!claims.tokenId) throw new Error("an IDTOKEN needs a jti");
    const header = { alg: "HS256", kid: keyId };
    const payload: Record<string, string | number> = {
        ...(claims.expiresAt === undefined ? {} : { exp: claims.expiresAt }),
        iat: claims.issuedAt,
        iss: claims.issuer,
        jti: claims.tokenId,
        scope: scopeClaim(claims.scopes),
        sub: claims.subject,
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
    const signature = crypto.createHmac("sha256", jwtKey(signingKeyFromFile(keyFile, keyId))).update(signingInput).digest();
    return `${signingInput}.${base64url(signature)}`;
}

/**
 * The lifetime of the daemons' tokens: `iat` and `exp`, seconds since the epoch. Not the program's
 * wall clock (every preview would differ and re-mint): the validity of a resource the provider
 * renews itself, the pool's "token clock" (pool.ts: a tls.SelfSignedCert with validityPeriodHours
 * and earlyRenewalHours; the TLS provider plans its replacement once the renewal window is
 * reached, terraform-provider-tls internal/provider/common_cert.go modifyPlanIfCertificateReadyForRenewal).
 * HTCondor refuses a token past `exp` at every new authentication (src/condor_io/condor_auth_passwd.cpp,
 * "User token has been expired for"); `iat` matters only for SEC_TOKEN_MAX_AGE, which the pool does not set.
 */
export interface TokenValidity {
    issuedAt: number;
    expiresAt: number;
}

/** The validity of a certificate's RFC 3339 validityStartTime/validityEndTime, as token `iat`/`exp`. */
export function tokenValidity(validityStartTime: string, validityEndTime: string): TokenValidity {
    const issuedAt = Date.parse(validityStartTime) / 1000;
    const expiresAt = Date.parse(validityEndTime) / 1000;
    if (!Number.isInteger(issuedAt) || !Number.isInteger(expiresAt) || expiresAt <= issuedAt) {
        throw new Error(`invalid token clock validity ${JSON.stringify(validityStartTime)} .. ${JSON.stringify(validityEndTime)}`);
    }
    return { issuedAt, expiresAt };
}

/** The token clock's renewal window: the last third of the lifetime, in whole days (30 of 90). */
export function tokenRenewalDays(lifetimeDays: number): number {
    return Math.ceil(lifetimeDays / 3);
}

/**
 * A deterministic `jti`: 16 bytes (32 hex digits, like condor_token_create's) of an HMAC under
 * the token's own signing key, so it changes with the key, the claims and the validity, and with nothing else.
 */
export function tokenIdFor(keyFile: Uint8Array, keyId: string, subject: string, scopes: AuthorizationLevel[], validity: TokenValidity): string {
    return crypto.createHmac("sha256", jwtKey(signingKeyFromFile(keyFile, keyId)))
        .update(`jti\0${subject}\0${scopeClaim(scopes)}\0${validity.issuedAt}\0${validity.expiresAt}`).digest().subarray(0, 16).toString("hex");
}

/** The daemons that hold a token, with the least privilege each needs at the collector. */
export const TOKEN_ROLES = {
    // Execute points: join the pool (master and startd ads) and query it; CCB registration is
    // accepted with ADVERTISE_STARTD (src/ccb/ccb_server.cpp registers CCB_REGISTER with it).
    startd: ["READ", "ADVERTISE_MASTER", "ADVERTISE_STARTD"],
    // The access point: advertise the schedd and its submitters, query the pool.
    schedd: ["READ", "ADVERTISE_MASTER", "ADVERTISE_SCHEDD"],
    // The autoscaler (components/autoscaler): reads startd and submitter ads at the collector, nothing else.
    autoscaler: ["READ"],
} as const satisfies Record<string, readonly AuthorizationLevel[]>;

export type TokenRole = keyof typeof TOKEN_ROLES;

/**
 * The identity a role's token authenticates as, `<role>@<trust domain>`: the form of every
 * identity of the pool (condor, root and users too, in config.ts's ALLOW lists).
 */
export function tokenIdentity(name: string, trustDomain: string): string {
    return `${name}@${trustDomain}`;
}

/** The token of one role, every claim derived from the key file, the trust domain and the token clock. */
export function mintRoleToken(keyFile: Uint8Array, role: TokenRole, trustDomain: string, validity: TokenValidity): string {
    const subject = tokenIdentity(role, trustDomain);
    const scopes = [...TOKEN_ROLES[role]];
    return mintIdToken(keyFile, POOL_KEY_ID, {
        issuer: trustDomain, subject, scopes, issuedAt: validity.issuedAt, expiresAt: validity.expiresAt,
        tokenId: tokenIdFor(keyFile, POOL_KEY_ID, subject, scopes, validity),
    });
}

/** The claims of a token, decoded without verification (tests, operators' inspection). */
export function decodeIdToken(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
    const [h, p] = token.split(".");
    return { header: JSON.parse(Buffer.from(h, "base64url").toString()), claims: JSON.parse(Buffer.from(p, "base64url").toString()) };
}
