/** Helpers for the workload tests: the Kubernetes objects in a synthesized stack, and their offline schema validation. */

export interface KubeObj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  [key: string]: unknown;
}

export interface StackJson {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  provider?: Record<string, Record<string, unknown>[]>;
  output?: Record<string, { value: unknown }>;
}

/** Every object the stack deploys through kubernetes_manifest, as Kubernetes will read it. */
export function kubeObjects(json: StackJson): KubeObj[] {
  return Object.values(json.resource?.kubernetes_manifest ?? {}).map((r) => r.manifest as KubeObj);
}

export function find(objects: KubeObj[], kind: string, name?: string): KubeObj[] {
  return objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
}

/** An object of an inference service (combined, stt or tts), as opposed to the license proxy, the GPU agents or the cluster autoscaler. */
export const isInference = (o: KubeObj): boolean => o.metadata.labels?.["app.kubernetes.io/component"] === "inference";

/**
 * Validates an object against the Kubernetes OpenAPI schema with kubernetes-models: the model class
 * is looked up by apiVersion and kind (`apps/v1` Deployment -> kubernetes-models/apps/v1/Deployment).
 * Throws with the schema's own error when the object is invalid or of a kind the models do not know.
 */
export function validateKubeObject(obj: KubeObj): void {
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : [undefined, obj.apiVersion];
  const modulePath = group ? `kubernetes-models/${group}/${version}/${obj.kind}` : `kubernetes-models/v1/${obj.kind}`;
  const Model = (require(modulePath) as Record<string, new (data: unknown) => { validate(): void }>)[obj.kind];
  if (!Model) throw new Error(`no kubernetes-models class for ${obj.apiVersion} ${obj.kind}`);
  new Model(obj).validate();
}
