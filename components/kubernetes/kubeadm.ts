/**
 * kubeadm and API-server configuration files, built as data and serialised with `yaml`.
 * Pure functions of typed inputs; the hardening each knob provides is named next to it with its
 * CIS Kubernetes Benchmark recommendation where there is one (named, not numbered: numbers move between benchmark versions).
 *
 * References: kubeadm config API v1beta4 (kubernetes.io/docs/reference/config-api/kubeadm-config.v1beta4/),
 * KubeletConfiguration v1beta1, apiserver.config.k8s.io/v1 (EncryptionConfiguration,
 * AdmissionConfiguration), audit.k8s.io/v1 Policy, Pod Security Admission configuration.
 */
import * as path from "path";
import YAML from "yaml";
import { API_SERVER_PORT, METRICS_PORTS } from "../network/ports";

export const KUBEADM_API = "kubeadm.k8s.io/v1beta4";

/** v1beta4 turned extraArgs maps into ordered lists of {name, value}. */
export interface Arg {
    name: string;
    value: string;
}

export interface HostPathMount {
    name: string;
    hostPath: string;
    mountPath: string;
    readOnly: boolean;
    pathType: "DirectoryOrCreate" | "Directory" | "File";
}

/** Where the control-plane configuration files live on the host (and in the API server pod). */
export const PATHS = {
    auditPolicy: "/etc/kubernetes/audit/policy.yaml",
    auditLogDir: "/var/log/kubernetes/audit",
    encryptionConfig: "/etc/kubernetes/encryption/config.yaml",
    admissionConfig: "/etc/kubernetes/admission/config.yaml",
    criSocket: "unix:///var/run/containerd/containerd.sock",
} as const;

/** TLS 1.2 suites with forward secrecy and AEAD only (CIS: strong ciphers, API server and kubelet); TLS 1.3 suites are not configurable. */
export const STRONG_CIPHER_SUITES = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
];

/** The API server accepts IAM (OIDC) tokens when set. */
export interface OidcSettings {
    /** Issuer URL exactly as in the tokens' `iss` claim (IAM prints it with a trailing slash). */
    issuerUrl: string;
    /** The `aud` the tokens must carry (users request it: `oidc-token --aud=<this> <account>`). */
    audience: string;
    /** Prefix of user and group names, so IAM identities never collide with system ones. */
    prefix: string;
}

export interface ClusterSettings {
    /** e.g. "incant-dev": names the cluster in certificates and kubeconfigs. */
    clusterName: string;
    /** Exact version, e.g. "1.31.4". */
    kubernetesVersion: string;
    /** host:port every node reaches the API at (the first control plane's fixed address). */
    controlPlaneEndpoint: string;
    podCidr: string;
    serviceCidr: string;
    /** Extra names on the API server certificate: the floating IP operators and the program use. */
    certSans: string[];
    oidc?: OidcSettings;
}

export interface NodeSettings {
    /** VM name = host name = Kubernetes node name. */
    name: string;
    /** The node's fixed private address: the kubelet advertises it (and the API server, on control planes). */
    address: string;
    /** The OpenStack cloud controller initialises the node (cloud-provider.ts): the kubelet waits for it. */
    externalCloudProvider?: boolean;
}

/** Where a control plane's API server listens (init and control-plane joins). */
function localApiEndpoint(node: NodeSettings) {
    return { advertiseAddress: node.address, bindPort: API_SERVER_PORT };
}

function nodeRegistration(node: NodeSettings) {
    return {
        name: node.name,
        criSocket: PATHS.criSocket,
        // One NIC today, but pinning the address keeps InternalIP = the address the security groups know.
        kubeletExtraArgs: [
            { name: "node-ip", value: node.address },
            // The node stays tainted uninitialized until the cloud controller has read it from Nova.
            ...(node.externalCloudProvider ? [{ name: "cloud-provider", value: "external" }] : []),
        ],
    };
}

