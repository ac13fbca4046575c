/**
 * The perimeter of the pods that handle customer audio (issue 23): they reach nothing outside the cluster,
 * the load balancer re-encrypts to them, and they admit exactly what it forwards. The workloads stack cannot
 * see the load balancer, so the Service carries what it forwards (shared/load-balancer-forwarding.ts), as it
 * carries the health check for the drain rules.
 */
import { cidrContains, cidrsOverlap, parseCidr } from "../../private/cidr";
import { LOAD_BALANCER_FORWARDING_ANNOTATION, LoadBalancerForwarding, TARGET_TLS_ENV } from "../../shared/load-balancer-forwarding";
import { containersOf, describe, K8sObject, references, StackView, TfResource, valueAt } from "../stack-view";
import { PolicyContext, PolicyRule } from "../types";
import { environmentOf, matches, namespaceOf, pod, podLabels, selectedWorkloads } from "./k8s";

/** A Service that puts its pods behind a load balancer (its node ports), and the workloads it selects. */
function loadBalanced(service: TfResource, stack: StackView): TfResource[] {
  const type = String(valueAt(service.object, ["spec", "type"]) ?? "");
  if (!["NodePort", "LoadBalancer"].includes(type)) return [];
  return selectedWorkloads(service.object!, stack.ofKind("Deployment", "StatefulSet"));
}

function declaredForwarding(service: K8sObject): LoadBalancerForwarding | undefined {
  const raw = (service.metadata.annotations as Record<string, string> | undefined)?.[LOAD_BALANCER_FORWARDING_ANNOTATION];
  if (!raw) return undefined;
  try {
    const value = JSON.parse(raw) as Partial<LoadBalancerForwarding>;
    return Array.isArray(value.clients) && Array.isArray(value.clusterNetworkCidrs) && (value.targetProtocol === "TLS" || value.targetProtocol === "TCP") ? (value as LoadBalancerForwarding) : undefined;
  } catch {
    return undefined;
  }
}

type Direction = "ingress" | "egress";
type Peer = Record<string, unknown>;

/** The rules of each NetworkPolicy in the workload's namespace that selects its pods, in one direction. */
function policyRules(workload: TfResource, direction: Direction, stack: StackView): { policy: string; peers: Peer[] | undefined }[] {
  const labels = podLabels(workload.object!);
  const namespace = namespaceOf(workload.object!);
  return stack
    .ofKind("NetworkPolicy")
    .filter((p) => namespaceOf(p.object!) === namespace)
    .filter((p) => {
      const selector = valueAt(p.object, ["spec", "podSelector"]);
      const selectsAll = selector !== null && typeof selector === "object" && Object.keys(valueAt(selector, ["matchLabels"]) ?? {}).length === 0 && valueAt(selector, ["matchExpressions"]) === undefined;
      return selectsAll || matches(selector, labels);
    })
    .flatMap((p) => {
      const rules = (valueAt(p.object, ["spec", direction]) as Record<string, unknown>[] | undefined) ?? [];
      // A rule with no peers admits every address.
      return rules.map((rule) => ({ policy: String(p.object!.metadata.name), peers: rule[direction === "ingress" ? "from" : "to"] as Peer[] | undefined }));
    });
}

/** A peer naming pods by label (in its own namespace or a named one): a caller or callee inside the cluster. */
function namesPods(peer: Peer): boolean {
  return Object.keys((valueAt(peer, ["podSelector", "matchLabels"]) as Record<string, string> | undefined) ?? {}).length > 0 && peer.ipBlock === undefined;
}

const sameList = (a: readonly string[] = [], b: readonly string[] = []) => a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);

function ingressProblems(workload: TfResource, forwarding: LoadBalancerForwarding, stack: StackView): string[] {
  const problems: string[] = [];
  for (const client of forwarding.clients) {
    const cidr = parseCidr(client.cidr);
    const missing = forwarding.clusterNetworkCidrs.filter((n) => cidr && parseCidr(n) && cidrsOverlap(cidr, parseCidr(n)!) && !client.except.includes(n));
    if (missing.length > 0) problems.push(`the declared client network ${client.cidr} includes the cluster's network ${missing.join(", ")} without carving it out`);
    if (cidr && forwarding.clusterNetworkCidrs.some((n) => parseCidr(n) && cidrContains(parseCidr(n)!, cidr))) problems.push(`the declared client network ${client.cidr} lies within the cluster's network: its addresses are nodes and pods`);
  }
  const scraped = valueAt(workload.object, ["spec", "template", "metadata", "annotations", "prometheus.io/scrape"]) === "true";
  let namespacesAdmitted = 0;
  for (const { policy, peers } of policyRules(workload, "ingress", stack)) {
    if (!peers || peers.length === 0) {
      problems.push(`NetworkPolicy ${policy} admits every address`);
      continue;
    }
    for (const peer of peers) {
      const block = peer.ipBlock as { cidr?: string; except?: string[] } | undefined;
      if (block) {
        const declared = forwarding.clients.find((c) => c.cidr === block.cidr && sameList(c.except, block.except));
        if (!declared) problems.push(`NetworkPolicy ${policy} admits ${block.cidr}${block.except?.length ? ` except ${block.except.join(", ")}` : ""}, which is not what the load balancer forwards`);
      } else if (!namesPods(peer)) {
        // The metrics scraper's namespace: one, and only for pods that ask to be scraped.
        if (peer.namespaceSelector !== undefined && scraped && ++namespacesAdmitted === 1) continue;
        problems.push(`NetworkPolicy ${policy} admits ${peer.namespaceSelector !== undefined ? "a whole namespace" : "every pod"} (${JSON.stringify(peer)}), not named callers`);
      }
    }
  }
  if (forwarding.targetProtocol === "TLS") {
    const namespace = namespaceOf(workload.object!);
    for (const c of containersOf(pod(workload), { includeInit: false })) {
      const env = environmentOf(c, namespace, stack);
      if (!env[TARGET_TLS_ENV.certFile] || !env[TARGET_TLS_ENV.keyFile]) problems.push(`container ${c.name} serves no TLS (${TARGET_TLS_ENV.certFile}, ${TARGET_TLS_ENV.keyFile}) behind a load balancer that re-encrypts to it`);
    }
  }
  return problems;
}

