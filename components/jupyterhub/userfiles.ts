/**
 * Files every user's server gets (values.ts USER_FILES), as data and serialisers: the HTCondor
 * client configuration, the pool CA, the terminals' bashrc (setupATLAS), the Jupyter server
 * configuration and the LCG kernel.
 *
 * The analysis software comes from CVMFS, not from the image (README.md, "User environment"):
 * the kernel "INCANT LCG" runs python from the LCG view on sft.cern.ch, which carries uproot,
 * awkward, pandas, coffea, dask, distributed, dask-jobqueue and the HTCondor bindings at versions
 * tested together; the image only needs jupyterhub-singleuser and bash.
 */
import { FacilityConfig } from "../config/schema";
import { renderCondorConfig } from "../htcondor/config";
import { PoolEndpoints } from "../htcondor/types";
import { UserFiles, USER_FILES } from "./values";

/**
 * HTCondor client configuration of a user's server: like the submit host's (SciTokens over TLS
 * verified with the pool CA) but inside the cluster, where the collector's Service name resolves.
 */
export function userCondorConfig(endpoints: PoolEndpoints, collectorPort: number, config: Pick<FacilityConfig, "iam">): string {
    return renderCondorConfig([
        { comment: "INCANT JupyterHub user server: HTCondor tools and bindings (components/jupyterhub/userfiles.ts)." },
        { use: "security:recommended_v24_0" },
        { key: "TRUST_DOMAIN", value: endpoints.trustDomain },
        { key: "UID_DOMAIN", value: "$(TRUST_DOMAIN)" },
        // The collector's Service (port = its NodePort number): its certificate names this host.
        { key: "COLLECTOR_HOST", value: `${endpoints.collectorHostName}:${collectorPort}` },
        { key: "SCHEDD_HOST", value: endpoints.scheddName },
        { comment: `The user's IAM token (issuer ${config.iam.issuer}) from BEARER_TOKEN; the pool's certificates checked.` },
        { key: "SEC_CLIENT_AUTHENTICATION", value: "REQUIRED" },
        { key: "SEC_CLIENT_ENCRYPTION", value: "REQUIRED" },
        { key: "SEC_CLIENT_INTEGRITY", value: "REQUIRED" },
        { key: "SEC_CLIENT_AUTHENTICATION_METHODS", value: ["SCITOKENS"] },
        { key: "AUTH_SSL_CLIENT_CAFILE", value: USER_FILES.poolCa },
    ]);
}

/** Single-quoted for bash (the view path is validated, this keeps it inert anyway). */
function shellQuote(s: string): string {
    return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The terminals' rc file: the user's own ~/.bashrc, then `setupATLAS` as ATLAS defines it
 * (ATLASLocalRootBase on atlas.cern.ch; a function rather than ATLAS's alias, same effect) and
 * `lcgenv` for the LCG view, whose path is a quoted variable, never shell text.
 */
export function userBashrc(lcgView: string): string {
    return [
        "# INCANT terminals (components/jupyterhub/userfiles.ts): bash --rcfile this file.",
        "[ -f /etc/bash.bashrc ] && . /etc/bash.bashrc",
        "[ -f \"$HOME/.bashrc\" ] && . \"$HOME/.bashrc\"",
        "export ATLAS_LOCAL_ROOT_BASE=/cvmfs/atlas.cern.ch/repo/ATLASLocalRootBase",
        `INCANT_LCG_VIEW=${shellQuote(lcgView)}`,
        "setupATLAS() { source \"${ATLAS_LOCAL_ROOT_BASE}/user/atlasLocalSetup.sh\" \"$@\"; }",
        "lcgenv() { source \"${INCANT_LCG_VIEW}/setup.sh\"; }",
        "",
    ].join("\n");
}

/** jupyter_server configuration (JSON config file): terminals start bash with userBashrc. */
export function userServerConfig(): string {
    return JSON.stringify({
        ServerApp: { terminado_settings: { shell_command: ["/bin/bash", "--rcfile", USER_FILES.bashrc, "-i"] } },
    }, null, 2) + "\n";
}

/**
 * The LCG kernel: bash sources the view's setup.sh, then runs the view's ipykernel. The view
 * path travels as an argument ($1), never inside the script text.
 */
export function lcgKernel(lcgView: string): string {
    return JSON.stringify({
        display_name: "Python 3 (INCANT LCG view)",
        language: "python",
        argv: ["/bin/bash", "-c", "source \"$1/setup.sh\" && exec python3 -m ipykernel_launcher -f \"$2\"", "incant-lcg-kernel", lcgView, "{connection_file}"],
        env: { INCANT_LCG_VIEW: lcgView },
    }, null, 2) + "\n";
}

export function userFiles(a: { endpoints: PoolEndpoints; collectorPort: number; poolCaPem: unknown; config: Pick<FacilityConfig, "iam" | "jupyterhub"> }): UserFiles {
    return {
        condorConfig: userCondorConfig(a.endpoints, a.collectorPort, a.config),
        poolCa: a.poolCaPem,
        bashrc: userBashrc(a.config.jupyterhub.lcgView),
        serverConfig: userServerConfig(),
        kernel: lcgKernel(a.config.jupyterhub.lcgView),
    };
}
