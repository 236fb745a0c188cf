/**
 * The one rule for the names the facility derives everything from: `namePrefix` (every resource,
 * VM and host name starts with it) and the stack name (the default `namePrefix` is
 * `incant-<stack>`, the default `environment` is the stack, and the render writes to
 * `rendered/<stack>/`). A stack name is valid exactly when both defaults are valid names, so a
 * stack that renders never yields a host name with a space, a `$(...)` or a path like `..`.
 */

/**
 * Lower-case letters, digits and dashes, starting with a letter, at most 31 characters: host
 * names are `<namePrefix>-<role>-<n>` and must stay one DNS label (RFC 1123: at most 63).
 */
export const NAME_RE = /^[a-z][a-z0-9-]{0,30}$/;

/** What NAME_RE means, for messages. */
export const NAME_RULE = "lower-case letters, digits and dashes, starting with a letter, at most 31 characters";

/** `namePrefix` when the stack file does not set it. */
export function defaultNamePrefix(stack: string): string {
    return `incant-${stack}`;
}

/** The longest stack name whose default namePrefix is still a valid name (24). */
export const STACK_NAME_MAX = 31 - defaultNamePrefix("").length;

/** Whether a stack name can be used: it and its default namePrefix follow NAME_RE. */
export function isStackName(stack: string): boolean {
    return NAME_RE.test(stack) && NAME_RE.test(defaultNamePrefix(stack));
}

/** What a stack name must be, for messages (never echoes the rejected name: it may be anything). */
export const STACK_NAME_RULE = `lower-case letters, digits and dashes, starting with a letter, at most ${STACK_NAME_MAX} characters ` +
    `(the default namePrefix ${defaultNamePrefix("<stack>")} must be a valid name)`;
