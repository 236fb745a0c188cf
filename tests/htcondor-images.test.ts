/**
 * The ATLAS images (images/) and their build (components/htcondor/images.ts): pinned bases,
 * the client configuration they carry, their scripts through shellcheck, and what the program
 * builds and pushes with or without a registry.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DEFAULTS } from "../components/config/defaults";
import { htcondorAdvisoryProblem } from "../components/config/validate";
import { BUILT_IMAGES, buildArgs, contextFiles, imageTag } from "../components/htcondor/images";
import { unpinnedReason } from "../policy/images";
import { requireTool, shellcheck } from "./harness/tools";
import { ProgramRun, runProgram } from "./harness/program";

const ROOT = path.resolve(__dirname, "..");
const IMAGES = path.join(ROOT, "images");
const PROGRAM = path.join(__dirname, "fixtures", "htcondor-pool.program.ts");

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

/** FROM references of a Dockerfile with ARG defaults (before the first FROM) substituted. */
function resolvedFroms(dockerfile: string, args: Record<string, string> = {}): string[] {
    const defaults: Record<string, string> = {};
    const froms: string[] = [];
    for (const line of dockerfile.split("\n")) {
        const arg = /^ARG\s+([A-Za-z_]\w*)(?:=(\S+))?\s*$/.exec(line);
        if (arg && froms.length === 0 && arg[2] !== undefined) defaults[arg[1]] = arg[2];
        const from = /^FROM\s+(\S+)/.exec(line);
        if (from) froms.push(from[1].replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => args[a ?? b] ?? defaults[a ?? b] ?? `<unset ${a ?? b}>`));
    }
    return froms;
}

/** A dnf .repo file: its sections' `key=value` lines (comments and blank lines skipped). */
function repoFile(text: string): Record<string, Record<string, string>> {
    const sections: Record<string, Record<string, string>> = {};
    let current: Record<string, string> | undefined;
    for (const raw of text.split("\n")) {
        const line = raw.trim();
        if (!line || line.startsWith("#")) continue;
        const section = /^\[([^\]]+)\]$/.exec(line);
        if (section) {
            current = sections[section[1]] = {};
            continue;
        }
        const kv = /^([A-Za-z_]+)\s*=\s*(.*)$/.exec(line);
        if (!kv || !current) throw new Error(`not a repository line: ${line}`);
        current[kv[1]] = kv[2];
    }
    return sections;
}

const runPool = (overrides: Record<string, unknown> = {}): Promise<ProgramRun> => runProgram("dev", overrides, { program: PROGRAM });

