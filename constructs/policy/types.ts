/** The vocabulary of the policy layer: rules, what they see, and what they report. */
import type { StackView, TfResource } from "./stack-view";

/** `airgapped` turns on the rules that forbid any route or image from outside the VPC. */
export type NetworkMode = "connected" | "airgapped";

/** "This rule may fail for this resource, and here is why that is acceptable." */
export interface Acknowledgement {
  /** Rule id, e.g. VS-EKS-001. */
  readonly rule: string;
  /** A construct path (matches that construct and everything under it) or a glob (`*` one segment, `**` any depth). */
  readonly resource: string;
  /** Why the exception is acceptable; shown in the review report. */
  readonly reason: string;
  /** Where it was written: an environment file, or `code` for an exception a construct declares. */
  readonly source?: string;
}

/** How a stack is checked: its network mode decides the air-gap rules; acknowledgements let named findings through. */
export interface PolicyOptions {
  /** Default `connected`: the air-gap rules only apply to stacks that say they are air-gapped. */
  readonly mode?: NetworkMode;
  readonly acknowledgements?: readonly Acknowledgement[];
  /**
   * Registry hosts images may come from in air-gapped mode, besides references to ECR repositories of
   * this app and `<account>.dkr.ecr.<region>.amazonaws.com` hosts. Default none.
   */
  readonly privateRegistries?: readonly string[];
}

export interface PolicyContext {
  readonly mode: NetworkMode;
  readonly stack: StackView;
  readonly privateRegistries: readonly string[];
}

interface RuleInfo {
  /** `VS-<AREA>-<NNN>`; never reused for a different meaning. */
  readonly id: string;
  readonly title: string;
  /** Why the invariant matters, for the reviewer. */
  readonly rationale: string;
  /** What to change when it fails. */
  readonly fix: string;
  /** Only checked in these modes; default every mode. */
  readonly modes?: readonly NetworkMode[];
}

/** In a ResourceRule's `appliesTo`: every resource of the stack, whatever its type. */
export const ANY_RESOURCE = "*";

/**
 * Checks one resource at a time. `appliesTo` names Terraform resource types (`aws_lb`), Kubernetes
 * kinds deployed through `kubernetes_manifest` (`k8s:Deployment`), or ANY_RESOURCE.
 */
export interface ResourceRule extends RuleInfo {
  readonly appliesTo: readonly string[];
  /** One message per problem; none when compliant. */
  check(resource: TfResource, context: PolicyContext): string[];
}

/** Checks something about the stack as a whole (e.g. a default-deny NetworkPolicy per namespace). */
export interface StackRule extends RuleInfo {
  readonly appliesTo: "stack";
  /** Selectors whose presence makes the rule relevant; with none of them in the stack it is not applicable. */
  readonly relevantTo: readonly string[];
  check(context: PolicyContext): StackFinding[];
}

export interface StackFinding {
  /** Construct path the finding is about (a namespace object, or the stack itself). */
  readonly path: string;
  readonly address?: string;
  readonly message: string;
}

export type PolicyRule = ResourceRule | StackRule;

/** One failed check. */
export interface Finding {
  readonly rule: string;
  readonly title: string;
  /** Construct path of the resource (`prod-infra/cluster/eks`). */
  readonly path: string;
  /** Terraform address (`aws_eks_cluster.cluster_eks_1A2B3C`), when the finding is about one resource. */
  readonly address?: string;
  readonly message: string;
  readonly fix: string;
  /** Set when an acknowledgement lets the finding through. */
  readonly acknowledgement?: Acknowledgement;
}

export interface RuleStatus {
  readonly id: string;
  readonly title: string;
  /** `not-applicable`: nothing in the stack is of a type the rule checks, or the rule is off in this mode. */
  readonly status: "pass" | "fail" | "acknowledged" | "not-applicable";
}

export interface PolicyReport {
  readonly stack: string;
  readonly mode: NetworkMode;
  readonly rules: RuleStatus[];
  /** Findings no acknowledgement covers: these fail synth. */
  readonly violations: Finding[];
  /** Findings let through by an acknowledgement, with its reason. */
  readonly acknowledged: Finding[];
}
