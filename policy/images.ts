/**
 * Image references and what "pinned" means for them. A reference is
 * `[registry[:port]/]repository[:tag][@sha256:<64 hex>]` (distribution/reference grammar,
 * github.com/distribution/reference); Docker image IDs are `sha256:<64 hex>`.
 */

const DIGEST_RE = /@sha256:[0-9a-f]{64}$/;
const IMAGE_ID_RE = /^sha256:[0-9a-f]{64}$/;

/** The tag of a reference without digest, or undefined when it has none. */
export function imageTag(reference: string): string | undefined {
    const withoutDigest = reference.replace(DIGEST_RE, "");
    const lastSlash = withoutDigest.lastIndexOf("/");
    const colon = withoutDigest.indexOf(":", lastSlash + 1);
    // A colon before the last slash is a registry port (harbor.example:5000/x), not a tag.
    return colon === -1 ? undefined : withoutDigest.slice(colon + 1);
}

/**
 * Why a reference is not pinned, or undefined when it is: a digest or an image ID is pinned; a
 * tag other than `latest` is pinned by convention (our tags carry the upstream version).
 */
export function unpinnedReason(reference: string): string | undefined {
    if (IMAGE_ID_RE.test(reference) || DIGEST_RE.test(reference)) return undefined;
    const tag = imageTag(reference);
    if (tag === undefined) return "has no tag (it means latest)";
    if (tag === "") return "has an empty tag";
    if (tag === "latest") return "uses the floating tag latest";
    return undefined;
}
