/**
 * IDTOKEN minting (components/htcondor/tokens.ts) against HTCondor's algorithm, derived here
 * step by step with node:crypto from the sources FACTS.md cites, without calling the production
 * helpers: scramble (secure_file.cpp), double the POOL key (store_cred.cpp), HKDF-SHA256 written
 * out as RFC 5869 extract + expand, HS256 over header.payload (condor_auth_passwd.cpp).
 */
import { strict as assert } from "assert";
import * as crypto from "crypto";
import {
    decodeIdToken, keyFileFor, mintIdToken, mintRoleToken, POOL_KEY_ID, scramble, signingKeyFromFile, TOKEN_ROLES, tokenRenewalDays, tokenValidity,
} from "../components/htcondor/tokens";

/** The token clock of a stack created on 2026-01-01 with the default 90 days. */
const VALIDITY = tokenValidity("2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z");

/** A fixed 64-byte key: bytes 0x00..0x3f. */
const KEY = Buffer.from(Array.from({ length: 64 }, (_, i) => i));

/** What HTCondor writes to passwords.d/POOL for KEY: each byte XOR DE AD BE EF, repeating. */
function independentKeyFile(key: Buffer): Buffer {
    const pad = [0xde, 0xad, 0xbe, 0xef];
    const out = Buffer.alloc(key.length);
    for (let i = 0; i < key.length; i++) out[i] = key[i] ^ pad[i % 4];
    return out;
}

/** RFC 5869 with SHA-256 for a 32-byte output: one expand block. */
function hkdf32(ikm: Buffer, salt: string, info: string): Buffer {
    const prk = crypto.createHmac("sha256", Buffer.from(salt)).update(ikm).digest();
    return crypto.createHmac("sha256", prk).update(Buffer.concat([Buffer.from(info), Buffer.from([1])])).digest();
}

/** The JWT HTCondor would accept for these claims, signed with the key read from `file` (kid `kid`). */
function independentToken(file: Buffer, kid: string, payloadJson: string): string {
    const pad = [0xde, 0xad, 0xbe, 0xef];
    // 1. Unscramble the whole file (every byte, a trailing newline included).
    const key = Buffer.from(file.map((b, i) => b ^ pad[i % 4]));
    // 2. The POOL key is used twice over; other keys as they are.
    const signingKey = kid === "POOL" ? Buffer.concat([key, key]) : key;
    // 3. HKDF-SHA256, salt "htcondor", info "master jwt", 32 bytes.
    const jwtKey = hkdf32(signingKey, "htcondor", "master jwt");
    // 4. HS256 over base64url(header) "." base64url(payload).
    const b64u = (b: Buffer) => b.toString("base64").replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const input = `${b64u(Buffer.from(`{"alg":"HS256","kid":"${kid}"}`))}.${b64u(Buffer.from(payloadJson))}`;
    return `${input}.${b64u(crypto.createHmac("sha256", jwtKey).update(input).digest())}`;
}

const CLAIMS = {
    issuer: "incant.cloud.infn.it",
    subject: "startd@incant.cloud.infn.it",
    scopes: ["READ", "ADVERTISE_MASTER", "ADVERTISE_STARTD"] as const,
    issuedAt: 1767225600,
    tokenId: "0123456789abcdef0123456789abcdef",
};
// The payload as the test writes it by hand (members sorted, like jwt-cpp).
const PAYLOAD = '{"iat":1767225600,"iss":"incant.cloud.infn.it","jti":"0123456789abcdef0123456789abcdef",'
    + '"scope":"condor:/READ condor:/ADVERTISE_MASTER condor:/ADVERTISE_STARTD","sub":"startd@incant.cloud.infn.it"}';

const mint = (file: Buffer, kid = POOL_KEY_ID) => mintIdToken(file, kid, { ...CLAIMS, scopes: [...CLAIMS.scopes] });

