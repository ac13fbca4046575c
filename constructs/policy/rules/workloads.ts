/** Rules for Kubernetes objects (deployed as kubernetes_manifest): pod hardening, isolation, availability, secrets, images. */
import { parseImageReference } from "../../private/image-ref";
import { LICENSE_PROXY_SERVICE_ACCOUNT } from "../../private/names";
import { Container, containersOf, describe, StackView, TfResource, valueAt, WORKLOAD_SELECTORS } from "../stack-view";
import { matches, namespaceOf, pod, podLabels } from "./k8s";
import { PolicyContext, PolicyRule } from "../types";

/** Long-running controllers: these need probes and, with several replicas, a PDB. */
const SERVICE_SELECTORS = ["k8s:Deployment", "k8s:StatefulSet", "k8s:DaemonSet"];

/** Namespaces owned by EKS: its add-ons there need traffic this stack does not describe, so it cannot default-deny them. */
const UNOWNED_NAMESPACES = ["kube-system"];


function each(resource: TfResource, includeInit: boolean, test: (c: Container) => string | undefined): string[] {
  return containersOf(pod(resource), { includeInit })
    .map((c) => {
      const problem = test(c);
      return problem ? `container ${c.name ?? "(unnamed)"}: ${problem}` : undefined;
    })
    .filter((m): m is string => m !== undefined);
}


/** Replicas a workload may run: its own count, or the most an autoscaler targeting it may set. */
function maxReplicas(workload: TfResource, stack: StackView): number {
  const object = workload.object!;
  const own = Number(valueAt(object, ["spec", "replicas"]) ?? 1);
  const hpas = stack.ofKind("HorizontalPodAutoscaler").filter((h) => {
    const target = valueAt(h.object, ["spec", "scaleTargetRef"]) as { kind?: string; name?: string } | undefined;
    return target?.kind === object.kind && target?.name === object.metadata.name && namespaceOf(h.object!) === namespaceOf(object);
  });
  return Math.max(own, ...hpas.map((h) => Number(valueAt(h.object, ["spec", "maxReplicas"]) ?? 1)));
}

function isEmptySelector(selector: unknown): boolean {
  if (selector === undefined || selector === null) return true;
  const s = selector as { matchLabels?: object; matchExpressions?: unknown[] };
  return Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0;
}

/** Directions ("Ingress"/"Egress") a namespace's NetworkPolicies deny by default. */
function defaultDenied(stack: StackView, namespace: string): Set<string> {
  const denied = new Set<string>();
  for (const np of stack.ofKind("NetworkPolicy").filter((p) => namespaceOf(p.object!) === namespace)) {
    const spec = (np.object!.spec ?? {}) as { podSelector?: unknown; policyTypes?: string[]; ingress?: unknown[]; egress?: unknown[] };
    if (!isEmptySelector(spec.podSelector)) continue;
    const types = spec.policyTypes ?? ["Ingress"];
    if (types.includes("Ingress") && (spec.ingress ?? []).length === 0) denied.add("Ingress");
    if (types.includes("Egress") && (spec.egress ?? []).length === 0) denied.add("Egress");
  }
  return denied;
}

// Names that hold a secret whatever their value looks like, and names that only might (e.g. TOKEN_HEADER).
const SECRET_NAME = /passw(or)?d|secret|private[-_]?key|api[-_]?key|access[-_]?key|client[-_]?secret/i;
const MAYBE_SECRET_NAME = /token|credential|auth|key$/i;
const SECRET_VALUE_PATTERNS: [RegExp, string][] = [
  [/\bA(KIA|SIA)[0-9A-Z]{16}\b/, "an AWS access key id"],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a PEM private key"],
  [/\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}/, "a JWT"],
  [/\b(ghp|gho|github_pat|glpat|xox[abp]|sk)[-_][A-Za-z0-9_]{16,}/, "an API token"],
  [/[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i, "a URL with a password"],
];
/** `password: hunter22` or `api_key=...` inside a config file held in a ConfigMap value. */
const INLINE_ASSIGNMENT = /(passw(?:or)?d|secret|api[-_]?key|access[-_]?key|token)["']?\s*[:=]\s*["']?([^\s"',}]{6,})/i;

function harmless(value: string): boolean {
  return value.length === 0 || value.startsWith("/") || /^(true|false|\d+(\.\d+)?[a-z]*)$/i.test(value) || /^[A-Z][a-z]+(-[A-Z][a-z]+)*$/.test(value);
}

