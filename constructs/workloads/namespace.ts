import type { INamespace } from "kubernetes-models/v1/Namespace";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { IIoK8sApiNetworkingV1NetworkPolicyIngressRule } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyIngressRule";
import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { CLUSTER_DNS, WORKLOAD_NAMESPACE } from "../private/names";
import { parseProps } from "../private/validate";
import { PART_OF } from "./private/labels";
import { KubeObject, k8sObject } from "./private/manifest";
import { metricsScraperNamespaceSchema } from "./settings";

/** Where a workload goes: a namespace's name, and what must exist before objects are created in it. */
export interface NamespaceRef {
  readonly name: string;
  readonly dependable?: ITerraformDependable;
}

/** Resolves a workload's `namespace` prop: our namespace construct, or the name of one that already exists. */
export function namespaceRef(ns: NamespaceRef | string | undefined): NamespaceRef {
  if (ns === undefined) return { name: WORKLOAD_NAMESPACE };
  return typeof ns === "string" ? { name: ns } : ns;
}

/** Creates an object in a namespace, after the namespace and anything else in `dependsOn` (constructs, never `${...}` strings). */
export function namespaced<T extends KubeObject>(scope: Construct, id: string, ns: NamespaceRef, obj: T, dependsOn: ITerraformDependable[] = []): Manifest {
  const after = [...(ns.dependable ? [ns.dependable] : []), ...dependsOn];
  return k8sObject(scope, id, { ...obj, metadata: { ...obj.metadata, namespace: ns.name } }, after.length ? after : undefined);
}

/** Adds a NetworkPolicy to a namespace. */
export function networkPolicy(scope: Construct, ns: NamespaceRef, name: string, spec: NonNullable<INetworkPolicy["spec"]>): Manifest {
  const policy: INetworkPolicy = { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name }, spec };
  return namespaced(scope, `policy-${name}`, ns, policy);
}

/** The ingress rule admitting the metrics scraper's namespace (metricsScraperNamespaceSchema: default `monitoring`) to `port`. */
export function scraperIngress(scraperNamespace: string | undefined, port: number): IIoK8sApiNetworkingV1NetworkPolicyIngressRule {
  const namespace = parseProps(metricsScraperNamespaceSchema, scraperNamespace, "metricsScraperNamespace");
  return { from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } }], ports: [{ protocol: "TCP", port }] };
}

/** Pod Security Admission levels. */
export type PodSecurityLevel = "restricted" | "baseline" | "privileged";

/** Props of WorkloadNamespace. */
export interface WorkloadNamespaceProps {
  /** Default: `voice-selfhost` (the name the infra stack's Pod Identity associations use). */
  readonly name?: string;
  /**
   * Pod Security Admission level enforced on the namespace. Default `restricted`. A lower level is
   * an exception for node agents (the GPU device plugin needs host paths): audit and warn stay at
   * `restricted`, so every deviation is still reported.
   */
  readonly enforce?: PodSecurityLevel;
  /** Why a level below `restricted` is needed; required then, and recorded as an annotation. */
  readonly exceptionReason?: string;
}

/**
 * A namespace with Pod Security Admission labels, a default-deny NetworkPolicy (no ingress, no
 * egress for any pod until a policy allows it) and the one allowance every pod needs: DNS to
 * CoreDNS in kube-system. Workloads in it add their own narrow allowances.
 */
export class WorkloadNamespace extends Construct implements NamespaceRef {
  readonly name: string;
  readonly namespace: Manifest;
  readonly dependable: ITerraformDependable;

  constructor(scope: Construct, id: string, props: WorkloadNamespaceProps = {}) {
    super(scope, id);
    this.name = props.name ?? WORKLOAD_NAMESPACE;
    const enforce = props.enforce ?? "restricted";
    if (enforce !== "restricted" && !props.exceptionReason?.trim()) {
      throw new Error(`${this.node.path}: namespace "${this.name}" enforces "${enforce}": exceptionReason must say why it cannot be "restricted"`);
    }
    const ns: INamespace = {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: this.name,
        labels: {
          "app.kubernetes.io/part-of": PART_OF,
          "pod-security.kubernetes.io/enforce": enforce,
          "pod-security.kubernetes.io/enforce-version": "latest",
          "pod-security.kubernetes.io/audit": "restricted",
          "pod-security.kubernetes.io/audit-version": "latest",
          "pod-security.kubernetes.io/warn": "restricted",
          "pod-security.kubernetes.io/warn-version": "latest",
        },
        annotations: props.exceptionReason ? { "voice-selfhost.io/pod-security-exception": props.exceptionReason } : undefined,
      },
    };
    this.namespace = k8sObject(this, "namespace", ns);
    this.dependable = this.namespace;

    networkPolicy(this, this, "default-deny", { podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    networkPolicy(this, this, "allow-dns", {
      podSelector: {},
      policyTypes: ["Egress"],
      egress: [
        {
          to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": CLUSTER_DNS.namespace } }, podSelector: { matchLabels: { ...CLUSTER_DNS.podLabels } } }],
          ports: [
            { protocol: "UDP", port: CLUSTER_DNS.port },
            { protocol: "TCP", port: CLUSTER_DNS.port },
          ],
        },
      ],
    });
  }
}
