/** What a change does to a stack, from two synthesized documents: no Terraform, no state, no credentials. */
import { JsonObject, StackView, TfResource } from "../../constructs/policy/stack-view";

/**
 * Stateful resources, and the attributes whose change makes Terraform (or Kubernetes) replace them,
 * losing what they hold. From the AWS provider 5.x schema (ForceNew) and Kubernetes' immutable
 * fields; conservative: confirm with `terraform plan` before applying a flagged change.
 */
export const STATEFUL: Readonly<Record<string, { readonly holds: string; readonly forceNew: readonly string[] }>> = {
  aws_eks_cluster: {
    holds: "the cluster and every object in it",
    forceNew: ["name", "role_arn", "vpc_config.subnet_ids", "vpc_config.security_group_ids", "kubernetes_network_config", "encryption_config", "bootstrap_self_managed_addons", "access_config.bootstrap_cluster_creator_admin_permissions"],
  },
  aws_s3_bucket: { holds: "objects (model weights, logs)", forceNew: ["bucket", "bucket_prefix", "object_lock_enabled"] },
  aws_kms_key: { holds: "the key material: data encrypted under it becomes unreadable", forceNew: ["customer_master_key_spec", "key_usage", "multi_region", "custom_key_store_id", "xks_key_id"] },
  aws_ecr_repository: { holds: "mirrored and built images", forceNew: ["name", "encryption_configuration"] },
  aws_ebs_volume: { holds: "volume data", forceNew: ["availability_zone", "encrypted", "kms_key_id", "snapshot_id", "outpost_arn"] },
  aws_cloudwatch_log_group: { holds: "log history (audit, flow logs)", forceNew: ["name", "name_prefix", "log_group_class"] },
  "k8s:StatefulSet": {
    holds: "its PersistentVolumeClaims (the license proxy's lease and usage spool)",
    forceNew: ["manifest.kind", "manifest.apiVersion", "manifest.metadata.name", "manifest.metadata.namespace", "manifest.spec.volumeClaimTemplates", "manifest.spec.selector", "manifest.spec.serviceName", "manifest.spec.podManagementPolicy"],
  },
  "k8s:PersistentVolumeClaim": {
    holds: "volume data",
    forceNew: ["manifest.kind", "manifest.apiVersion", "manifest.metadata.name", "manifest.metadata.namespace", "manifest.spec.storageClassName", "manifest.spec.accessModes", "manifest.spec.selector", "manifest.spec.volumeName"],
  },
};

export interface AttributeChange {
  readonly attribute: string;
  readonly before: unknown;
  readonly after: unknown;
  /** This attribute forces replacement of a stateful resource. */
  readonly forcesReplacement: boolean;
}

export interface ResourceRef {
  readonly address: string;
  readonly path: string;
  readonly type: string;
  readonly selector: string;
}

export interface ChangedResource extends ResourceRef {
  readonly attributes: AttributeChange[];
  /** The baseline address, when a `moved` block renamed the resource (state follows it; nothing is replaced). */
  readonly movedFrom?: string;
}

/** A stateful resource a change destroys: removed, or replaced through a force-new attribute. */
export interface StatefulRisk extends ResourceRef {
  readonly action: "destroy" | "replace";
  readonly holds: string;
  readonly attributes: string[];
}

export interface StackDiff {
  /** False when the baseline has no such stack: everything is added. */
  readonly baselineHadStack: boolean;
  readonly added: ResourceRef[];
  /** Gone from the configuration and destroyed by the next apply. */
  readonly removed: ResourceRef[];
  /** Gone from the configuration, but a `removed` block with `destroy = false` keeps the object: Terraform only stops managing it. */
  readonly forgotten: ResourceRef[];
  readonly changed: ChangedResource[];
  readonly statefulRisks: StatefulRisk[];
}

const ref = (r: TfResource): ResourceRef => ({ address: r.address, path: r.path, type: r.type, selector: r.selector });

/** Leaf values by dotted path (`vpc_config.subnet_ids.0`). */
function flatten(value: unknown, prefix: string, out: Map<string, string>): Map<string, string> {
  if (value !== null && typeof value === "object") {
    const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
    if (entries.length === 0) out.set(prefix, JSON.stringify(value));
    for (const [key, v] of entries) flatten(v, prefix ? `${prefix}.${key}` : key, out);
  } else {
    out.set(prefix, JSON.stringify(value));
  }
  return out;
}

