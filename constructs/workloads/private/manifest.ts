import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import type { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";

/** The least every Kubernetes object has; the typed `kubernetes-models` interfaces all satisfy it. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly labels?: Record<string, string> };
}

/**
 * The one way the workloads deploy a Kubernetes object: a `kubernetes_manifest` whose `manifest` is
 * the object exactly as Kubernetes reads it. Reviewers (and the offline schema tests and policy
 * checks) see the real object in the synthesized JSON instead of a provider-specific translation.
 *
 * kubernetes_manifest reads the cluster's OpenAPI schema at plan time, so a workloads stack can only
 * be planned once its infra stack has been applied (see the README's deploy order).
 */
export function k8sObject<T extends KubeObject>(scope: Construct, id: string, obj: T, dependsOn?: ITerraformDependable[]): Manifest {
  if (!obj.metadata?.name) throw new Error(`${scope.node.path}/${id}: a ${obj.kind} needs metadata.name`);
  // JSON round trip: drops undefined fields, which Terraform would otherwise render as null attributes.
  return new Manifest(scope, id, { manifest: JSON.parse(JSON.stringify(obj)) as Record<string, unknown>, dependsOn });
}