/** kube-apiserver flags beyond kubeadm's defaults, each with the reason it is there. */
export function apiServerArgs(c: ClusterSettings): Arg[] {
    const args: Arg[] = [
        // CIS: audit log path, retention (maxage 30, maxbackup 10, maxsize 100) and a policy file.
        { name: "audit-log-path", value: `${PATHS.auditLogDir}/audit.log` },
        { name: "audit-log-maxage", value: "30" },
        { name: "audit-log-maxbackup", value: "10" },
        { name: "audit-log-maxsize", value: "100" },
        { name: "audit-policy-file", value: PATHS.auditPolicy },
        // CIS: encryption provider configured, Secrets encrypted at rest with a program-generated key.
        { name: "encryption-provider-config", value: PATHS.encryptionConfig },
        // CIS: profiling off.
        { name: "profiling", value: "false" },
        // Pod Security Admission defaults; NodeRestriction (CIS) is kubeadm's default, made explicit.
        { name: "admission-control-config-file", value: PATHS.admissionConfig },
        { name: "enable-admission-plugins", value: "NodeRestriction" },
        // CIS 1.2.5: kubelets' serving certificates are checked against the cluster CA (they come
        // from it: serverTLSBootstrap below, approved by csr-approver.ts).
        { name: "kubelet-certificate-authority", value: "/etc/kubernetes/pki/ca.crt" },
        // CIS: strong TLS cipher suites only.
        { name: "tls-min-version", value: "VersionTLS12" },
        { name: "tls-cipher-suites", value: STRONG_CIPHER_SUITES.join(",") },
        // NOT --anonymous-auth=false: kubeadm's health checks and `kubeadm join` discovery read
        // /readyz and the cluster-info ConfigMap anonymously (FACTS.md).
    ];
    if (c.oidc) {
        args.push(
            { name: "oidc-issuer-url", value: c.oidc.issuerUrl },
            { name: "oidc-client-id", value: c.oidc.audience },
            { name: "oidc-username-claim", value: "sub" },
            { name: "oidc-username-prefix", value: c.oidc.prefix },
            // INDIGO-IAM puts group names in the `groups` claim of its JWT access tokens.
            { name: "oidc-groups-claim", value: "groups" },
            { name: "oidc-groups-prefix", value: c.oidc.prefix },
        );
    }
    return args;
}

/** The host directories the API server pod needs for the files above. */
export function apiServerVolumes(): HostPathMount[] {
    const mount = (name: string, dir: string, readOnly: boolean): HostPathMount =>
        ({ name, hostPath: dir, mountPath: dir, readOnly, pathType: "DirectoryOrCreate" });
    // A policy file's directory, read-only; only the audit log directory is written.
    const [auditPolicy, encryption, admission] = ([
        ["audit-policy", PATHS.auditPolicy], ["encryption", PATHS.encryptionConfig], ["admission", PATHS.admissionConfig],
    ] as const).map(([name, file]) => mount(name, path.posix.dirname(file), true));
    return [auditPolicy, mount("audit-log", PATHS.auditLogDir, false), encryption, admission];
}

export function clusterConfiguration(c: ClusterSettings) {
    // Controller manager and scheduler listen beyond 127.0.0.1 so Prometheus can scrape them: a
    // deliberate departure from CIS 1.3.7/1.4.2 (docs/security.md). Their secure ports authenticate
    // and authorize every request (delegated to the API server) and the security groups admit only
    // the cluster's nodes (components/network/ports.ts METRICS_PORTS). Profiling stays off (CIS).
    const local = [{ name: "bind-address", value: "0.0.0.0" }, { name: "profiling", value: "false" }];
    return {
        apiVersion: KUBEADM_API,
        kind: "ClusterConfiguration",
        clusterName: c.clusterName,
        kubernetesVersion: `v${c.kubernetesVersion}`,
        controlPlaneEndpoint: c.controlPlaneEndpoint,
        networking: { podSubnet: c.podCidr, serviceSubnet: c.serviceCidr, dnsDomain: "cluster.local" },
        apiServer: { certSANs: c.certSans, extraArgs: apiServerArgs(c), extraVolumes: apiServerVolumes() },
        controllerManager: {
            // CIS: terminated-pod-gc-threshold set (well below the default 12500, high enough to debug failures).
            extraArgs: [...local, { name: "terminated-pod-gc-threshold", value: "1000" }],
        },
        scheduler: { extraArgs: local },
        // A metrics-only listener beside the client one (which stays TLS with client certificates).
        etcd: { local: { extraArgs: [{ name: "listen-metrics-urls", value: `http://0.0.0.0:${METRICS_PORTS.etcd}` }] } },
    };
}

