/**
 * The ATLAS-enabled images (images/): built and pushed with @pulumi/docker when a registry is
 * configured, otherwise the configured references are used as they are. The central manager
 * runs the official htcondor/cm image: it runs no jobs and needs none of the ATLAS clients.
 *
 * Tags are pinned and content-addressed: `<HTCondor version>-<12 hex of the build inputs>`, so a
 * change to a Dockerfile, a file it copies or a build argument gives a new tag, and an unchanged
 * context never moves a tag. Pods use the pushed digest (`repoDigest`).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { FacilityConfig, FacilitySecrets } from "../config/schema";
import { cvmfsHttpProxy } from "../cache/squid";

/** The images the program builds, each from images/<role>/Dockerfile with images/ as context. */
export const BUILT_IMAGES = ["worker", "scheduler", "submit"] as const;
export type BuiltImage = (typeof BUILT_IMAGES)[number];

/** The build context, relative to the project (Pulumi runs programs from the project directory). */
export const IMAGES_DIR = "images";
const ROOT = path.resolve(__dirname, "..", "..");

/** Image references of the pool and the submit host. */
export interface AtlasImageRefs {
    worker: pulumi.Output<string>;
    scheduler: pulumi.Output<string>;
    centralManager: pulumi.Output<string>;
    submit: pulumi.Output<string>;
}

/** Build arguments of every image: the pinned HTCondor base and the CVMFS client settings. */
export function buildArgs(config: Pick<FacilityConfig, "versions" | "cvmfs" | "cache" | "network">): Record<string, string> {
    return {
        HTCONDOR_VERSION: config.versions.htcondor,
        CVMFS_REPOSITORIES: config.cvmfs.repositories.join(","),
        // The images run in the cluster: the squid at its Service address (unless configured otherwise).
        CVMFS_HTTP_PROXY: cvmfsHttpProxy(config, { in: "cluster", serviceCidr: config.network.serviceCidr }),
    };
}

/** Files of one image's build: images/common/** and images/<role>/**, relative to images/. */
export function contextFiles(role: BuiltImage, root = ROOT): string[] {
    const walk = (dir: string): string[] => fs.readdirSync(path.join(root, IMAGES_DIR, dir), { withFileTypes: true })
        .flatMap((e) => e.isDirectory() ? walk(path.posix.join(dir, e.name)) : [path.posix.join(dir, e.name)]);
    return [...walk("common"), ...walk(role)].sort();
}

/** `<version>-<hash>`: the hash covers every context file (name and bytes) and the build args. */
export function imageTag(role: BuiltImage, args: Record<string, string>, root = ROOT): string {
    const h = crypto.createHash("sha256");
    for (const file of contextFiles(role, root)) h.update(`${file}\0`).update(fs.readFileSync(path.join(root, IMAGES_DIR, file))).update("\0");
    for (const key of Object.keys(args).sort()) h.update(`${key}=${args[key]}\0`);
    return `${args.HTCONDOR_VERSION}-${h.digest("hex").slice(0, 12)}`;
}

export interface AtlasImagesArgs {
    config: FacilityConfig;
    /** `registryPassword` when `registry.username` is set. */
    secrets: FacilitySecrets;
}

export class AtlasImages extends pulumi.ComponentResource {
    /** What the pool's pods and the submit host run. */
    public readonly refs: AtlasImageRefs;
    /** The images built here (none without a registry). */
    public readonly built: Partial<Record<BuiltImage, docker.Image>> = {};

    constructor(name: string, args: AtlasImagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("incant:htcondor:AtlasImages", name, {}, opts);
        const { config } = args;
        const server = config.registry.server;
        const refs = {
            worker: pulumi.output(config.images.worker),
            scheduler: pulumi.output(config.images.scheduler),
            centralManager: pulumi.output(config.images.centralManager),
            submit: pulumi.output(config.images.submit),
        };
        if (server) {
            const buildArguments = buildArgs(config);
            const registry = config.registry.username
                ? { server, username: config.registry.username, password: args.secrets.registryPassword }
                : { server };
            for (const role of BUILT_IMAGES) {
                const image = new docker.Image(`${name}-${role}`, {
                    imageName: `${server}/${config.registry.project}/atlas-${role}:${imageTag(role, buildArguments)}`,
                    build: {
                        context: IMAGES_DIR,
                        dockerfile: path.posix.join(IMAGES_DIR, role, "Dockerfile"),
                        args: buildArguments,
                        platform: "linux/amd64",
                    },
                    registry,
                }, { parent: this });
                this.built[role] = image;
                refs[role] = image.repoDigest;
            }
        }
        this.refs = refs;
        this.registerOutputs({ refs });
    }
}
