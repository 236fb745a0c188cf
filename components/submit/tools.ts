/**
 * condor_tail and condor_ssh_to_job from the submit container (issue #12).
 *
 * Both tools ask the schedd where the job's starter is, then connect to it. The starter runs in a
 * worker pod behind CCB (not reachable from outside the pod network), so the tool asks the
 * collector to have the starter connect back to it: as a user (no write access to the daemon
 * socket directory, so no shared port) the tool opens a listening socket and sends its address
 * (HTCondor 24.0 src/ccb/ccb_client.cpp ReverseConnect_blocking: `listen_sock->bind(..., 0, ...)`
 * then `get_sinful_public()`). On Docker's bridge that address is the container's, which no pod
 * reaches. So, for the tools only (subsystem TOOL, the default of every command-line tool):
 * - IN_LOWPORT/IN_HIGHPORT: the listener binds in SUBMIT_TOOL_PORTS (src/condor_io/sock.cpp
 *   Sock::bind with port 0 -> get_port_range, src/condor_utils/get_port_range.cpp), which Docker
 *   publishes on the VM (services.ts) and the security group opens to the workers (ports.ts);
 * - TCP_FORWARDING_HOST: the address sent is the submit VM's own private address with the
 *   listener's port (Sock::get_sinful_public), where Docker forwards it to the container.
 * The master in the container (subsystem MASTER) and its shared port are left as they are.
 */
import { renderCondorConfig } from "../htcondor/config";
import { SUBMIT_TOOL_PORTS } from "../network/ports";

/** The submit container's tools settings (config.d/60-incant-tools.conf); `hostAddress` is the VM's private address. */
export function renderToolsConfig(hostAddress: string): string {
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(hostAddress)) throw new Error(`not an IPv4 address: ${JSON.stringify(hostAddress)}`);
    return renderCondorConfig([
        { comment: "INCANT submit host: condor_tail and condor_ssh_to_job reach a job's starter from here (components/submit/tools.ts).\n" +
            "The starter, behind CCB, connects back to the tool: at this VM's address, on a port Docker publishes." },
        { key: "TOOL.IN_LOWPORT", value: SUBMIT_TOOL_PORTS.first },
        { key: "TOOL.IN_HIGHPORT", value: SUBMIT_TOOL_PORTS.last },
        { key: "TOOL.TCP_FORWARDING_HOST", value: hostAddress },
    ]);
}
