/**
 * Serves the INCANT policy pack to the Pulumi engine:
 *   pulumi preview --stack dev --policy-pack policy
 * Constructing a PolicyPack starts its gRPC server (and reads ./package.json for the version),
 * so nothing else imports this file: tests and the offline render import ./policies.
 */
import { PolicyPack } from "@pulumi/policy";
import { PACK_ENFORCEMENT, PACK_NAME, POLICIES } from "./policies";

new PolicyPack(PACK_NAME, {
    description: "INCANT facility guardrails (docs/security.md)",
    enforcementLevel: PACK_ENFORCEMENT,
    policies: POLICIES,
});