describe("HTCondor IDTOKEN minting", () => {
    it("writes the key file HTCondor reads: the key XOR DE AD BE EF", () => {
        assert.deepEqual(keyFileFor(KEY), independentKeyFile(KEY));
        assert.deepEqual(keyFileFor(KEY).subarray(0, 4), Buffer.from([0xde, 0xac, 0xbc, 0xec]));
        assert.deepEqual(scramble(keyFileFor(KEY)), KEY, "the scramble is its own inverse");
    });

    it("reproduces the token derived independently from HTCondor's algorithm", () => {
        const file = independentKeyFile(KEY);
        const expected = independentToken(file, "POOL", PAYLOAD);
        assert.equal(mint(file), expected);
        // The vector itself, so a change to both derivations is still caught.
        assert.equal(expected.split(".")[2], crypto.createHmac("sha256",
            hkdf32(Buffer.concat([KEY, KEY]), "htcondor", "master jwt")).update(expected.split(".").slice(0, 2).join(".")).digest("base64url"));
        const { header, claims } = decodeIdToken(expected);
        assert.deepEqual(header, { alg: "HS256", kid: "POOL" });
        assert.equal(claims.iss, "incant.cloud.infn.it");
    });

    it("doubles the POOL key and only the POOL key", () => {
        const file = independentKeyFile(KEY);
        assert.equal(signingKeyFromFile(file, "POOL").length, 2 * KEY.length);
        assert.deepEqual(signingKeyFromFile(file, "OTHER"), KEY);
        // A key named otherwise signs with the key as it is...
        assert.equal(mint(file, "OTHER"), independentToken(file, "OTHER", PAYLOAD));
        // ...which is not what doubling would give.
        const doubledSignature = crypto.createHmac("sha256", hkdf32(Buffer.concat([KEY, KEY]), "htcondor", "master jwt"))
            .update(mint(file, "OTHER").split(".").slice(0, 2).join(".")).digest("base64url");
        assert.notEqual(mint(file, "OTHER").split(".")[2], doubledSignature);
    });

    it("treats the whole file as the key: a trailing newline changes every signature", () => {
        const file = independentKeyFile(KEY);
        const withNewline = Buffer.concat([file, Buffer.from("\n")]);
        assert.notEqual(mint(withNewline), mint(file));
        assert.equal(mint(withNewline), independentToken(withNewline, "POOL", PAYLOAD));
    });

    it("gives each role the least privilege it needs, and nothing an operator or the negotiator has", () => {
        const file = keyFileFor(KEY);
        const scopesOf = (role: "startd" | "schedd" | "autoscaler") => String(decodeIdToken(mintRoleToken(file, role, "incant.cloud.infn.it", VALIDITY)).claims.scope).split(" ");
        assert.deepEqual(scopesOf("startd"), ["condor:/READ", "condor:/ADVERTISE_MASTER", "condor:/ADVERTISE_STARTD"]);
        assert.deepEqual(scopesOf("schedd"), ["condor:/READ", "condor:/ADVERTISE_MASTER", "condor:/ADVERTISE_SCHEDD"]);
        assert.deepEqual(scopesOf("autoscaler"), ["condor:/READ"]);
        for (const role of ["startd", "schedd", "autoscaler"] as const) {
            for (const forbidden of ["WRITE", "DAEMON", "NEGOTIATOR", "ADMINISTRATOR", "CONFIG"]) {
                assert.ok(!scopesOf(role).includes(`condor:/${forbidden}`), `${role} token has ${forbidden}`);
            }
        }
        assert.deepEqual(Object.keys(TOKEN_ROLES).sort(), ["autoscaler", "schedd", "startd"]);
    });

    it("mints role tokens deterministically: same key and clock, same token; new key or renewed clock, new jti and signature", () => {
        const file = keyFileFor(KEY);
        const a = mintRoleToken(file, "startd", "incant.cloud.infn.it", VALIDITY);
        assert.equal(mintRoleToken(file, "startd", "incant.cloud.infn.it", VALIDITY), a, "no churn between runs");
        const { claims } = decodeIdToken(a);
        assert.equal(claims.sub, "startd@incant.cloud.infn.it");
        assert.match(String(claims.jti), /^[0-9a-f]{32}$/);
        // iat and exp are the clock's validity, nothing else (no wall clock).
        assert.equal(claims.iat, Date.UTC(2026, 0, 1) / 1000);
        assert.equal(claims.exp, Date.UTC(2026, 3, 1) / 1000);
        const other = mintRoleToken(keyFileFor(crypto.createHash("sha512").update("rotated").digest()), "startd", "incant.cloud.infn.it", VALIDITY);
        assert.notEqual(decodeIdToken(other).claims.jti, claims.jti);
        assert.notEqual(other.split(".")[2], a.split(".")[2]);
        // The schedd's token is a different token under the same key.
        assert.notEqual(decodeIdToken(mintRoleToken(file, "schedd", "incant.cloud.infn.it", VALIDITY)).claims.jti, claims.jti);
        // A renewed clock: a new token under the same key, with its own jti.
        const renewed = mintRoleToken(file, "startd", "incant.cloud.infn.it", tokenValidity("2026-03-02T00:00:00Z", "2026-05-31T00:00:00Z"));
        const r = decodeIdToken(renewed).claims;
        assert.deepEqual([r.iat, r.exp], [Date.UTC(2026, 2, 2) / 1000, Date.UTC(2026, 4, 31) / 1000]);
        assert.notEqual(r.jti, claims.jti);
        // And the signature covers exp: the token verifies as HTCondor would re-sign it.
        assert.equal(renewed, independentToken(file, "POOL", Buffer.from(renewed.split(".")[1], "base64url").toString()));
    });

    it("reads the token clock's RFC 3339 validity; renews in the last third of the lifetime", () => {
        assert.deepEqual(tokenValidity("2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z"), { issuedAt: 1767225600, expiresAt: 1775001600 });
        // The TLS provider's format may carry an offset.
        assert.deepEqual(tokenValidity("2026-01-01T01:00:00+01:00", "2026-04-01T00:00:00Z").issuedAt, 1767225600);
        assert.throws(() => tokenValidity("", "2026-04-01T00:00:00Z"), /invalid token clock/);
        assert.throws(() => tokenValidity("2026-04-01T00:00:00Z", "2026-01-01T00:00:00Z"), /invalid token clock/);
        assert.equal(tokenRenewalDays(90), 30);
        assert.equal(tokenRenewalDays(7), 3);
        assert.equal(tokenRenewalDays(3650), 1217);
    });

    it("refuses what HTCondor would refuse: no jti, a trust domain with spaces or commas", () => {
        const file = keyFileFor(KEY);
        assert.throws(() => mintIdToken(file, "POOL", { ...CLAIMS, scopes: [], tokenId: "" }), /jti/);
        assert.throws(() => mintIdToken(file, "POOL", { ...CLAIMS, scopes: [], issuer: "a, b" }), /TRUST_DOMAIN/);
    });
});