/** kube-proxy (configured by `kubeadm init` for every node): metrics on the node's addresses, not only 127.0.0.1. */
export function kubeProxyConfiguration() {
    return {
        apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
        kind: "KubeProxyConfiguration",
        metricsBindAddress: `0.0.0.0:${METRICS_PORTS.kubeProxy}`,
    };
}

/** Uploaded by `kubeadm init` to the kubelet-config ConfigMap: every joining node gets the same. */
export function kubeletConfiguration() {
    return {
        apiVersion: "kubelet.config.k8s.io/v1beta1",
        kind: "KubeletConfiguration",
        cgroupDriver: "systemd",
        // CIS: no anonymous requests, webhook authentication and authorization, client CA file.
        authentication: {
            anonymous: { enabled: false },
            webhook: { enabled: true },
            x509: { clientCAFile: "/etc/kubernetes/pki/ca.crt" },
        },
        authorization: { mode: "Webhook" },
        // CIS: no unauthenticated read-only port.
        readOnlyPort: 0,
        // CIS: client certificate rotation.
        rotateCertificates: true,
        // CIS 4.2.11/4.2.12: the serving certificate comes from the cluster CA by a CSR, approved by
        // csr-approver.ts and renewed like the client one (not a self-signed one nobody checks).
        serverTLSBootstrap: true,
        // CIS: protect kernel defaults (refuse to start on other values; SYSCTLS below sets them).
        protectKernelDefaults: true,
        // RuntimeDefault seccomp for every container that does not ask otherwise.
        seccompDefault: true,
        // CIS: strong TLS cipher suites only.
        tlsMinVersion: "VersionTLS12",
        tlsCipherSuites: STRONG_CIPHER_SUITES,
    };
}

/**
 * A string always written in double quotes. Tokens need it: an all-digit token such as
 * 123456.7890123456789012 is a float to YAML (kubeadm's YAML 1.1 reader too), and a worker's token
 * is filled into a template where the stand-in's quoting decides (join-tokens.ts fillWorkerToken).
 */
function doubleQuoted(value: string): YAML.Scalar<string> {
    const scalar = new YAML.Scalar(value);
    scalar.type = "QUOTE_DOUBLE";
    return scalar;
}

export interface InitArgs {
    cluster: ClusterSettings;
    node: NodeSettings;
    /** `id.secret`; joins must happen within `tokenTtl`. */
    bootstrapToken: string;
    /** e.g. "24h0m0s". */
    tokenTtl: string;
}

export function initConfiguration(a: InitArgs) {
    return {
        apiVersion: KUBEADM_API,
        kind: "InitConfiguration",
        bootstrapTokens: [{
            token: doubleQuoted(a.bootstrapToken),
            description: "INCANT node join token, made by the Pulumi program",
            ttl: a.tokenTtl,
            usages: ["signing", "authentication"],
            groups: ["system:bootstrappers:kubeadm:default-node-token"],
        }],
        localAPIEndpoint: localApiEndpoint(a.node),
        nodeRegistration: nodeRegistration(a.node),
    };
}

export interface JoinArgs {
    node: NodeSettings;
    /** host:port of the API server. */
    apiServerEndpoint: string;
    bootstrapToken: string;
    /** "sha256:<hex>" of the cluster CA's public key. */
    caCertHash: string;
    /** A control-plane join (the shared PKI must be in place). */
    controlPlane: boolean;
}

export function joinConfiguration(a: JoinArgs) {
    return {
        apiVersion: KUBEADM_API,
        kind: "JoinConfiguration",
        discovery: {
            bootstrapToken: { apiServerEndpoint: a.apiServerEndpoint, token: doubleQuoted(a.bootstrapToken), caCertHashes: [a.caCertHash] },
        },
        nodeRegistration: nodeRegistration(a.node),
        ...(a.controlPlane ? { controlPlane: { localAPIEndpoint: localApiEndpoint(a.node) } } : {}),
        // Nodes boot in parallel with the first control plane: give discovery time, the script retries on top.
        timeouts: { discovery: "10m0s", tlsBootstrap: "5m0s" },
    };
}

