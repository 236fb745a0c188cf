/** Config validation as the tests call it: a minimal good stack file and the problems of a raw config. */
import { strict as assert } from "assert";
import { ConfigValidationError, RawConfig, validateConfig } from "../../components/config/validate";

/** The least a stack file needs (an SSH key, an admin network); defaults fill in the rest. */
export const GOOD_CONFIG: RawConfig = {
    sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICMHfMeNXSjdokUYxpyuIWE069qGQiqhM4/MygGDNztg ops",
    network: { adminCidrs: ["192.0.2.0/24"] },
};

/** The secrets the default configuration requires (static S3 keys, the program's SSH key). */
export const REQUIRED_SECRETS = new Set(["s3AccessKeyId", "s3SecretAccessKey", "sshPrivateKey"]);

/** Every problem validation reports for `raw` in the dev stack ([] when it passes). */
export function configProblems(raw: RawConfig, secretKeys: Set<string> = REQUIRED_SECRETS): string[] {
    try {
        validateConfig(raw, { stack: "dev", secretKeys });
        return [];
    } catch (e) {
        assert.ok(e instanceof ConfigValidationError, String(e));
        return e.problems;
    }
}
