/** Small synthetic stacks for rule tests: Terraform JSON as cdktf writes it, with construct paths. */
import { evaluate, JsonObject, NetworkMode, PolicyOptions, PolicyReport, StackView } from "../../constructs/policy";

export type Resources = Record<string, Record<string, JsonObject>>;

/** One rule-table case: resources, and the network mode to check them in. */
export interface Case {
  readonly resources: Resources;
  readonly mode?: NetworkMode;
  /** Providers besides the AWS one (a workloads stack's kubernetes provider). */
  readonly provider?: JsonObject;
  /** Terraform locals of the stack (a policy shared by many resources is held in one). */
  readonly locals?: JsonObject;
}
export const connected = (resources: Resources): Case => ({ resources });
export const airgapped = (resources: Resources): Case => ({ resources, mode: "airgapped" });

/** What a stack holds besides its resources: other providers, Terraform locals. */
export interface StackExtras {
  readonly provider?: JsonObject;
  readonly locals?: JsonObject;
}

/** A stack document whose resource `type.name` has construct path `fixture/<name>`. */
export function stackOf(resources: Resources, region = "eu-west-1", extras: StackExtras = {}): StackView {
  const resource: Record<string, Record<string, JsonObject>> = {};
  for (const [type, instances] of Object.entries(resources)) {
    resource[type] = {};
    for (const [name, values] of Object.entries(instances)) resource[type][name] = { ...values, "//": { metadata: { path: `fixture/${name}`, uniqueId: name } } };
  }
  return new StackView("fixture", { provider: { aws: [{ region }], ...extras.provider }, resource, locals: extras.locals ?? {} } as JsonObject);
}

export function check(resources: Resources, options: PolicyOptions = {}, extras: StackExtras = {}): PolicyReport {
  return evaluate(stackOf(resources, "eu-west-1", extras), options);
}

/** A kubernetes_manifest resource body. */
export const k8s = (manifest: JsonObject): JsonObject => ({ manifest });

const hardenedContext = { runAsNonRoot: true, runAsUser: 10001, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } };

/** A container that passes every container rule. */
export function container(overrides: JsonObject = {}): JsonObject {
  return {
    name: "app",
    image: "111122223333.dkr.ecr.eu-west-1.amazonaws.com/voice-selfhost/inference-server:1.0.0",
    securityContext: hardenedContext,
    resources: { limits: { memory: "2Gi" }, requests: { cpu: "500m", memory: "1Gi" } },
    readinessProbe: { httpGet: { path: "/health/ready", port: 8080 } },
    livenessProbe: { httpGet: { path: "/health/live", port: 8080 } },
    ...overrides,
  };
}

/** A Deployment that passes every workload rule (given a default-deny policy and, for replicas > 1, a PDB). */
export function deployment(name: string, options: { replicas?: number; containers?: JsonObject[]; pod?: JsonObject; kind?: string; namespace?: string } = {}): JsonObject {
  return k8s({
    apiVersion: "apps/v1",
    kind: options.kind ?? "Deployment",
    metadata: { name, namespace: options.namespace ?? "voice" },
    spec: {
      replicas: options.replicas ?? 1,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: options.containers ?? [container()], ...options.pod } },
    },
  });
}

/** Default-deny for both directions in a namespace. */
export function defaultDeny(namespace = "voice"): JsonObject {
  return k8s({
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "default-deny", namespace },
    spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
  });
}

export function pdb(app: string, namespace = "voice"): JsonObject {
  return k8s({ apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: app, namespace }, spec: { maxUnavailable: 1, selector: { matchLabels: { app } } } });
}
