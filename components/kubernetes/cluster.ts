/**
 * The Kubernetes cluster (the paper's Figure 2), installed by the program itself with kubeadm:
 *
 *   program                                   VMs (cloud-init, all booting in parallel)
 *   ───────                                   ─────────────────────────────────────────
 *   CA, shared keys, init token, encryption key ► first control plane: kubeadm init reusing the CA
 *   CA, shared keys ────────────────────────► extra control planes: mint a token with the CA, join
 *   CA public-key hash + own token ─────────► workers (after the gate: the program registers the
 *                                             token on a control plane over SSH first): kubeadm join
 *   3 control planes: API address (keepalived) ► the floating IP and every join point at it
 *   admin client cert (kubeadm:cluster-admins)
 *   readiness gate: /readyz over TLS (our CA) ─► k8s.Provider ─► Calico, metadata block,
 *                                                                monitoring, OIDC bindings,
 *                                                                and every downstream component
 *
 * Downstream components receive `provider` (`{ provider: cluster.provider }` or
 * `{ providers: { kubernetes: cluster.provider } }`) and should also `dependsOn: cluster.networkReady`
 * so their pods start once the pod network and the metadata block exist.
 *
 * What stays on the nodes: the control planes' user-data carries the CA key and the other
 * shared keys, each worker's user-data its own token (expired WORKER_TOKEN_LIFETIME_HOURS after
 * the program registered it; join-tokens.ts). User-data is readable
 * by root on the node and through the metadata service: pods are denied the metadata service
 * (calico.ts), only kube-system and the PRIVILEGED_NAMESPACES may run host-network pods
 * (podsecurity.ts), and control planes keep kubeadm's NoSchedule taint so no user pod runs there.
 */
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import * as openstack from "@pulumi/openstack";
import { baseCloudConfig, extendCloudConfig } from "../compute/base";
import { VM_STANDIN, fillVmTemplate, renderCloudConfig } from "../compute/cloudinit";
import { createVms } from "../compute/group";
import { VmPlacement } from "../compute/placement";
import { VirtualMachine } from "../compute/vm";
import { PlannedVm } from "../config/quota";
import { FacilityConfig } from "../config/schema";
import { apiVipAddress, vmAddress } from "../network/addressing";
import { parseCidr } from "../config/cidr";
import { API_SERVER_PORT } from "../network/ports";
import { installCalico } from "./calico";
import { installCsrApprover } from "./csr-approver";
import { DEFAULT_STORAGE_CLASS, installCloudProvider } from "./cloud-provider";
import { renderKubeconfig } from "./kubeconfig";
import { installMonitoring } from "./monitoring";
import { HighAvailability, InitClusterSettings, controlPlaneNode, renderWorkerUserData } from "./nodes";
import { caCertHash, createClusterPki } from "./pki";
import { WORKER_TOKEN_STANDIN, fillWorkerToken, replacementDigest, workerJoinToken } from "./join-tokens";
import { shouldWaitForApiServer, waitForApiServer } from "./readiness";
import { endOfLifeWarning } from "./versions";
import { onMockMonitor } from "../runtime";
import { sshCommandSetup } from "../compute/ssh";

export interface KubernetesClusterArgs {
    config: FacilityConfig;
    /** Control-plane and worker VMs from the planned inventory. */
    vms: PlannedVm[];
    placement: VmPlacement;
    /**
     * Directories every worker makes at first boot, for Kubernetes local volumes of the
     * components above (the schedd's spool). Every worker gets all of them: one user-data.
     */
    workerDirectories?: string[];
    /** incant:sshPrivateKey: each worker's join token is registered on a control plane over SSH. */
    sshPrivateKey: pulumi.Input<string> | undefined;
}

/** Prefix of IAM user and group names inside Kubernetes (RBAC subjects are "iam:<group>"). */
export const IAM_PREFIX = "iam:";

/** The `aud` an IAM token needs for kubectl: `oidc-token --aud=<this> <account>`. */
export function kubernetesAudience(config: Pick<FacilityConfig, "namePrefix">): string {
    return `${config.namePrefix}-kubernetes`;
}

