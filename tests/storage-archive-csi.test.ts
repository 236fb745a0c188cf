/**
 * The S3 archive in the pool's pods (issue 15, components/storage/archive-csi.ts) on the real
 * program (index.ts, dev stack) under the offline engine: the rclone CSI driver's pinned release in
 * its privileged namespace, the Secret the driver reads (a Pulumi secret, in the driver's format),
 * the static PV and its claim bound to each other, the read-only mount in the worker pods at the
 * submit container's path; nothing of it with STS credentials. The driver mounting that Secret
 * for real: tests/storage-archive-csi-rclone.test.ts.
 */
import { strict as assert } from "assert";
import * as path from "path";
import { parseIni } from "../components/compute/ini";
import { PRIVILEGED_NAMESPACES, RCLONE_CSI_NAMESPACE } from "../components/kubernetes/podsecurity";
import { archiveCsiSecretData } from "../components/storage/archive";
import { ARCHIVE_CSI, archiveCsiPlan, RCLONE_CSI_CHART, RCLONE_CSI_DRIVER } from "../components/storage/archive-csi";
import { IN_SUBMIT } from "../components/submit/services";
import { RecordedResource } from "../offline/engine";
import { readStackFile } from "../offline/stackfile";
import { validateK8sObject } from "./harness/k8s";
import { merged, ProgramRun, runProgram } from "./harness/program";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

const RELEASE = "kubernetes:helm.sh/v3:Release";
const SECRET = "kubernetes:core/v1:Secret";
const PV = "kubernetes:core/v1:PersistentVolume";
const PVC = "kubernetes:core/v1:PersistentVolumeClaim";
const NAMESPACE = "kubernetes:core/v1:Namespace";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";

const doc = (r: RecordedResource): Doc => r.revealedInputs;
const deployment = (run: ProgramRun, role: string) => run.ofType(DEPLOYMENT).find((d) => doc(d).metadata.name === `htcondor-${role}`)!;
const archiveRelease = (run: ProgramRun) => run.ofType(RELEASE).find((r) => doc(r).chart === RCLONE_CSI_CHART.chart);
const devS3 = (): Record<string, unknown> =>
    JSON.parse(readStackFile(path.join(__dirname, "..", "Pulumi.dev.yaml"), "incant").config["incant:s3"] ?? "{}");

