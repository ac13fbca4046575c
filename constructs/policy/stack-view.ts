/**
 * A read-only view of one synthesized stack (the cdk.tf.json document): its resources with their
 * construct paths, and the Kubernetes objects deployed through `kubernetes_manifest`. Rules, the
 * review report and the mirror command all read stacks through this one view.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** A Kubernetes object as written in a `kubernetes_manifest` resource. */
export interface K8sObject {
  readonly apiVersion?: string;
  readonly kind: string;
  readonly metadata: { readonly name?: string; readonly namespace?: string; readonly labels?: Record<string, string>; readonly [key: string]: unknown };
  readonly [key: string]: unknown;
}

export interface TfResource {
  /** Terraform type, e.g. `aws_security_group`. */
  readonly type: string;
  /** Terraform name (cdktf's unique id). */
  readonly name: string;
  /** `type.name`: what Terraform calls it in plans and state. */
  readonly address: string;
  /** Construct path from cdktf's metadata, e.g. `prod-infra/network/vpc`; the address when absent. */
  readonly path: string;
  /** The resource's arguments, snake_case as synthesized (metadata removed). */
  readonly values: JsonObject;
  /** The Kubernetes object of a `kubernetes_manifest`. */
  readonly object?: K8sObject;
  /** `k8s:<Kind>` for Kubernetes objects, otherwise the Terraform type: what rules select on. */
  readonly selector: string;
}

/** A Kubernetes container as it appears in a pod spec. */
export interface Container {
  readonly name?: string;
  readonly image?: string;
  readonly securityContext?: Record<string, unknown>;
  readonly resources?: { readonly limits?: Record<string, unknown>; readonly requests?: Record<string, unknown> };
  readonly readinessProbe?: unknown;
  readonly livenessProbe?: unknown;
  readonly env?: { readonly name?: string; readonly value?: unknown; readonly valueFrom?: unknown }[];
  readonly volumeMounts?: { readonly name?: string; readonly mountPath?: string }[];
  readonly [key: string]: unknown;
}

export interface PodSpec {
  readonly containers?: Container[];
  readonly initContainers?: Container[];
  readonly securityContext?: Record<string, unknown>;
  readonly volumes?: { readonly name?: string; readonly [key: string]: unknown }[];
  readonly hostNetwork?: boolean;
  readonly hostPID?: boolean;
  readonly hostIPC?: boolean;
  readonly serviceAccountName?: string;
  readonly [key: string]: unknown;
}

/** Kinds whose objects run pods, and where their pod template sits. */
const POD_SPEC_PATHS: Record<string, string[]> = {
  Pod: ["spec"],
  Deployment: ["spec", "template", "spec"],
  StatefulSet: ["spec", "template", "spec"],
  DaemonSet: ["spec", "template", "spec"],
  ReplicaSet: ["spec", "template", "spec"],
  Job: ["spec", "template", "spec"],
  CronJob: ["spec", "jobTemplate", "spec", "template", "spec"],
};

/** Rule selectors for every kind that runs pods. */
export const WORKLOAD_SELECTORS: readonly string[] = Object.keys(POD_SPEC_PATHS).map((kind) => `k8s:${kind}`);

export class StackView {
  readonly resources: readonly TfResource[];

  constructor(
    /** Stack name (its construct id). */
    readonly name: string,
    readonly document: JsonObject,
  ) {
    const resources: TfResource[] = [];
    const byType = asObject(document.resource) ?? {};
    for (const [type, instances] of Object.entries(byType)) {
      for (const [name, raw] of Object.entries(asObject(instances) ?? {})) {
        const body = asObject(raw) ?? {};
        const { ["//"]: meta, ...values } = body;
        const path = stringAt(meta, ["metadata", "path"]) ?? `${type}.${name}`;
        const object = type === "kubernetes_manifest" ? toK8sObject(values.manifest) : undefined;
        resources.push({ type, name, address: `${type}.${name}`, path, values, object, selector: object ? `k8s:${object.kind}` : type });
      }
    }
    this.resources = resources;
  }