export class KubernetesCluster extends pulumi.ComponentResource {
    public readonly controlPlanes: VirtualMachine[];
    public readonly workers: VirtualMachine[];
    /** Worker node names (= VM names = host names). */
    public readonly nodeNames: string[];
    /** The operators' address of the API server (floating IP of the first control plane). */
    public readonly apiHost: pulumi.Output<string>;
    /** "https://<floating ip>:6443". */
    public readonly apiEndpoint: pulumi.Output<string>;
    /** The cluster CA certificate (public). */
    public readonly caCertPem: pulumi.Output<string>;
    /** The program's admin kubeconfig (secret), resolved only once the API server is ready. */
    public readonly kubeconfig: pulumi.Output<string>;
    /** Talks to the cluster with `kubeconfig`: nothing reaches the API before the readiness gate. */
    public readonly provider: k8s.Provider;
    /** Pod network and metadata block: pass as `dependsOn` for anything that runs pods. */
    public readonly networkReady: pulumi.Resource[];
    /**
     * The default StorageClass's provisioner when the cluster has one (openstack.cloudProvider: the
     * Cinder CSI release): claims of that class wait for it. Undefined without a cloud provider.
     */
    public readonly storage?: { storageClass: string; ready: pulumi.Resource[] };
    /** Grafana's `admin` password (secret). */
    public readonly grafanaAdminPassword: pulumi.Output<string>;

