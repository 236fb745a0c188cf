/**
 * A kubeconfig (clientcmd v1 Config) as data: one cluster, one user, one context.
 */
import YAML from "yaml";

export interface KubeconfigArgs {
    /** Cluster and context name, e.g. "incant-dev". */
    clusterName: string;
    /** "https://<floating ip>:6443". */
    server: string;
    caCertPem: string;
    /** Client certificate and key: the user. */
    clientCertPem: string;
    clientKeyPem: string;
    userName: string;
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

export function renderKubeconfig(a: KubeconfigArgs): string {
    return YAML.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: a.clusterName, cluster: { server: a.server, "certificate-authority-data": b64(a.caCertPem) } }],
        users: [{ name: a.userName, user: { "client-certificate-data": b64(a.clientCertPem), "client-key-data": b64(a.clientKeyPem) } }],
        contexts: [{ name: a.clusterName, context: { cluster: a.clusterName, user: a.userName } }],
        "current-context": a.clusterName,
        preferences: {},
    }, { lineWidth: 0 });
}