function egressProblems(workload: TfResource, stack: StackView): string[] {
  const problems: string[] = [];
  for (const { policy, peers } of policyRules(workload, "egress", stack)) {
    if (!peers || peers.length === 0) {
      problems.push(`NetworkPolicy ${policy} lets it reach every address`);
      continue;
    }
    for (const peer of peers) {
      const block = peer.ipBlock as { cidr?: string; except?: string[] } | undefined;
      if (block) problems.push(`NetworkPolicy ${policy} lets it reach ${block.cidr}${block.except?.length ? ` except ${block.except.join(", ")}` : ""}`);
      else if (!namesPods(peer)) problems.push(`NetworkPolicy ${policy} lets it reach ${peer.namespaceSelector !== undefined ? "a whole namespace" : "every pod"} (${JSON.stringify(peer)})`);
    }
  }
  return problems;
}

export const servingPerimeterRules: PolicyRule[] = [
  {
    id: "VS-K8S-017",
    title: "Pods behind the load balancer admit exactly what it forwards, and serve TLS when it re-encrypts",
    rationale:
      "The load balancer preserves client addresses, so a pod's ingress can name its clients. A client CIDR that includes the cluster's own VPC admits every node and pod, which then skip the load balancer's security group, and a caller that is itself a target hairpins. A load balancer that re-encrypts to pods that serve plain HTTP cannot connect at all.",
    fix: "Build the pods' ingress from the load balancer's forwarding (InternalLoadBalancer.forwarding: the client CIDRs with the VPC carved out), name in-cluster callers (settings.callers), and set the Service's voice-selfhost.io/load-balancer-forwarding annotation (InferenceService does all three).",
    appliesTo: ["k8s:Service"],
    check: (service: TfResource, { stack }: PolicyContext) => {
      const workloads = loadBalanced(service, stack);
      if (workloads.length === 0) return [];
      const forwarding = declaredForwarding(service.object!);
      if (!forwarding) return [`${describe(service)} is load-balanced but declares not what the load balancer forwards (${LOAD_BALANCER_FORWARDING_ANNOTATION}): its pods' ingress cannot be shown to admit only that`];
      return workloads.flatMap((w) => ingressProblems(w, forwarding, stack).map((p) => `${describe(w)}: ${p}`));
    },
  },
  {
    id: "VS-K8S-018",
    title: "Pods that serve clients through the load balancer reach only pods in the cluster (no address block)",
    rationale:
      "A NetworkPolicy applies to the whole pod: an egress rule for one container (a model sync to S3, a metadata endpoint) lets the server that handles customer audio and transcripts send them there too.",
    fix: "Give the serving pods egress to named pods only (the license proxy; DNS through the namespace's policy), and move anything that needs the network out of the pod (model images copied by an init container with no network: models.source \"registry\").",
    appliesTo: ["k8s:Service"],
    check: (service: TfResource, { stack }: PolicyContext) => loadBalanced(service, stack).flatMap((w) => egressProblems(w, stack).map((p) => `${describe(w)}: ${p}`)),
  },
  {
    id: "VS-LB-005",
    title: "A TLS listener re-encrypts to its targets",
    rationale: "With a TCP target group behind a TLS listener, audio crosses the VPC (and zones, with cross-zone on) in clear from the load balancer to the pod; many bank policies require TLS to the target.",
    fix: "Make the target group TLS and have the pods serve a certificate (InternalLoadBalancer does unless plainTcp; the pods serve the Secret workloads.<service>.tlsSecret).",
    appliesTo: ["aws_lb_listener"],
    check: (listener: TfResource, { stack }: PolicyContext) => {
      if (listener.values.protocol !== "TLS") return [];
      const actions = (Array.isArray(listener.values.default_action) ? listener.values.default_action : [listener.values.default_action]) as Record<string, unknown>[];
      return actions.flatMap((action) =>
        stack
          .ofType("aws_lb_target_group")
          .filter((g) => references(action?.target_group_arn, g))
          .filter((g) => g.values.protocol !== "TLS")
          .map((g) => `TLS listener forwards to ${g.path}, a ${String(g.values.protocol)} target group: the hop to the target is in clear`),
      );
    },
  },
];