function forcesReplacement(selector: string, attribute: string): boolean {
  const table = STATEFUL[selector];
  // cdktf writes single nested blocks as objects or one-element lists; compare without list indices.
  const bare = attribute.replace(/\.\d+(?=\.|$)/g, "");
  return table?.forceNew.some((a) => bare === a || bare.startsWith(`${a}.`)) ?? false;
}

/** The current document's `moved` blocks whose old address the baseline has: new address -> old address. */
function renames(current: JsonObject, before: ReadonlyMap<string, TfResource>): Map<string, string> {
  const blocks = Array.isArray(current.moved) ? (current.moved as { from?: unknown; to?: unknown }[]) : [];
  return new Map(blocks.filter((m) => typeof m.from === "string" && typeof m.to === "string" && before.has(m.from)).map((m) => [m.to as string, m.from as string]));
}

/** The current document's `removed` blocks that keep their object (`lifecycle.destroy = false`): the addresses Terraform forgets. */
function keptObjects(current: JsonObject): Set<string> {
  const blocks = Array.isArray(current.removed) ? (current.removed as { from?: unknown; lifecycle?: unknown }[]) : [];
  const keeps = (lifecycle: unknown) => [lifecycle].flat().some((l) => (l as { destroy?: unknown } | null)?.destroy === false);
  return new Set(blocks.filter((b) => typeof b.from === "string" && keeps(b.lifecycle)).map((b) => b.from as string));
}

export function diffStacks(baseline: JsonObject | undefined, current: JsonObject, name: string): StackDiff {
  const before = new Map(new StackView(name, baseline ?? {}).resources.map((r) => [r.address, r]));
  const after = new Map(new StackView(name, current).resources.map((r) => [r.address, r]));
  const movedFrom = renames(current, before);
  const predecessor = (address: string) => before.get(movedFrom.get(address) ?? address);
  const movedAway = new Set([...movedFrom].filter(([to]) => after.has(to)).map(([, from]) => from));
  const added = [...after.values()].filter((r) => !predecessor(r.address)).map(ref);
  const kept = keptObjects(current);
  const gone = [...before.values()].filter((r) => !after.has(r.address) && !movedAway.has(r.address));
  const removed = gone.filter((r) => !kept.has(r.address)).map(ref);
  const forgotten = gone.filter((r) => kept.has(r.address)).map(ref);
  const changed: ChangedResource[] = [];
  for (const [address, now] of after) {
    const was = predecessor(address);
    if (!was) continue;
    const a = flatten(was.values, "", new Map());
    const b = flatten(now.values, "", new Map());
    const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
    const attributes = keys
      .filter((k) => a.get(k) !== b.get(k))
      .map((k) => ({
        attribute: k,
        before: a.has(k) ? JSON.parse(a.get(k)!) : undefined,
        after: b.has(k) ? JSON.parse(b.get(k)!) : undefined,
        forcesReplacement: forcesReplacement(now.selector, k),
      }));
    const moved = movedFrom.has(address) && !before.has(address) ? { movedFrom: movedFrom.get(address) } : {};
    if (attributes.length || "movedFrom" in moved) changed.push({ ...ref(now), attributes, ...moved });
  }
  const statefulRisks: StatefulRisk[] = [
    ...removed.filter((r) => STATEFUL[r.selector]).map((r) => ({ ...r, action: "destroy" as const, holds: STATEFUL[r.selector].holds, attributes: [] })),
    ...changed
      .filter((c) => c.attributes.some((a) => a.forcesReplacement))
      .map((c) => ({
        ...c,
        action: "replace" as const,
        holds: STATEFUL[c.selector].holds,
        attributes: c.attributes.filter((a) => a.forcesReplacement).map((a) => a.attribute),
      })),
  ].map(({ address, path, type, selector, action, holds, attributes }) => ({ address, path, type, selector, action, holds, attributes }));
  return { baselineHadStack: baseline !== undefined, added, removed, forgotten, changed, statefulRisks };
}