describe("S3 archive in the pool through the rclone CSI driver (dev)", () => {
    let run: ProgramRun;
    before(async () => { run = await runProgram("dev"); });

    it("installs csi-rclone pinned (chart 0.6.0 from its repository, image at the chart's tag) in a namespace allowed privileged pods", () => {
        const release = archiveRelease(run);
        assert.ok(release, "no csi-rclone release");
        const r = doc(release);
        assert.equal(r.chart, "csi-rclone");
        assert.equal(r.version, "0.6.0");
        assert.equal(r.repositoryOpts.repo, "https://swissdatasciencecenter.github.io/helm-charts");
        assert.equal(r.namespace, RCLONE_CSI_NAMESPACE);
        for (const part of ["csiControllerRclone", "csiNodepluginRclone"]) {
            assert.deepEqual(r.values[part].rclone.image, { repository: "renku/csi-rclone", tag: r.version }, `${part} image not pinned to the chart's tag`);
        }
        assert.equal(r.values.csiNodepluginRclone.rclone.containerSecurityContext.privileged, true);
        // The driver registers under the chart's storageClassName; the PV must name the same driver.
        assert.equal(r.values.storageClassName, RCLONE_CSI_DRIVER);
        assert.equal(r.values.storageClass.create, false, "no class: nobody provisions volumes from Secrets");
        // Its namespace is privileged, by the cluster's registry (Pod Security and the policy pack agree).
        assert.ok(RCLONE_CSI_NAMESPACE in PRIVILEGED_NAMESPACES);
        const ns = run.ofType(NAMESPACE).find((n) => doc(n).metadata.name === RCLONE_CSI_NAMESPACE)!;
        assert.equal(doc(ns).metadata.labels["pod-security.kubernetes.io/enforce"], "privileged");
        assert.ok(release.dependencies.includes(ns.urn), "the release waits for its namespace");
    });

    it("keeps the S3 keys in a Secret that is a Pulumi secret, in the format the driver reads", () => {
        const secret = run.ofType(SECRET).find((s) => doc(s).metadata.name === ARCHIVE_CSI.secret)!;
        assert.ok(secret, "no archive Secret");
        assert.equal(doc(secret).metadata.namespace, "htcondor");
        assert.ok(secret.secretPaths.some((p) => p.startsWith("stringData")), `stringData not secret: ${secret.secretPaths.join(", ")}`);
        const data = doc(secret).stringData;
        assert.deepEqual(Object.keys(data).sort(), ["configData", "remote", "remotePath"]);
        const conf = parseIni(data.configData);
        // The driver refuses a configData with more than one section (pkg/rclone/rclone.go Mount).
        assert.deepEqual(Object.keys(conf), [data.remote]);
        assert.deepEqual(conf[data.remote].secret_access_key, ["offline-placeholder-for-incant-s3SecretAccessKey"]);
        assert.deepEqual(conf[data.remote].type, ["s3"]);
        assert.equal(data.remotePath, `${devS3().bucket}/`);
        // No resource's recorded (unrevealed) inputs carry the key in clear.
        for (const r of run.resources) {
            assert.ok(!JSON.stringify(r.inputs).includes("offline-placeholder-for-incant-s3SecretAccessKey"), `${r.name} shows the key`);
        }
    });

    it("binds the static PV and its ReadOnlyMany claim to each other, the PV naming the driver's Secret for NodePublishVolume", () => {
        const pv = run.ofType(PV).find((p) => doc(p).spec.csi)!;
        const pvc = run.ofType(PVC).find((p) => doc(p).metadata.name === ARCHIVE_CSI.claim)!;
        assert.ok(pv && pvc);
        const spec = doc(pv).spec;
        assert.deepEqual(spec.claimRef, { namespace: doc(pvc).metadata.namespace, name: doc(pvc).metadata.name });
        assert.equal(doc(pvc).spec.volumeName, doc(pv).metadata.name);
        assert.deepEqual(spec.accessModes, ["ReadOnlyMany"]);
        assert.deepEqual(doc(pvc).spec.accessModes, ["ReadOnlyMany"]);
        assert.deepEqual([spec.storageClassName, doc(pvc).spec.storageClassName], ["", ""], "static binding: no class on either side");
        assert.equal(spec.persistentVolumeReclaimPolicy, "Retain");
        assert.equal(spec.csi.driver, doc(archiveRelease(run)!).values.storageClassName);
        const ref = { name: ARCHIVE_CSI.secret, namespace: "htcondor" };
        // csi-rclone 0.6.0 has no NodeStageVolume: only the publish secret reaches it.
        assert.deepEqual(spec.csi.nodePublishSecretRef, ref);
        assert.equal(spec.csi.nodeStageSecretRef, undefined);
        assert.deepEqual(spec.csi.volumeAttributes, { secretName: ref.name, secretNamespace: ref.namespace });
        const secret = run.ofType(SECRET).find((s) => doc(s).metadata.name === ARCHIVE_CSI.secret)!;
        assert.ok(pv.dependencies.includes(archiveRelease(run)!.urn) && pv.dependencies.includes(secret.urn), "the PV waits for the driver and its Secret");
        assert.ok(pvc.dependencies.includes(pv.urn));
    });

    it("mounts the archive read-only in the worker pods, at the submit container's /s3/archive, and nowhere else", () => {
        const pod = (role: string): Doc => doc(deployment(run, role)).spec.template.spec;
        const worker = pod("worker");
        const volume = worker.volumes.find((v: Doc) => v.persistentVolumeClaim?.claimName === ARCHIVE_CSI.claim);
        assert.ok(volume, "no archive volume in the worker pod");
        // The kubelet passes the claim reference's readOnly to NodePublishVolume; the driver makes rclone read-only from it.
        assert.equal(volume.persistentVolumeClaim.readOnly, true);
        const mount = worker.containers[0].volumeMounts.find((m: Doc) => m.name === volume.name);
        assert.equal(mount.mountPath, path.posix.join(IN_SUBMIT.s3, "archive"));
        assert.equal(mount.readOnly, true);
        assert.equal(mount.mountPropagation, "HostToContainer");
        // The schedd needs no archive: condor_submit -remote spools inputs from the submit container.
        for (const role of ["scheduler", "central-manager"]) {
            assert.ok(!pod(role).volumes.some((v: Doc) => v.persistentVolumeClaim?.claimName === ARCHIVE_CSI.claim), `${role} mounts the archive`);
        }
        const pvc = run.ofType(PVC).find((p) => doc(p).metadata.name === ARCHIVE_CSI.claim)!;
        assert.ok(deployment(run, "worker").dependencies.includes(pvc.urn), "the workers wait for the claim");
    });

    it("gives objects the Kubernetes API accepts", () => {
        const objects = [
            run.ofType(SECRET).find((s) => doc(s).metadata.name === ARCHIVE_CSI.secret)!,
            run.ofType(PV).find((p) => doc(p).spec.csi)!,
            run.ofType(PVC).find((p) => doc(p).metadata.name === ARCHIVE_CSI.claim)!,
            run.ofType(NAMESPACE).find((n) => doc(n).metadata.name === RCLONE_CSI_NAMESPACE)!,
            deployment(run, "worker"),
        ];
        for (const o of objects) validateK8sObject(o);
        const broken = JSON.parse(JSON.stringify(doc(objects[1])));
        broken.spec.csi.nodePublishSecretRef = "archive-s3";
        assert.throws(() => validateK8sObject({ type: PV, revealedInputs: broken }), /nodePublishSecretRef/);
    });
});