  ofType(...types: string[]): TfResource[] {
    return this.resources.filter((r) => types.includes(r.type));
  }

  /** Kubernetes objects of the given kinds. */
  ofKind(...kinds: string[]): TfResource[] {
    return this.resources.filter((r) => r.object && kinds.includes(r.object.kind));
  }

  /** Resources of `types` whose arguments mention `target` by reference (`${type.name.…}`). */
  referencing(target: TfResource, ...types: string[]): TfResource[] {
    return this.ofType(...types).filter((r) => references(r.values, target));
  }

  /** The provider's region, when it is a literal. */
  get region(): string | undefined {
    const aws = (asObject(this.document.provider) ?? {}).aws;
    const first = Array.isArray(aws) ? aws[0] : aws;
    const region = asObject(first ?? null)?.region;
    return typeof region === "string" ? region : undefined;
  }
}

/** True when any string inside `value` refers to `target` (`${aws_vpc.x.id}`, `aws_vpc.x.arn` inside an expression). */
export function references(value: unknown, target: TfResource): boolean {
  const needle = `${target.address}.`;
  return someString(value, (s) => s.includes(needle) || s.endsWith(target.address));
}

/** The launch template an EKS node group or an instance names, if it is one of this stack's. */
export function launchTemplateOf(launched: TfResource, stack: StackView): TfResource | undefined {
  const id = valueAt(launched.values, ["launch_template", "id"]) ?? valueAt(launched.values, ["launch_template", "name"]);
  return stack.ofType("aws_launch_template").find((lt) => references(id, lt));
}

export function someString(value: unknown, test: (s: string) => boolean): boolean {
  if (typeof value === "string") return test(value);
  if (Array.isArray(value)) return value.some((v) => someString(v, test));
  if (value !== null && typeof value === "object") return Object.values(value).some((v) => someString(v, test));
  return false;
}

/** The pod spec of a workload object, or undefined for kinds that run no pods. */
export function podSpecOf(object: K8sObject | undefined): PodSpec | undefined {
  if (!object) return undefined;
  const path = POD_SPEC_PATHS[object.kind];
  if (!path) return undefined;
  const spec = valueAt(object, path);
  return spec !== null && typeof spec === "object" ? (spec as PodSpec) : undefined;
}

export function containersOf(spec: PodSpec, options: { includeInit: boolean }): Container[] {
  return [...(spec.containers ?? []), ...(options.includeInit ? spec.initContainers ?? [] : [])];
}

/** Reads a nested value; cdktf writes single nested blocks either as an object or as a one-element list. */
export function valueAt(value: unknown, path: readonly (string | number)[]): unknown {
  let current = value;
  for (const key of path) {
    if (Array.isArray(current) && typeof key === "string") current = current[0];
    if (current === null || current === undefined || typeof current !== "object") return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

/** A block that may be synthesized as an object or a list of objects, always as a list. */
export function blocks(value: unknown): Record<string, unknown>[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.filter((v): v is Record<string, unknown> => v !== null && typeof v === "object");
}

/** Booleans may be synthesized as `true` or `"true"`. */
export function isTrue(value: unknown): boolean {
  return value === true || value === "true";
}

/** Names a resource in messages: its Kubernetes kind/namespace/name, or its Terraform address. */
export function describe(resource: TfResource): string {
  if (!resource.object) return resource.address;
  const { kind, metadata } = resource.object;
  return `${kind} ${metadata.namespace ? `${metadata.namespace}/` : ""}${metadata.name ?? "(unnamed)"}`;
}

function toK8sObject(value: unknown): K8sObject | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const object = value as Record<string, unknown>;
  if (typeof object.kind !== "string") return undefined;
  const metadata = object.metadata !== null && typeof object.metadata === "object" ? (object.metadata as K8sObject["metadata"]) : {};
  return { ...object, kind: object.kind, metadata };
}

function asObject(value: unknown): JsonObject | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as JsonObject) : undefined;
}

function stringAt(value: unknown, path: string[]): string | undefined {
  const found = valueAt(value, path);
  return typeof found === "string" ? found : undefined;
}