/** Why `value` (under `name`) looks like a secret written in plain config, or undefined. */
export function secretLike(name: string, value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  for (const [pattern, what] of SECRET_VALUE_PATTERNS) if (pattern.test(value)) return `holds ${what}`;
  if (harmless(value)) return undefined;
  if (SECRET_NAME.test(name)) return "is named like a secret and holds a literal value";
  if (MAYBE_SECRET_NAME.test(name) && !/\s/.test(value) && /\d/.test(value) && /[a-z]/i.test(value) && value.length >= 12) return "is named like a token and holds a token-like value";
  const inline = INLINE_ASSIGNMENT.exec(value);
  if (inline && !harmless(inline[2]) && !inline[2].startsWith("${")) return `sets ${inline[1]} inline`;
  return undefined;
}

const IMAGE_HOST = /^(\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?)\//;

/** True when an image is pulled from this environment's private registry. */
export function isPrivateImage(image: string, privateRegistries: readonly string[]): boolean {
  if (image.startsWith("${")) {
    // A Terraform reference: private only when it resolves to one of our ECR repositories (directly or through a cross-stack output).
    const reference = image.slice(0, image.indexOf("}") + 1);
    return /aws_ecr_repository|repository_url/.test(reference);
  }
  if (IMAGE_HOST.test(image)) return true;
  return privateRegistries.some((host) => image.startsWith(`${host.replace(/\/+$/, "")}/`));
}

/** Tag or digest an image is pinned by; undefined for `:latest` or no tag at all. */
export function imagePin(image: string): string | undefined {
  const { tag, digest } = parseImageReference(image);
  if (digest) return digest;
  if (tag === undefined) return image.endsWith("}") ? "(set by reference)" : undefined;
  return tag === "latest" || tag === "" ? undefined : tag;
}

function licenseProxies(stack: StackView): TfResource[] {
  return stack.ofKind("Deployment", "StatefulSet").filter((w) => pod(w).serviceAccountName === LICENSE_PROXY_SERVICE_ACCOUNT);
}