describe("S3 archive in the pool with STS credentials", () => {
    it("installs no driver and mounts nothing, and says why", async () => {
        const run = await runProgram("dev", { s3: merged(devS3(), { credentials: "sts", iamClientId: "incant-dev-storage" }) });
        assert.equal(archiveRelease(run), undefined, "csi-rclone installed with STS");
        assert.equal(run.ofType(SECRET).find((s) => doc(s).metadata.name === ARCHIVE_CSI.secret), undefined);
        assert.equal(run.ofType(PV).find((p) => doc(p).spec.csi), undefined);
        assert.equal(run.ofType(NAMESPACE).find((n) => doc(n).metadata.name === RCLONE_CSI_NAMESPACE), undefined);
        const worker = doc(deployment(run, "worker")).spec.template.spec;
        assert.ok(!worker.volumes.some((v: Doc) => v.persistentVolumeClaim?.claimName === ARCHIVE_CSI.claim));
        // The submit host still mounts it (rclone with the STS helper there).
        assert.ok(run.resources.some((r) => r.name === "submit-archive"));
        const plan = archiveCsiPlan({ credentials: "sts" });
        assert.ok(!plan.enabled && /STS/.test(plan.reason) && plan.reason.includes("/s3/archive"));
        assert.deepEqual(archiveCsiPlan({ credentials: "static" }), { enabled: true });
    });
});

describe("S3 keys the rclone CSI driver would alter", () => {
    const S3 = { endpoint: "https://rgw.example", region: "us-east-1", bucket: "b" };
    it("refuses keys its INI parser (go-ini 1.67) would cut or unquote, without printing them", () => {
        // Cut at an inline comment (#, ;), unquoted ("...", '...', `...`), trimmed (spaces).
        for (const bad of ["abc#def0", "abc;def0", "\"quoted0\"", "'quoted0'", "`raw0`", " leading0", "trailing0 "]) {
            for (const which of ["accessKeyId", "secretAccessKey"] as const) {
                const keys = { kind: "static" as const, accessKeyId: "AKIAGOOD", secretAccessKey: "good/Secret+Key", [which]: bad };
                assert.throws(() => archiveCsiSecretData(S3, keys), (e: Error) => {
                    assert.match(e.message, which === "accessKeyId" ? /incant:s3AccessKeyId/ : /incant:s3SecretAccessKey/);
                    assert.ok(!e.message.includes(bad.trim()), "the message shows the key");
                    return true;
                }, JSON.stringify(bad));
            }
        }
        // RGW's and AWS's alphabets pass untouched.
        const ok = archiveCsiSecretData(S3, { kind: "static", accessKeyId: "0555b35654ad1656d804", secretAccessKey: "h7GhxuBLTrlhVUyxSPUKUV8r/2EI4ngqJxD7iBdBYLhwluN30JaT3Q==" });
        assert.match(ok.configData, /^secret_access_key = h7GhxuBLTrlhVUyxSPUKUV8r\/2EI4ngqJxD7iBdBYLhwluN30JaT3Q==$/m);
    });
});
