/**
 * The facility's port registry: every flow any VM accepts, in one table. The security groups are
 * generated from it and the tests read it as the table of allowed flows, so a port opened
 * anywhere is opened here, with the reason next to it.
 *
 * Sources: kubeadm "Ports and Protocols" (kubernetes.io/docs/reference/networking/ports-and-protocols/),
 * Calico "Network requirements" (docs.tigera.io/calico/latest/getting-started/kubernetes/requirements),
 * NFSv4 (RFC 7530: TCP 2049 only), HTCondor shared port (htcondor.readthedocs.io, "Networking").
 */
import { VmRole } from "../config/quota";

export const ROLES: readonly VmRole[] = ["control-plane", "worker", "storage", "submit"];

/** Where traffic comes from: another role's security group, or configured CIDRs. */
export type Peer =
    | { role: VmRole }
    | { cidrs: "admin" | "user" };

export interface Flow {
    /** Why this flow exists; becomes the rule's description. */
    description: string;
    /** Neutron protocol names; `vrrp` is IP protocol 112 (keepalived). */
    protocol: "tcp" | "udp" | "icmp" | "vrrp";
    /** Inclusive port range; omitted for ICMP and VRRP. */
    ports?: [number, number];
    from: Peer;
    to: VmRole;
}

/** Ports that depend on configuration. */
export interface PortSettings {
    /** HTCondor collector NodePort (reached by the submit host). */
    collectorPort: number;
    /** HTCondor schedd NodePort (reached by the submit host). */
    schedulerPort: number;
    /** JupyterHub's HTTPS NodePort (incant:jupyterhub.nodePort), when the hub is enabled. */
    jupyterhubPort?: number;
    /** The site squid's NodePort (components/cache), reached by the submit host's CVMFS, when the squid runs. */
    squidNodePort?: number;
}

/** NFSv4's one port (RFC 7530): the storage controller's only storage flow. */
export const NFS_PORT = 2049;

/**
 * The physicists' SSH port on the submit host: the sshd inside the submit container (Docker
 * publishes it; components/submit/access.ts). Port 22 is the VM's own sshd, for operators only.
 */
export const SUBMIT_SSH_PORT = 2222;

/**
 * The ports the submit container's HTCondor tools listen on for a starter's reverse connection
 * (condor_tail, condor_ssh_to_job: the starter sits behind CCB and connects back to the tool,
 * ccb_client.cpp ReverseConnect_blocking). The tools bind in this range (TOOL.IN_LOWPORT/IN_HIGHPORT,
 * components/submit/tools.ts) and Docker publishes it; a listener lives only until its starter
 * connects, so ten ports serve ten tools waiting at the same instant.
 */
export const SUBMIT_TOOL_PORTS = { first: 9620, last: 9629 } as const;

/** The Kubernetes API server's port: kubeadm binds it, nodes and operators reach it. */
export const API_SERVER_PORT = 6443;

/**
 * Metrics endpoints of the control-plane components, scraped by Prometheus from a pod (source-NATed
 * to its node). kubeadm binds them to 127.0.0.1; components/kubernetes/kubeadm.ts opens them.
 * Controller manager and scheduler serve HTTPS with delegated authentication and authorization.
 */
export const METRICS_PORTS = {
    controllerManager: 10257,
    scheduler: 10259,
    /** etcd's metrics-only listener (plain HTTP, no keys or data: `--listen-metrics-urls`). */
    etcd: 2381,
    /** kube-proxy's metrics (plain HTTP, metrics only), on every node. */
    kubeProxy: 10249,
    /** The submit host's node exporter (systemd unit states: the S3 archive's health). */
    submitNodeExporter: 9100,
} as const;

const tcp = (from: number, to = from): [number, number] => [from, to];
const cluster: VmRole[] = ["control-plane", "worker"];

