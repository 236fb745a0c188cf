/**
 * A local S3 server and mount helpers for the tests that run Debian's rclone against it
 * (tests/storage-rclone.test.ts: the submit host's mount; tests/storage-archive-csi-rclone.test.ts:
 * the CSI driver's). s3rver (npm) serves the S3 API on 127.0.0.1 (FACTS.md "NFS + rclone").
 */
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { ROOT } from "./program";

/** The bucket every such test uses. */
export const BUCKET = "incant-test-archive";
/** s3rver's built-in account. */
export const KEYS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
/** A service manager's PATH: rclone runs with it and no HOME, no AWS_CA_BUNDLE (FACTS.md). */
export const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * s3rver in a child process: the test touches the mount with synchronous calls, and rclone
 * answers some of them only after asking S3, which must not wait for this process's event loop.
 */
export function startS3rver(directory: string, port = 0): Promise<{ process: ChildProcess; endpoint: string }> {
    const script = [
        `const S3rver = require(${JSON.stringify(path.join(ROOT, "node_modules", "s3rver"))});`,
        `new S3rver({ port: ${port}, address: "127.0.0.1", silent: true, directory: ${JSON.stringify(directory)},`,
        `  configureBuckets: [{ name: ${JSON.stringify(BUCKET)}, configs: [] }] })`,
        "  .run().then((a) => console.log(a.port), (e) => { console.error(e); process.exit(1); });",
    ].join("\n");
    const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    return new Promise((resolve, reject) => {
        child.stdout!.once("data", (d: Buffer) => resolve({ process: child, endpoint: `http://127.0.0.1:${String(d).trim()}` }));
        child.once("exit", (code) => reject(new Error(`s3rver exited ${code}`)));
    });
}

/** Polls `probe` every 250 ms until it returns a value; fails after `timeoutMs`. */
export async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await probe();
        if (value !== undefined) return value;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 250));
    }
}

/** This process's mountinfo line for a mount point, split in fields; undefined when nothing is mounted there. */
export function mountInfo(mountPoint: string): string[] | undefined {
    return fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")).find((f) => f[4] === mountPoint);
}

export function isMounted(mountPoint: string): boolean {
    return mountInfo(mountPoint) !== undefined;
}
