/**
 * Account names that already exist where facility users get accounts: the VMs' OS (the Ubuntu
 * cloud image plus the packages the cloud-configs install), the JupyterHub user image and the
 * HTCondor images (images/*\/Dockerfile: their `htcondor/*:<version>-el9` bases plus the packages
 * added).
 * A facility user with one of these names would not be created (`useradd` fails or the existing
 * account is kept with its own uid), so config validation refuses them (`incant:users[i].name`).
 *
 * One list for the whole program: the HTCondor pool derives its reserved names from it.
 * When an image or a cloud-config adds a package that creates an account, add the name here.
 */

/**
 * Ubuntu 22.04 and 24.04 server cloud images (`/etc/passwd` of jammy and noble
 * `*-server-cloudimg-amd64`), the union of both releases, plus `ubuntu`, the default user
 * cloud-init creates (cloud-init `system_info.default_user` on Ubuntu).
 */
const UBUNTU_CLOUD_IMAGE = [
    "root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy",
    "www-data", "backup", "list", "irc", "gnats", "nobody", "_apt",
    "systemd-network", "systemd-resolve", "systemd-timesync", "systemd-coredump", "messagebus",
    "syslog", "uuidd", "tcpdump", "tss", "sshd", "landscape", "pollinate", "fwupd-refresh", "usbmux",
    "lxd", "dnsmasq", "dhcpcd", "polkitd", "ubuntu",
] as const;

/**
 * Packages the VMs' cloud-configs install (components/compute/base.ts, components/storage/
 * cloudconfig.ts, components/submit/hostconfig.ts) that create system users in their postinst:
 * chrony (`_chrony`), nfs-common / nfs-kernel-server (`statd`, `_rpc` for rpcbind), and on the
 * submit host prometheus-node-exporter (`prometheus`, its postinst's adduser).
 * docker.io, containerd, kubelet, rclone and fuse3 add groups or no account.
 */
const VM_PACKAGES = ["_chrony", "statd", "_rpc", "prometheus"] as const;

/**
 * AlmaLinux 9, the base of the HTCondor `-el9` images (its `setup` package's /etc/passwd:
 * root..operator, games, ftp, nobody; systemd-coredump, dbus and tss come with systemd).
 */
const EL9_BASE = [
    "root", "bin", "daemon", "adm", "lp", "sync", "shutdown", "halt", "mail", "operator", "games",
    "ftp", "nobody", "systemd-coredump", "dbus", "tss", "systemd-oom",
] as const;

/**
 * What the HTCondor images add (htcondor/htcondor build/docker/services):
 * `condor` (uid 64, base/container-install-htcondor.sh), `sshd` (openssh-server, installed by the
 * same script), `submituser` (submit/Dockerfile `useradd submituser`); the execute image's slot
 * users are matched by SLOT_USER_RE. Our images/common/install-atlas-clients.sh adds
 * nfs-utils (`rpcuser`, `rpc`); krb5-workstation, voms-clients-cpp, xrootd-client,
 * ca-policy-egi-core and oidc-agent-cli add no account.
 */
const HTCONDOR_IMAGES = ["condor", "sshd", "submituser", "rpcuser", "rpc"] as const;

/**
 * The JupyterHub user servers' image (incant:jupyterhub.image, default
 * quay.io/jupyterhub/k8s-singleuser-sample: Debian slim, whose accounts are in the Ubuntu list
 * above, plus `jovyan`, uid 1000, with its home at /home/jovyan, where a hub user of that name
 * would get their NFS home and HOME: components/jupyterhub/incant_hub_config.py).
 */
const JUPYTERHUB_IMAGE = ["jovyan"] as const;

/**
 * The pool daemons' own identities (HTCondor IDTOKEN subjects `startd@...`, `schedd@...`,
 * `submit@...`; components/htcondor): a user of that name would be mapped onto a daemon.
 */
const HTCONDOR_IDENTITIES = ["condor", "startd", "schedd", "submit"] as const;

/**
 * The execute image's dedicated slot accounts: `slot1`..`slot64` (execute/Dockerfile
 * `useradd slot${n}`) or `slot1_<n>` (execute/condor/01-slotusers.conf `slot1_[0-9]+`).
 */
export const SLOT_USER_RE = /^slot\d+(_\d+)?$/;

/** Every reserved name, sorted, without duplicates. */
export const RESERVED_ACCOUNT_NAMES: readonly string[] = [...new Set<string>([
    ...UBUNTU_CLOUD_IMAGE, ...VM_PACKAGES, ...EL9_BASE, ...HTCONDOR_IMAGES, ...JUPYTERHUB_IMAGE, ...HTCONDOR_IDENTITIES,
])].sort();

/** True when `name` is an account the images or the VMs' OS already have. */
export function isReservedAccount(name: string): boolean {
    return RESERVED_ACCOUNT_NAMES.includes(name) || SLOT_USER_RE.test(name);
}

/**
 * The uids facility users may take. Below 1000 are system accounts (Ubuntu adduser.conf
 * FIRST_UID, EL9 login.defs UID_MIN; condor is 64). From 1000 on, the first regular uids are
 * already taken by accounts listed above: `ubuntu` is 1000 on every VM, `submituser` 1000 in the
 * submit image, `slot1`..`slot64` 1000-1063 in the execute image, so 1000-1999 stays theirs.
 * 60000 and up is reserved by Debian Policy 9.2.2 (60000-64999 global allocations, 65534 nobody,
 * 65535 the (uint16)-1 error value).
 */
export const USER_UID_MIN = 2000;
export const USER_UID_MAX = 59999;
