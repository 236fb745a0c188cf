/**
 * The Kubernetes minors the node setup knows (components/kubernetes/versions.ts): what config
 * validation accepts, the pause image each node's containerd gets, the end-of-life warning, and
 * the Calico policy names that changed rules at 3.30.
 */
import { strict as assert } from "assert";
import { cloudConfigOf, instances } from "../offline/artifacts";
import { runProgram } from "./harness/program";
import { containerdConfig, endOfLifeWarning, KUBERNETES_MINORS, kubernetesMinor, unsupportedMinorReason } from "../components/kubernetes/versions";
import { tierPolicyName } from "../components/kubernetes/calico";
import { DEFAULTS } from "../components/config/defaults";

describe("Kubernetes versions", () => {
    it("the default minor is known and not past its end of life on the day its patch was chosen", () => {
        const m = kubernetesMinor(DEFAULTS.versions.kubernetes);
        assert.ok(m, DEFAULTS.versions.kubernetes);
        assert.ok(DEFAULTS.versions.kubernetesPatch.startsWith(`${m.minor}.`));
        assert.equal(endOfLifeWarning(m.minor, new Date("2026-11-27T00:00:00Z")), undefined);
    });

    it("warns past the end of life, and within 60 days of it, but not before", () => {
        assert.match(endOfLifeWarning("1.31", new Date("2026-11-27T00:00:00Z")) ?? "", /reached its end of life on 2025-10-28/);
        assert.match(endOfLifeWarning("1.35", new Date("2027-01-15T00:00:00Z")) ?? "", /reaches its end of life on 2027-02-28 \(44 days\)/);
        assert.equal(endOfLifeWarning("1.35", new Date("2026-12-29T00:00:00Z")), undefined);
    });

    it("minors are listed in order, with ISO dates and a registry.k8s.io pause image", () => {
        for (let i = 1; i < KUBERNETES_MINORS.length; i++) {
            assert.ok(Number(KUBERNETES_MINORS[i].minor.split(".")[1]) === Number(KUBERNETES_MINORS[i - 1].minor.split(".")[1]) + 1);
            assert.ok(KUBERNETES_MINORS[i].endOfLife > KUBERNETES_MINORS[i - 1].endOfLife);
        }
        for (const m of KUBERNETES_MINORS) {
            assert.match(m.endOfLife, /^\d{4}-\d{2}-\d{2}$/);
            assert.match(m.pauseImage, /^registry\.k8s\.io\/pause:\d+\.\d+(\.\d+)?$/);
        }
    });

    it("knows why a minor cannot be used (config validation reports it: tests/config.test.ts)", () => {
        assert.equal(unsupportedMinorReason("1.35"), undefined);
        assert.match(unsupportedMinorReason("1.36") ?? "", /containerd 2/);
        assert.match(unsupportedMinorReason("1.29") ?? "", /1\.30 to 1\.35/);
    });

    it("every node's containerd gets the pause image of the configured minor, with the systemd cgroup driver", async () => {
        for (const minor of ["1.33", "1.35"]) {
            // The cloud-provider charts are listed for 1.35 only: off for the other minor.
            const run = await runProgram("dev", { versions: { kubernetes: minor, kubernetesPatch: `${minor}.1` }, openstack: { authUrl: "https://keystone.recas.ba.infn.it/v3", cloudProvider: minor === "1.35" } });
            const nodes = instances(run).map((vm) => String(vm.revealedInputs.name)).filter((n) => /control-plane|worker/.test(n));
            assert.ok(nodes.length >= 2, nodes.join(" "));
            for (const name of nodes) {
                const file = (cloudConfigOf(run, name).write_files ?? []).find((f) => f.path === "/etc/incant/containerd-config.toml");
                assert.ok(file, name);
                assert.equal(file.content, containerdConfig(kubernetesMinor(minor)!.pauseImage));
                assert.match(file.content, new RegExp(`sandbox_image = "${kubernetesMinor(minor)!.pauseImage.replace(/\./g, "\\.")}"`));
                assert.match(file.content, /SystemdCgroup = true/);
            }
        }
    });
});

describe("Calico policy names in a tier", () => {
    it("carry the tier prefix up to 3.29 and the plain name from 3.30", () => {
        assert.equal(tierPolicyName("v3.29.1", "incant-platform", "deny-pod-nfs"), "incant-platform.deny-pod-nfs");
        assert.equal(tierPolicyName("v3.30.0", "incant-platform", "deny-pod-nfs"), "deny-pod-nfs");
        assert.equal(tierPolicyName("v3.32.3", "incant-platform", "deny-pod-nfs"), "deny-pod-nfs");
        assert.equal(tierPolicyName("v4.0.0", "incant-platform", "deny-pod-nfs"), "deny-pod-nfs");
        assert.equal(tierPolicyName("3.28.2", "incant-platform", "x"), "incant-platform.x");
    });
});