export const workloadRules: PolicyRule[] = [
  {
    id: "VS-K8S-001",
    title: "Containers run as non-root",
    rationale: "A root process that escapes its container is root on the node, next to the GPUs and the node role.",
    fix: "Set securityContext.runAsNonRoot = true (pod or container) and a non-zero runAsUser.",
    appliesTo: WORKLOAD_SELECTORS,
    check: (w: TfResource) => {
      const podContext = pod(w).securityContext ?? {};
      return each(w, true, (c) => {
        const ctx = { ...podContext, ...c.securityContext };
        if (Number(ctx.runAsUser) === 0) return "runAsUser is 0";
        return ctx.runAsNonRoot === true ? undefined : "runAsNonRoot is not true";
      });
    },
  },
  {
    id: "VS-K8S-002",
    title: "Containers have a read-only root filesystem",
    rationale: "A writable root filesystem lets an intruder drop tools and persist in the container.",
    fix: "Set securityContext.readOnlyRootFilesystem = true and mount an emptyDir where the program must write.",
    appliesTo: WORKLOAD_SELECTORS,
    check: (w: TfResource) => each(w, true, (c) => (c.securityContext?.readOnlyRootFilesystem === true ? undefined : "readOnlyRootFilesystem is not true")),
  },
  {
    id: "VS-K8S-003",
    title: "Containers declare a memory limit and CPU and memory requests",
    rationale: "Without a memory limit one leak evicts its neighbours; without requests the scheduler packs GPU nodes blind. (CPU limits are optional: they throttle latency-sensitive inference.)",
    fix: "Set resources.limits.memory, resources.requests.cpu and resources.requests.memory.",
    appliesTo: WORKLOAD_SELECTORS,
    check: (w: TfResource) =>
      each(w, true, (c) => {
        const missing = [
          ["limits", "memory"],
          ["requests", "cpu"],
          ["requests", "memory"],
        ].filter(([kind, what]) => valueAt(c.resources, [kind, what]) === undefined);
        return missing.length ? `no ${missing.map((m) => m.join(".")).join(", ")}` : undefined;
      }),
  },
  {
    id: "VS-K8S-004",
    title: "Long-running containers have readiness and liveness probes",
    rationale: "Without probes, traffic reaches pods that are still loading models, and hung pods are never restarted.",
    fix: "Add readinessProbe and livenessProbe (the inference server serves /health/ready and /health/live).",
    appliesTo: SERVICE_SELECTORS,
    check: (w: TfResource) =>
      each(w, false, (c) => {
        const missing = (["readinessProbe", "livenessProbe"] as const).filter((p) => c[p] === undefined);
        return missing.length ? `no ${missing.join(", ")}` : undefined;
      }),
  },
  {
    id: "VS-K8S-005",
    title: "No privileged containers or privilege escalation",
    rationale: "A privileged container is the node; privilege escalation lets a setuid binary get there.",
    fix: "Set securityContext.privileged = false (or leave it unset) and allowPrivilegeEscalation = false.",
    appliesTo: WORKLOAD_SELECTORS,
    check: (w: TfResource) =>
      each(w, true, (c) => {
        if (c.securityContext?.privileged === true) return "privileged is true";
        return c.securityContext?.allowPrivilegeEscalation === false ? undefined : "allowPrivilegeEscalation is not false";
      }),
  },
  {
    id: "VS-K8S-006",
    title: "Containers drop all Linux capabilities",
    rationale: "Default capabilities (NET_RAW, CHOWN, ...) are more than a speech server needs; dropping them shrinks what an exploit can do.",
    fix: "Set securityContext.capabilities.drop = [\"ALL\"] and add back only what is needed.",
    appliesTo: WORKLOAD_SELECTORS,
    check: (w: TfResource) =>
      each(w, true, (c) => {
        const drop = valueAt(c.securityContext, ["capabilities", "drop"]);
        return Array.isArray(drop) && drop.includes("ALL") ? undefined : "capabilities.drop does not include ALL";
      }),
  },
  {
    id: "VS-K8S-007",
    title: "Pods do not share the host's network, PID or IPC namespace",
    rationale: "Host namespaces let a pod see and reach everything on the node, including the metadata service and other pods' processes.",
    fix: "Remove hostNetwork, hostPID and hostIPC from the pod spec.",
    appliesTo: WORKLOAD_SELECTORS,
    check: (w: TfResource) => (["hostNetwork", "hostPID", "hostIPC"] as const).filter((k) => pod(w)[k] === true).map((k) => `${k} is true`),
  },
  {
    id: "VS-K8S-008",
    title: "Pods mount no hostPath volumes",
    rationale: "A hostPath mount reaches into the node's filesystem (kubelet credentials, container runtime sockets).",
    fix: "Use emptyDir, a PersistentVolumeClaim or a projected volume; device plugins acknowledge their kubelet socket mount in code.",
    appliesTo: WORKLOAD_SELECTORS,
    check: (w: TfResource) =>
      (pod(w).volumes ?? []).filter((v) => v.hostPath !== undefined).map((v) => `volume ${v.name ?? "(unnamed)"} mounts hostPath ${String(valueAt(v, ["hostPath", "path"]))}`),
  },
  {
    id: "VS-K8S-009",
    title: "Every namespace has a default-deny NetworkPolicy for ingress and egress",
    rationale: "Kubernetes allows all pod traffic until a policy selects the pod; default-deny makes every allowed path an explicit, reviewable rule.",
    fix: "Add a NetworkPolicy with podSelector {} and policyTypes [Ingress, Egress] and no rules, then allow each needed path.",
    appliesTo: "stack",
    relevantTo: [...WORKLOAD_SELECTORS, "k8s:Namespace"],
    check: ({ stack }: PolicyContext) => {
      const namespaces = new Map<string, TfResource | undefined>();
      for (const w of stack.resources.filter((r) => WORKLOAD_SELECTORS.includes(r.selector))) namespaces.set(namespaceOf(w.object!), undefined);
      for (const ns of stack.ofKind("Namespace")) namespaces.set(ns.object!.metadata.name ?? "", ns);
      return [...namespaces]
        .filter(([name]) => !UNOWNED_NAMESPACES.includes(name))
        .flatMap(([name, object]) => {
          const denied = defaultDenied(stack, name);
          const missing = ["Ingress", "Egress"].filter((d) => !denied.has(d));
          if (missing.length === 0) return [];
          return [{ path: object?.path ?? stack.name, address: object?.address, message: `namespace ${name} has no default-deny NetworkPolicy for ${missing.join(" and ")}` }];
        });
    },
  },
  {
    id: "VS-K8S-010",
    title: "Every multi-replica workload has a PodDisruptionBudget",
    rationale: "Without a PDB a node drain or upgrade may evict every replica at once, and in-flight calls drop.",
    fix: "Add a PodDisruptionBudget in the same namespace whose selector matches the pod template labels (e.g. maxUnavailable: 1).",
    appliesTo: ["k8s:Deployment", "k8s:StatefulSet"],
    check: (w, { stack }) => {
      const replicas = maxReplicas(w, stack);
      if (replicas <= 1) return [];
      const labels = podLabels(w.object!);
      const covered = stack
        .ofKind("PodDisruptionBudget")
        .some((pdb) => namespaceOf(pdb.object!) === namespaceOf(w.object!) && matches(valueAt(pdb.object, ["spec", "selector"]), labels));
      return covered ? [] : [`${describe(w)} may run ${replicas} replicas and no PodDisruptionBudget selects its pods`];
    },
  },
  {
    id: "VS-K8S-011",
    title: "The license proxy keeps its lease and usage spool on persistent storage",
    rationale: "The spool holds usage not yet delivered and the lease that keeps serving through an outage; on an emptyDir a restart loses both.",
    fix: "Run the license proxy as a StatefulSet with a volumeClaimTemplate (or a PersistentVolumeClaim volume) mounted by the proxy container.",
    appliesTo: "stack",
    relevantTo: ["k8s:Deployment", "k8s:StatefulSet"],
    check: ({ stack }: PolicyContext) =>
      licenseProxies(stack).flatMap((w) => {
        const claimTemplates = ((valueAt(w.object, ["spec", "volumeClaimTemplates"]) as { metadata?: { name?: string } }[] | undefined) ?? []).map((t) => t.metadata?.name);
        const claimVolumes = (pod(w).volumes ?? []).filter((v) => v.persistentVolumeClaim !== undefined).map((v) => v.name);
        const persistent = new Set([...claimTemplates, ...claimVolumes]);
        const mounted = containersOf(pod(w), { includeInit: false }).some((c) => (c.volumeMounts ?? []).some((m) => persistent.has(m.name)));
        return mounted ? [] : [{ path: w.path, address: w.address, message: `${describe(w)} mounts no PersistentVolumeClaim for its spool and lease` }];
      }),
  },
  {
    id: "VS-SEC-001",
    title: "No secret value in plain configuration",
    rationale: "ConfigMaps and env values are readable by anyone who can read the Deployment, and they land in Terraform state in clear text.",
    fix: "Put the value in a Kubernetes Secret created outside Terraform (or a mounted file) and reference it with valueFrom.secretKeyRef.",
    appliesTo: ["k8s:ConfigMap", ...WORKLOAD_SELECTORS],
    check: (resource: TfResource) => {
      const object = resource.object!;
      if (object.kind === "ConfigMap") {
        const data = { ...(object.data as Record<string, unknown> | undefined) };
        return Object.entries(data)
          .map(([key, value]) => [key, secretLike(key, value)] as const)
          .filter(([, why]) => why)
          .map(([key, why]) => `data.${key} ${why}`);
      }
      return each(resource, true, (c) => {
        const problems = (c.env ?? []).map((e) => (e.value !== undefined ? secretLike(e.name ?? "", e.value) : undefined)).map((why, i) => (why ? `env ${c.env![i].name} ${why}` : undefined));
        const args = [...((c.args as unknown[]) ?? []), ...((c.command as unknown[]) ?? [])].map((a) => (typeof a === "string" ? secretLike(a.split("=")[0], a.split("=").slice(1).join("=") || a) : undefined));
        const found = [...problems, ...args.map((why) => (why ? `an argument ${why}` : undefined))].filter((p): p is string => p !== undefined);
        return found.length ? found.join("; ") : undefined;
      });
    },
  },
  {
    id: "VS-SEC-002",
    title: "No Kubernetes Secret carries data through Terraform",
    rationale: "Anything Terraform writes is stored in its state file in clear text, readable by whoever can read the state.",
    fix: "Create the Secret out of band (kubectl, External Secrets, a CSI secret store) and reference it by name.",
    appliesTo: ["k8s:Secret", "kubernetes_secret", "kubernetes_secret_v1"],
    check: (resource: TfResource) => {
      const source = resource.object ?? resource.values;
      const keys = ["data", "stringData", "binary_data", "binaryData"].filter((k) => Object.keys((source as Record<string, object>)[k] ?? {}).length > 0);
      return keys.length ? [`the Secret's ${keys.join(", ")} would be stored in Terraform state`] : [];
    },
  },
  {
    id: "VS-IMG-001",
    title: "Images are pinned by digest or a release tag",
    rationale: "`:latest` (or no tag) means a node can run a different image than the one reviewed.",
    fix: "Reference images as repo:tag@sha256:digest, or at least an immutable release tag.",
    appliesTo: WORKLOAD_SELECTORS,
    check: (w: TfResource) => each(w, true, (c) => (typeof c.image === "string" && imagePin(c.image) ? undefined : `image ${String(c.image ?? "(none)")} is not pinned`)),
  },
  {
    id: "VS-AIR-005",
    title: "Air-gapped: every image comes from the private registry",
    rationale: "An air-gapped node cannot pull from a public registry; a public image reference is a pod that never starts, or a hole someone opened.",
    fix: "Mirror the image into ECR (npm run mirror -- <env>) and reference the ECR repository.",
    modes: ["airgapped"],
    appliesTo: WORKLOAD_SELECTORS,
    check: (w, { privateRegistries }) =>
      each(w, true, (c) => (typeof c.image === "string" && isPrivateImage(c.image, privateRegistries) ? undefined : `image ${String(c.image)} is not from the private registry`)),
  },
];
