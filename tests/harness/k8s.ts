/**
 * Kubernetes objects as the API server would read them: a recorded `kubernetes:` resource's
 * apiVersion and kind (offline/artifacts.ts kindOf, as the render writes them), validated with
 * the Kubernetes OpenAPI schemas of kubernetes-models.
 */
import { strict as assert } from "assert";
import { kindOf } from "../../offline/artifacts";
import { RecordedResource } from "../../offline/engine";

export interface K8sKind {
    /** API group; "" for the core API. */
    group: string;
    /** `<group>/<version>`, or `<version>` for the core API. */
    apiVersion: string;
    kind: string;
}

/** The apiVersion and kind of a recorded Kubernetes resource; fails for any other type. */
export function k8sKind(type: string): K8sKind {
    const k = kindOf(type);
    assert.ok(k, `${type} is not a Kubernetes object type`);
    return { group: k.group, apiVersion: k.group ? `${k.group}/${k.version}` : k.version, kind: k.kind };
}

/** Validates the object's revealed inputs with the kubernetes-models class of its kind; throws on the first error. */
export function validateK8sObject(r: Pick<RecordedResource, "type" | "revealedInputs">): void {
    const { apiVersion, kind } = k8sKind(r.type);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const Model = (require(`kubernetes-models/${apiVersion}`) as Record<string, new (data: object) => { validate(): void }>)[kind];
    assert.ok(Model, `no kubernetes-models class for ${apiVersion} ${kind}`);
    new Model({ ...r.revealedInputs, apiVersion, kind }).validate();
}