describe("ATLAS images", () => {
    for (const role of BUILT_IMAGES) {
        it(`${role}: pins its official HTCondor base image to the configured version`, () => {
            const dockerfile = fs.readFileSync(path.join(IMAGES, role, "Dockerfile"), "utf8");
            const froms = resolvedFroms(dockerfile);
            assert.equal(froms.length, 1);
            const base = role === "worker" ? "execute" : "submit";
            assert.equal(froms[0], `docker.io/htcondor/${base}:${DEFAULTS.versions.htcondor}-el9`, "the default keeps a manual build pinned");
            assert.equal(unpinnedReason(froms[0]), undefined);
            assert.equal(htcondorAdvisoryProblem(DEFAULTS.versions.htcondor), undefined);
            // The program's build argument decides the tag.
            assert.deepEqual(resolvedFroms(dockerfile, { HTCONDOR_VERSION: "25.13.3" }), [`docker.io/htcondor/${base}:25.13.3-el9`]);
            assert.doesNotMatch(dockerfile, /:latest\b/);
            assert.match(dockerfile, /^RUN bash \/opt\/incant\/image\/install-atlas-clients\.sh /m);
        });
    }

    it("carries Kerberos for CERN.CH, the ATLAS vomses and LSC files, XRootD, NFS and the CVMFS client configuration", () => {
        const krb5 = fs.readFileSync(path.join(IMAGES, "common", "krb5.conf"), "utf8");
        assert.match(krb5, /^\s*default_realm = CERN\.CH$/m);
        assert.match(krb5, /^\s*CERN\.CH = \{$/m);
        assert.match(krb5, /^\s*default_ccache_name = FILE:/m, "no keyring in a container");
        const vomses = fs.readFileSync(path.join(IMAGES, "common", "vomses", "atlas-voms-atlas-auth.app.cern.ch"), "utf8").trim();
        const fields = [...vomses.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
        assert.deepEqual(fields, ["atlas", "voms-atlas-auth.app.cern.ch", "443", "/DC=ch/DC=cern/OU=computers/CN=atlas-auth.web.cern.ch", "atlas"]);
        for (const lsc of fs.readdirSync(path.join(IMAGES, "common", "vomsdir", "atlas"))) {
            const lines = fs.readFileSync(path.join(IMAGES, "common", "vomsdir", "atlas", lsc), "utf8").trimEnd().split("\n");
            assert.equal(lines.length, 2, `${lsc}: host DN, then CA DN`);
            assert.match(lines[0], new RegExp(`^/DC=ch/DC=cern/OU=computers/CN=`));
            assert.equal(lines[1], "/DC=ch/DC=cern/CN=CERN Grid Certification Authority");
        }
        const install = fs.readFileSync(path.join(IMAGES, "common", "install-atlas-clients.sh"), "utf8");
        for (const pkg of ["krb5-workstation", "voms-clients-cpp", "xrootd-client", "nfs-utils", "ca-policy-egi-core"]) assert.match(install, new RegExp(`^\\s+${pkg}( \\\\)?$`, "m"), pkg);
        assert.match(install, /\/etc\/cvmfs\/default\.local/);
    });

    it("submit image: oidc-agent's command-line package from EPEL (docs/first-job.md), in no pool image", () => {
        const installs = (role: string) => fs.readFileSync(path.join(IMAGES, role, "Dockerfile"), "utf8")
            .split("\n").filter((l) => /dnf -y install/.test(l)).join("\n");
        // -cli carries oidc-agent, oidc-agent-service, oidc-gen and oidc-token; `oidc-agent` would pull the desktop package.
        assert.match(installs("submit"), /^RUN dnf -y install --setopt=install_weak_deps=False oidc-agent-cli( \\)?$/m);
        assert.doesNotMatch(installs("submit"), /oidc-agent(-desktop)?(\s|$)/);
        for (const role of ["worker", "scheduler"]) assert.doesNotMatch(fs.readFileSync(path.join(IMAGES, role, "Dockerfile"), "utf8"), /oidc-agent/, role);
        assert.doesNotMatch(fs.readFileSync(path.join(IMAGES, "common", "install-atlas-clients.sh"), "utf8"), /oidc-agent/);
    });

    it("worker and submit images: HEP_OSlibs from the pinned WLCG repository, signed (gpgcheck with the repository's key)", () => {
        const repo = repoFile(fs.readFileSync(path.join(IMAGES, "common", "wlcg-el9.repo"), "utf8"));
        assert.deepEqual(Object.keys(repo), ["wlcg"]);
        assert.deepEqual(repo.wlcg, {
            name: "WLCG Repository", baseurl: "https://linuxsoft.cern.ch/wlcg/el9/$basearch",
            gpgkey: "https://linuxsoft.cern.ch/wlcg/RPM-GPG-KEY-wlcg", gpgcheck: "1",
            // Enabled for the HEP_OSlibs install only: nothing else comes from it.
            enabled: "0",
        });
        const install = fs.readFileSync(path.join(IMAGES, "common", "install-hep-oslibs.sh"), "utf8");
        const lines = install.split("\n");
        const copy = lines.findIndex((l) => /^install -m 0644 "\$\{src\}\/wlcg-el9\.repo" \/etc\/yum\.repos\.d\/wlcg-el9\.repo$/.test(l));
        const dnf = lines.findIndex((l) => /^dnf -y install --setopt=install_weak_deps=False --enablerepo=wlcg HEP_OSlibs$/.test(l));
        assert.ok(copy >= 0 && dnf > copy, "the repository file is installed, then HEP_OSlibs from it");
        assert.match(install, /^rpm -q HEP_OSlibs$/m, "the build fails when the meta-package is missing");
        assert.match(install, /^set -euo pipefail$/m);
        const uses = (role: string) => fs.readFileSync(path.join(IMAGES, role, "Dockerfile"), "utf8").split("\n")
            .some((l) => l === "RUN bash /opt/incant/image/install-hep-oslibs.sh /opt/incant/image");
        assert.ok(uses("worker"), "jobs run ATLAS releases on the workers");
        assert.ok(uses("submit"), "users build and try their code in the submit container");
        assert.ok(!uses("scheduler"), "the scheduler runs no user code");
    });

    it("every repository the images add is signed (gpgcheck=1, an https key), and no install skips the check", () => {
        const repos = fs.readdirSync(path.join(IMAGES, "common")).filter((f) => f.endsWith(".repo"));
        assert.deepEqual(repos.sort(), ["egi-trustanchors.repo", "wlcg-el9.repo"]);
        for (const file of repos) {
            for (const [id, section] of Object.entries(repoFile(fs.readFileSync(path.join(IMAGES, "common", file), "utf8")))) {
                assert.equal(section.gpgcheck, "1", `${file} [${id}]`);
                assert.match(section.gpgkey ?? "", /^https:\/\//, `${file} [${id}]`);
                assert.match(section.baseurl ?? "", /^https:\/\//, `${file} [${id}]`);
            }
        }
        const scripts = [...fs.readdirSync(path.join(IMAGES, "common")).filter((f) => f.endsWith(".sh")).map((f) => path.join("common", f)),
            ...BUILT_IMAGES.map((role) => path.join(role, "Dockerfile"))];
        for (const f of scripts) assert.doesNotMatch(fs.readFileSync(path.join(IMAGES, f), "utf8"), /--nogpgcheck|gpgcheck=0|--setopt=\S*gpgcheck=(0|False)/i, f);
    });

    it("has ssh for condor_ssh_to_job: sshd in the worker (the starter runs it), the client where the tool runs (scheduler, submit)", () => {
        const dnfInstalls = (role: string) => fs.readFileSync(path.join(IMAGES, role, "Dockerfile"), "utf8")
            .split("\n").filter((l) => /^RUN dnf -y install /.test(l)).join("\n");
        assert.match(dnfInstalls("worker"), /^RUN dnf -y install --setopt=install_weak_deps=False openssh-server( \\)?$/m);
        assert.match(dnfInstalls("scheduler"), /^RUN dnf -y install --setopt=install_weak_deps=False openssh-clients( \\)?$/m);
        assert.match(dnfInstalls("submit"), /^RUN dnf -y install --setopt=install_weak_deps=False openssh-server openssh-clients( \\)?$/m);
    });

    it("passes its scripts through shellcheck (image install, profile, pods' pre-exec)", function () {
        requireTool(this, "shellcheck");
        for (const file of ["images/common/install-atlas-clients.sh", "images/common/install-hep-oslibs.sh", "images/common/setup-atlas.sh", "components/htcondor/pre-exec.sh"]) {
            const r = shellcheck(fs.readFileSync(path.join(ROOT, file), "utf8"), path.basename(file));
            assert.ok(r.ok, `${file}\n${r.output}`);
        }
    });

    it("tags images by content: stable for the same inputs, new for any changed file or build argument", () => {
        const args = buildArgs(DEFAULTS);
        const tag = imageTag("worker", args);
        assert.match(tag, /^24\.0\.23-[0-9a-f]{12}$/);
        assert.equal(imageTag("worker", args), tag);
        assert.notEqual(imageTag("worker", { ...args, CVMFS_HTTP_PROXY: "http://squid:3128" }), tag);
        assert.notEqual(imageTag("submit", args), tag);
        // A copy of images/ with one byte changed in a shared file.
        const copy = fs.mkdtempSync(path.join(os.tmpdir(), "incant-images-"));
        fs.cpSync(IMAGES, path.join(copy, "images"), { recursive: true });
        assert.equal(imageTag("worker", args, copy), tag);
        fs.appendFileSync(path.join(copy, "images", "common", "krb5.conf"), "\n");
        assert.notEqual(imageTag("worker", args, copy), tag);
        assert.ok(contextFiles("worker").includes("worker/Dockerfile") && contextFiles("worker").includes("common/krb5.conf"));
        assert.ok(!contextFiles("worker").some((f) => f.startsWith("submit/")));
    });

    it("uses the configured references and builds nothing without a registry", async () => {
        const run = await runPool();
        assert.equal(run.ofType("docker:index/image:Image").length, 0);
        assert.equal(run.outputs.submitImage, "harbor.cloud.infn.it/incant/atlas-submit:24.0.23-1");
    });

    it("builds and pushes the worker, scheduler and submit images to the configured registry, pods using the pushed digests", async () => {
        const run = await runPool({ registry: { server: "harbor.cloud.infn.it", project: "incant-dev", username: "robot$incant" } });
        const images = run.ofType("docker:index/image:Image");
        assert.deepEqual(images.map((i) => i.name).sort(), ["atlas-images-scheduler", "atlas-images-submit", "atlas-images-worker"]);
        for (const image of images) {
            const i = image.revealedInputs as Doc;
            const role = image.name.replace("atlas-images-", "");
            assert.match(i.imageName, new RegExp(`^harbor\\.cloud\\.infn\\.it/incant-dev/atlas-${role}:24\\.0\\.23-[0-9a-f]{12}$`));
            assert.equal(unpinnedReason(i.imageName), undefined);
            assert.equal(i.build.context, "images");
            assert.equal(i.build.dockerfile, `images/${role}/Dockerfile`);
            assert.equal(i.build.args.HTCONDOR_VERSION, "24.0.23");
            assert.equal(i.registry.username, "robot$incant");
            assert.ok(image.secretPaths.includes("registry.password") || image.secretPaths.includes("registry"), "the robot password stays a secret");
        }
        const worker = run.resources.find((r) => r.type === "kubernetes:apps/v1:Deployment" && (r.inputs.metadata as Doc).name === "htcondor-worker")!;
        const workerImage = images.find((i) => i.name === "atlas-images-worker")!;
        assert.equal((worker.revealedInputs as Doc).spec.template.spec.containers[0].image, workerImage.state.repoDigest);
        assert.match(run.outputs.submitImage as string, /atlas-submit:24\.0\.23-[0-9a-f]{12}@sha256:[0-9a-f]{64}$/);
    });
});