/** The kubeadm file a control plane inits with: Init + Cluster + Kubelet configurations. */
export function renderInitConfig(a: InitArgs): string {
    return renderDocuments([initConfiguration(a), clusterConfiguration(a.cluster), kubeletConfiguration(), kubeProxyConfiguration()]);
}

export function renderJoinConfig(a: JoinArgs): string {
    return renderDocuments([joinConfiguration(a)]);
}

export function renderDocuments(docs: object[]): string {
    return docs.map((d) => YAML.stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })).join("---\n");
}

/** Secrets encrypted with secretbox (XSalsa20-Poly1305); identity last so existing plain data stays readable. */
export function encryptionConfiguration(base64Key: string) {
    return {
        apiVersion: "apiserver.config.k8s.io/v1",
        kind: "EncryptionConfiguration",
        resources: [{
            resources: ["secrets"],
            providers: [{ secretbox: { keys: [{ name: "incant-1", secret: base64Key }] } }, { identity: {} }],
        }],
    };
}

export type PodSecurityLevel = "privileged" | "baseline" | "restricted";

/** Cluster-wide Pod Security defaults: baseline enforced, restricted warned and audited. */
export function admissionConfiguration(exemptNamespaces: string[]) {
    return {
        apiVersion: "apiserver.config.k8s.io/v1",
        kind: "AdmissionConfiguration",
        plugins: [{
            name: "PodSecurity",
            configuration: {
                apiVersion: "pod-security.admission.config.k8s.io/v1",
                kind: "PodSecurityConfiguration",
                defaults: {
                    enforce: "baseline", "enforce-version": "latest",
                    audit: "restricted", "audit-version": "latest",
                    warn: "restricted", "warn-version": "latest",
                },
                exemptions: { usernames: [], runtimeClasses: [], namespaces: exemptNamespaces },
            },
        }],
    };
}

/**
 * What the API server records: metadata for everything, request bodies for changes, nothing of
 * Secret, ConfigMap or token bodies (they would copy credentials into the log), and no noise
 * from health probes and the system's own watches. Shaped after the Kubernetes auditing docs'
 * example policy and GKE's.
 */
export function auditPolicy() {
    const core = (resources: string[]) => ({ group: "", resources });
    return {
        apiVersion: "audit.k8s.io/v1",
        kind: "Policy",
        omitStages: ["RequestReceived"],
        rules: [
            { level: "None", nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/version", "/metrics"] },
            { level: "None", users: ["system:kube-proxy"], verbs: ["watch"], resources: [core(["endpoints", "services", "services/status"])] },
            { level: "None", userGroups: ["system:nodes"], verbs: ["get"], resources: [core(["nodes", "nodes/status"])] },
            { level: "None", users: ["system:kube-controller-manager", "system:kube-scheduler"], verbs: ["get", "update"], namespaces: ["kube-system"], resources: [{ group: "coordination.k8s.io", resources: ["leases"] }] },
            { level: "None", resources: [core(["events"])] },
            { level: "Metadata", resources: [core(["secrets", "configmaps", "serviceaccounts/token"]), { group: "authentication.k8s.io", resources: ["tokenreviews"] }] },
            { level: "Request", verbs: ["create", "update", "patch", "delete", "deletecollection"] },
            { level: "Metadata" },
        ],
    };
}

/** Modules and sysctls kubeadm's preflight and Calico need, plus those `protectKernelDefaults` demands. */
export const KERNEL_MODULES = ["overlay", "br_netfilter"];

export const SYSCTLS: Record<string, string> = {
    "net.ipv4.ip_forward": "1",
    "net.bridge.bridge-nf-call-iptables": "1",
    "net.bridge.bridge-nf-call-ip6tables": "1",
    // The values the kubelet checks with protectKernelDefaults (pkg/kubelet/cm, setupKernelTunables).
    "vm.overcommit_memory": "1",
    "vm.panic_on_oom": "0",
    "kernel.panic": "10",
    "kernel.panic_on_oops": "1",
    "kernel.keys.root_maxkeys": "1000000",
    "kernel.keys.root_maxbytes": "25000000",
};

export function renderSysctls(values: Record<string, string>): string {
    return Object.entries(values).map(([k, v]) => `${k} = ${v}`).join("\n") + "\n";
}