/** Every allowed ingress flow. Egress is open (package mirrors, CVMFS, EOS, S3, IAM): see `EGRESS`. */
export function flows(p: PortSettings): Flow[] {
    const between = (description: string, protocol: Flow["protocol"], ports: [number, number] | undefined,
        sources: VmRole[], targets: VmRole[]): Flow[] =>
        sources.flatMap((s) => targets.map((t): Flow => ({ description, protocol, ports, from: { role: s }, to: t })));
    return [
        // Operators and users.
        { description: "SSH from operators (bastion: the control plane)", protocol: "tcp", ports: tcp(22), from: { cidrs: "admin" }, to: "control-plane" },
        { description: "Kubernetes API from operators", protocol: "tcp", ports: tcp(API_SERVER_PORT), from: { cidrs: "admin" }, to: "control-plane" },
        { description: "SSH from operators (Docker over SSH)", protocol: "tcp", ports: tcp(22), from: { cidrs: "admin" }, to: "submit" },
        { description: "SSH from physicists to the submit container (its own sshd)", protocol: "tcp", ports: tcp(SUBMIT_SSH_PORT), from: { cidrs: "user" }, to: "submit" },
        // SSH inside the facility only through the bastion.
        ...between("SSH from the bastion", "tcp", tcp(22), ["control-plane"], ["worker", "storage"]),
        // Kubernetes control plane.
        ...between("Kubernetes API from nodes", "tcp", tcp(API_SERVER_PORT), cluster, ["control-plane"]),
        ...between("etcd peers and clients", "tcp", tcp(2379, 2380), ["control-plane"], ["control-plane"]),
        // keepalived's adverts (unicast) hold the API address on one healthy control plane (3 control planes).
        ...between("VRRP between control planes (keepalived moves the API address)", "vrrp", undefined, ["control-plane"], ["control-plane"]),
        ...between("kubelet API (logs, exec, metrics)", "tcp", tcp(10250), cluster, cluster),
        // Calico with VXLAN encapsulation and Typha.
        ...between("Calico VXLAN", "udp", [4789, 4789], cluster, cluster),
        ...between("Calico Typha", "tcp", tcp(5473), cluster, cluster),
        // node-exporter listens on each node's own address; Prometheus (a pod, SNATed to its node) scrapes it.
        ...between("Prometheus scrapes node-exporter", "tcp", tcp(9100), cluster, cluster),
        ...between("Prometheus scrapes the controller manager", "tcp", tcp(METRICS_PORTS.controllerManager), cluster, ["control-plane"]),
        ...between("Prometheus scrapes the scheduler", "tcp", tcp(METRICS_PORTS.scheduler), cluster, ["control-plane"]),
        ...between("Prometheus scrapes etcd metrics", "tcp", tcp(METRICS_PORTS.etcd), cluster, ["control-plane"]),
        ...between("Prometheus scrapes kube-proxy", "tcp", tcp(METRICS_PORTS.kubeProxy), cluster, cluster),
        // Prometheus runs on a worker; it reads the submit host's unit states (the archive's alert).
        { description: "Prometheus scrapes the submit host's node exporter", protocol: "tcp", ports: tcp(METRICS_PORTS.submitNodeExporter), from: { role: "worker" }, to: "submit" },
        // A job's starter (a worker pod, leaving as its node's address) connects back to condor_tail
        // or condor_ssh_to_job in the submit container (CCB reverse connection; Docker publishes the range).
        {
            description: "HTCondor starters connect back to the submit container's condor_tail and condor_ssh_to_job (CCB)", protocol: "tcp",
            ports: tcp(SUBMIT_TOOL_PORTS.first, SUBMIT_TOOL_PORTS.last), from: { role: "worker" }, to: "submit",
        },
        // Shared storage: NFSv4 needs only TCP 2049. Kubelets mount it on workers.
        ...between("NFSv4 from the cluster nodes", "tcp", tcp(NFS_PORT), ["worker"], ["storage"]),
        { description: "NFSv4 from the submit host", protocol: "tcp", ports: tcp(NFS_PORT), from: { role: "submit" }, to: "storage" },
        // HTCondor: the detached submit host talks to the collector and the schedd NodePorts.
        ...between("HTCondor collector (NodePort) from the submit host", "tcp", tcp(p.collectorPort), ["submit"], cluster),
        ...between("HTCondor schedd (NodePort) from the submit host", "tcp", tcp(p.schedulerPort), ["submit"], cluster),
        // The submit host's CVMFS container reads through the facility's squid (components/cache).
        ...(p.squidNodePort === undefined ? [] : between("CVMFS squid (NodePort) from the submit host", "tcp", tcp(p.squidNodePort), ["submit"], cluster)),
        // Path MTU discovery and ping inside the facility (VXLAN lowers the MTU).
        ...between("ICMP inside the facility", "icmp", undefined, [...ROLES], [...ROLES]),
        // JupyterHub: TLS terminated by its proxy (components/jupyterhub), at the cluster's floating IP.
        ...(p.jupyterhubPort === undefined ? [] : [{
            description: "JupyterHub (HTTPS NodePort) from physicists", protocol: "tcp" as const, ports: tcp(p.jupyterhubPort),
            from: { cidrs: "user" as const }, to: "control-plane" as const,
        }]),
    ];
}

/** The one rule open to 0.0.0.0/0, and why: nodes install packages and read CVMFS, EOS, S3 and IAM. */
export const EGRESS = {
    description: "Egress to package mirrors, CVMFS stratum-1/proxies, EOS (XRootD), S3 and IAM",
    cidr: "0.0.0.0/0",
};