    constructor(name: string, args: KubernetesClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        super("incant:kubernetes:KubernetesCluster", name, {}, opts);
        const { config, placement } = args;
        const endOfLife = endOfLifeWarning(config.versions.kubernetes, new Date());
        if (endOfLife && !onMockMonitor()) pulumi.log.warn(`incant:versions.kubernetes: ${endOfLife}`, this);
        const clusterName = config.namePrefix;
        const controlPlaneVms = args.vms.filter((v) => v.role === "control-plane");
        const workerVms = args.vms.filter((v) => v.role === "worker");
        if (controlPlaneVms.length === 0) throw new pulumi.ResourceError("the cluster needs a control-plane VM", this);

        const pki = createClusterPki(name, { clusterName }, this);
        // The API's public address exists before any VM: it goes into the API server certificate.
        const apiIp = new openstack.networking.FloatingIp(`${name}-api-fip`, {
            pool: placement.externalNetwork,
            description: `${clusterName} Kubernetes API (${controlPlaneVms[0].name})`,
        }, { parent: this });
        const controlPlaneAddresses = controlPlaneVms.map((v) => vmAddress(placement.subnetCidr, v));
        // 3 control planes: the API lives on an address keepalived moves to a healthy one
        // (keepalived.ts); with one, the API is that control plane's own address.
        const vip = controlPlaneVms.length > 1 ? apiVipAddress(placement.subnetCidr) : undefined;
        const apiEndpointInternal = `${vip ?? controlPlaneAddresses[0]}:${API_SERVER_PORT}`;
        const ha = (vm: PlannedVm): HighAvailability | undefined => vip === undefined ? undefined : {
            vip,
            prefixLength: parseCidr(placement.subnetCidr)!.prefix,
            peers: controlPlaneAddresses.filter((_, i) => i !== vm.index),
            priority: 150 - 50 * vm.index,
        };
        const versions = { kubernetesMinor: config.versions.kubernetes, kubernetesVersion: config.versions.kubernetesPatch };
        const externalCloudProvider = config.openstack.cloudProvider;
        const common = { ubuntuRelease: config.openstack.ubuntuRelease, apiEndpoint: apiEndpointInternal, ...versions };
        const caHash = pki.caCertPem.apply(caCertHash);
        const iamGroups = config.iam.kubernetesGroups;
        // Only the first control plane (kubeadm init) writes the ClusterConfiguration.
        const initCluster = apiIp.address.apply((floatingIp): InitClusterSettings => ({
            clusterName,
            podCidr: config.network.podCidr,
            serviceCidr: config.network.serviceCidr,
            certSans: [floatingIp, ...(vip ? [vip] : []), ...controlPlaneAddresses],
            oidc: iamGroups.length > 0
                ? { issuerUrl: config.iam.issuer, audience: kubernetesAudience(config), prefix: IAM_PREFIX }
                : undefined,
        }));

        // Only the first control plane carries a token (init's own); the others mint theirs at join
        // time with the CA they hold (join-tokens.ts).
        const controlPlaneUserData = (vm: PlannedVm, address: string): pulumi.Output<string> =>
            pulumi.all([initCluster, pki.initToken.id, pki.initToken.token, caHash, pki.encryptionKey, pulumi.all(pki.shared)])
                .apply(([cluster, initTokenId, initToken, hash, encryptionKey, shared]) => {
                    const nodeArgs = { ...common, node: { name: vm.name, address, externalCloudProvider }, pki: shared, caCertHash: hash, encryptionKey, ha: ha(vm) };
                    return renderCloudConfig(extendCloudConfig(baseCloudConfig(vm, config), controlPlaneNode(vm.index === 0
                        ? { ...nodeArgs, role: "init", cluster, initToken: { id: initTokenId, token: initToken } }
                        : { ...nodeArgs, role: "control-plane", joinAfter: `https://${controlPlaneAddresses[vm.index - 1]}:${API_SERVER_PORT}` })));
                });
        // Workers differ only in name, address and token: one rendering serves them all.
        const workerTemplate = caHash.apply((hash) =>
            renderWorkerUserData(VM_STANDIN, { ...common, joinToken: WORKER_TOKEN_STANDIN, caCertHash: hash, directories: args.workerDirectories, externalCloudProvider },
                config.sshPublicKey));

        // Soft anti-affinity spreads workers over hypervisors without failing when there are fewer.
        const workerGroup = new openstack.compute.ServerGroup(`${name}-workers`, {
            name: `${config.namePrefix}-workers`,
            policies: ["soft-anti-affinity"],
        }, { parent: this });
        // Control planes get ports the program makes: with 3, each admits the API address
        // (allowed address pairs) so Neutron delivers it to whichever holds it.
        const controlPlanePorts = controlPlaneVms.map((vm, i) => new openstack.networking.Port(`${name}-${vm.name}-port`, {
            name: `${vm.name}-port`,
            networkId: placement.networkId,
            fixedIps: [{ subnetId: placement.subnetId, ipAddress: controlPlaneAddresses[i] }],
            securityGroupIds: [placement.securityGroupIds["control-plane"]],
            allowedAddressPairs: vip ? [{ ipAddress: vip }] : undefined,
            adminStateUp: true,
        }, { parent: this, dependsOn: placement.dependsOn }));
        this.controlPlanes = createVms({
            vms: controlPlaneVms, placement, userData: controlPlaneUserData, portId: (vm) => controlPlanePorts[vm.index].id,
            // Each holds an etcd member: replacing one is deliberate (docs/operations.md, policy control-planes-protected).
            protect: true,
        }, this);
        this.nodeNames = workerVms.map((v) => v.name);
        const first = this.controlPlanes[0];
        // The floating IP follows the API: on the address's own port with 3 control planes (no
        // device: Neutron forwards to whichever port admits it), else on the control plane's port.
        const apiPort = vip ? new openstack.networking.Port(`${name}-api-vip`, {
            name: `${clusterName}-api-vip`,
            description: `${clusterName} Kubernetes API address (keepalived on the control planes)`,
            networkId: placement.networkId,
            fixedIps: [{ subnetId: placement.subnetId, ipAddress: vip }],
            securityGroupIds: [placement.securityGroupIds["control-plane"]],
            adminStateUp: true,
        }, { parent: this, dependsOn: placement.dependsOn }) : controlPlanePorts[0];
        const association = new openstack.networking.FloatingIpAssociate(`${name}-api-fip-assoc`, {
            floatingIp: apiIp.address,
            portId: apiPort.id,
        }, { parent: this, dependsOn: [first.instance] });

        this.apiHost = apiIp.address;
        this.apiEndpoint = pulumi.interpolate`https://${apiIp.address}:${API_SERVER_PORT}`;
        this.caCertPem = pki.caCertPem;

        // The gate: resolves after the first control plane exists, has its address, /readyz answers
        // over TLS verified against our CA, and our admin identity is authorized (readiness.ts).
        // Everything Kubernetes hangs off it.
        const readyEndpoint = pulumi.all([this.apiEndpoint, pki.caCertPem, pki.admin.certPem, pki.admin.keyPem, first.instance.id, association.id])
            .apply(async ([endpoint, caPem, certPem, keyPem]) => {
                if (shouldWaitForApiServer()) {
                    await waitForApiServer({
                        endpoint, caPem, client: { certPem, keyPem }, timeoutMs: config.readinessTimeoutSeconds * 1000, intervalMs: 10_000,
                        log: (message) => pulumi.log.info(message, this),
                    });
                }
                return endpoint;
            });
        this.kubeconfig = pulumi.secret(pulumi.all([readyEndpoint, pki.caCertPem, pki.admin.certPem, pki.admin.keyPem])
            .apply(([server, caCertPem, clientCertPem, clientKeyPem]) => renderKubeconfig({
                clusterName, server, caCertPem, clientCertPem, clientKeyPem, userName: `${clusterName}-pulumi-admin`,
            })));
        this.provider = new k8s.Provider(`${name}-provider`, { kubeconfig: this.kubeconfig }, { parent: this });

        // Each worker joins with its own token, registered on a control plane (SSH to the API's
        // floating IP) before the VM is created, so workers boot once the API is ready. The token is
        // drawn again whenever the VM would be replaced: a new VM never presents an expired token.
        const registrationSsh = sshCommandSetup({
            privateKey: args.sshPrivateKey, host: this.apiHost, timeoutSeconds: config.readinessTimeoutSeconds,
            missingKey: () => new pulumi.RunError("incant:sshPrivateKey is required (each worker's join token is registered on a control plane over SSH)"),
        });
        const workerUserData = (vm: PlannedVm, address: string): pulumi.Output<string> => {
            const template = workerTemplate.apply((t) => fillVmTemplate(t, { name: vm.name, address }));
            const replacement = pulumi.all([template, placement.imageId]).apply(([userData, image]) =>
                replacementDigest({ userData, image, flavor: vm.flavor }));
            const token = workerJoinToken(`${name}-${vm.name}-join-token`, { node: vm.name, replacement, ssh: registrationSsh },
                { parent: this, dependsOn: [this.provider] });
            return pulumi.all([template, token]).apply(([t, tok]) => fillWorkerToken(t, tok));
        };
        this.workers = createVms({ vms: workerVms, placement, userData: workerUserData, serverGroupId: workerGroup.id }, this);

        const onCluster = { parent: this, provider: this.provider };
        const calico = installCalico(`${name}-calico`, {
            version: config.versions.calico, podCidr: config.network.podCidr,
            storageAddress: vmAddress(placement.subnetCidr, { role: "storage", index: 0 }),
        }, onCluster);
        this.networkReady = [calico.release, ...calico.policies];
        if (config.openstack.cloudProvider) {
            const cloud = installCloudProvider(`${name}-cloud-provider`, {
                clusterName, kubernetesMinor: config.versions.kubernetes, authUrl: config.openstack.authUrl!, region: config.openstack.region,
                octavia: config.openstack.octavia, externalNetwork: config.openstack.externalNetwork, subnetId: placement.subnetId,
            }, this, onCluster);
            this.storage = { storageClass: DEFAULT_STORAGE_CLASS, ready: [cloud.cinderCsi] };
        }
        // Kubelets' serving certificates wait for it (kubectl logs/exec and metrics need them).
        installCsrApprover(`${name}-csr-approver`, { namePrefix: config.namePrefix, subnetCidr: placement.subnetCidr },
            { ...onCluster, dependsOn: this.networkReady });
        const monitoring = installMonitoring(`${name}-monitoring`, {
            version: config.versions.monitoring, submitHostAddress: vmAddress(placement.subnetCidr, { role: "submit", index: 0 }),
        },
            { ...onCluster, dependsOn: this.networkReady });
        this.grafanaAdminPassword = monitoring.grafanaAdminPassword;

        // Optional: IAM groups named in the config may use kubectl with their IAM token, as cluster admins.
        for (const group of iamGroups) {
            const slug = group.toLowerCase().replace(/[^a-z0-9-]+/g, "-");
            new k8s.rbac.v1.ClusterRoleBinding(`${name}-iam-${slug}`, {
                metadata: { name: `incant-iam-${slug}` },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
                subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: `${IAM_PREFIX}${group}` }],
            }, onCluster);
        }

        this.registerOutputs({
            apiHost: this.apiHost, apiEndpoint: this.apiEndpoint, kubeconfig: this.kubeconfig, nodeNames: this.nodeNames,
        });
    }
}
