/**
 * The loopback overlay (overlay.ts) on its own: every line has its reason, and it only adds to
 * the rendered configuration of its daemon, never redefines what the program rendered.
 */
import { strict as assert } from "assert";
import * as path from "path";
import { htcondorConfigs } from "../../offline/artifacts";
import { runProgram } from "../harness/program";
import { IMAGE_CONDOR_CONFIG, loopbackOverlay, LoopbackRole, renderOverlay } from "./overlay";

const PROGRAM = path.join(__dirname, "..", "fixtures", "htcondor-pool.program.ts");
const ROLES: LoopbackRole[] = ["central-manager", "scheduler", "worker", "submit"];
const keysOf = (conf: string): string[] => conf.split("\n").map((l) => /^([A-Za-z_][A-Za-z0-9_.]*)\s*=/.exec(l)?.[1]).filter((k): k is string => Boolean(k));

describe("loopback pool overlay", () => {
    it("gives every line its reason, written as a comment right above it", () => {
        for (const role of ROLES) {
            const lines = loopbackOverlay({ role, podIp: "10.244.9.9" });
            assert.ok(lines.length > 0);
            for (const line of lines) assert.ok(line.why.trim().length > 10, `${role}: ${JSON.stringify(line)}`);
            const text = renderOverlay(role, lines).split("\n");
            text.forEach((l, i) => {
                if (/^[A-Z]|^use /.test(l)) assert.match(text[i - 1], /^# \S/, `${role}: "${l}" has no reason above it`);
            });
        }
        assert.throws(() => renderOverlay("worker", [{ key: "X", value: 1, why: " " }]), /without a reason/);
    });

    it("only adds to the rendered configuration: no key the program renders for that daemon is redefined", async () => {
        const confs = htcondorConfigs(await runProgram("dev", {}, { program: PROGRAM }));
        for (const role of ["central-manager", "scheduler", "worker"] as const) {
            const rendered = new Set(keysOf(confs[`htcondor/${role}.conf`]));
            assert.ok(rendered.size > 10, `${role}.conf has settings`);
            const overlay = keysOf(renderOverlay(role, loopbackOverlay({ role, podIp: "10.244.9.9" })));
            assert.deepEqual(overlay.filter((k) => rendered.has(k)), [], `${role}: the overlay redefines rendered settings`);
        }
        assert.deepEqual(keysOf(IMAGE_CONDOR_CONFIG), ["LOCAL_CONFIG_DIR", "REQUIRE_LOCAL_CONFIG_FILE"]);
    });

    it("binds each pod to its own address, the image's daemons per role, outgoing connections from the pod address where nothing needs the node address", () => {
        const of = (role: LoopbackRole) => renderOverlay(role, loopbackOverlay({ role, podIp: "10.244.9.9" }));
        for (const role of ROLES) assert.match(of(role), /^NETWORK_INTERFACE = 10\.244\.9\.9$/m);
        assert.match(of("central-manager"), /^use ROLE:CentralManager$/m);
        assert.match(of("scheduler"), /^use ROLE:Submit$/m);
        assert.match(of("worker"), /^use ROLE:Execute$/m);
        assert.doesNotMatch(of("submit"), /^use ROLE/m);
        // The collector and schedd answer on the node address (their NodePorts): they must listen on every address.
        for (const role of ["central-manager", "scheduler"] as const) assert.doesNotMatch(of(role), /BIND_ALL_INTERFACES/);
        assert.match(of("worker"), /^BIND_ALL_INTERFACES = false$/m);
    });
});
