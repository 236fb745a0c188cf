/**
 * The controller's IDTOKEN where HTCondor accepts it. The kubelet projects the Secret as root's
 * file, readable by the pod's group (fsGroup); HTCondor's client did not authenticate with a token
 * file it does not own (seen on the loopback pool: "Failed to authenticate using IDTOKENS" with a
 * root:65534 0440 file, success with the same token in a 0600 file of the controller's user). So,
 * as the official images do with tokens-orig.d, main.ts copies it at start into a directory of its
 * own (its emptyDir), mode 0600.
 */
import * as fs from "fs";
import * as path from "path";

/** Copies every token file of `from` into `to` (made 0700), each 0600; returns the names copied. */
export function installTokens(from: string, to: string): string[] {
    fs.mkdirSync(to, { recursive: true, mode: 0o700 });
    fs.chmodSync(to, 0o700);
    const names = fs.readdirSync(from).filter((n) => !n.startsWith("..") && fs.statSync(path.join(from, n)).isFile());
    for (const n of names) {
        const dst = path.join(to, n);
        fs.rmSync(dst, { force: true });
        fs.writeFileSync(dst, fs.readFileSync(path.join(from, n)), { mode: 0o600 });
    }
    return names;
}
