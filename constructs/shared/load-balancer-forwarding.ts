/**
 * What the internal load balancer forwards to the pods behind it, as both stacks must see it: the infra
 * stack's InternalLoadBalancer works it out, the workloads stack's InferenceService admits exactly that
 * (and serves TLS when the load balancer re-encrypts), and writes it on its Service, so policy rules
 * VS-K8S-017 can check the pods against it without reading the other stack.
 *
 * The targets are instances with client IP preservation, and the health check goes to kube-proxy's
 * health-check node port on the node (shared/drain.ts), never to the pod: so the only addresses the
 * load balancer brings to a pod are its clients'. The cluster's own network (the VPC: nodes and pods) is
 * carved out of them. An address there cannot be told apart from a pod's, and a caller there that is
 * itself a target of the load balancer would hairpin (AWS does not support a target connecting to itself
 * through an NLB with client IP preservation on): callers in the cluster are named instead (namespace and
 * pod labels) and call the Service in-cluster.
 */
import { Token } from "cdktf";
import { cidrContains, cidrsOverlap, parseCidr } from "../private/cidr";

/** One client network the pods admit: a CIDR, less the cluster network inside it (a NetworkPolicy ipBlock). */
export interface ClientSource {
  readonly cidr: string;
  readonly except: readonly string[];
}

/** The protocol of the target group: TLS re-encrypts to the pod with the pod's own certificate; TCP is plainTcp (dev). */
export type TargetProtocol = "TLS" | "TCP";

/** What the load balancer forwards to its targets' pods. */
export interface LoadBalancerForwarding {
  /** The client networks, whose addresses the load balancer preserves, less the cluster's network. */
  readonly clients: readonly ClientSource[];
  /** The cluster's network (its VPC CIDR), carved out of the clients. */
  readonly clusterNetworkCidrs: readonly string[];
  readonly targetProtocol: TargetProtocol;
}

/**
 * The environment variables that make a target serve TLS (the inference server's TLS_CERT_FILE and
 * TLS_KEY_FILE, workloads/contract.ts SERVER_ENV): here so the policy rules can check a TLS target serves it.
 */
export const TARGET_TLS_ENV = { certFile: "TLS_CERT_FILE", keyFile: "TLS_KEY_FILE" } as const;

/** Service annotation carrying the LoadBalancerForwarding (JSON) of the load balancer in front of it. */
export const LOAD_BALANCER_FORWARDING_ANNOTATION = "voice-selfhost.io/load-balancer-forwarding";

/**
 * The client CIDRs with the cluster network carved out. A client CIDR that lies within the cluster network
 * fails (`fail` gets the index and why): every address in it is a node's or a pod's.
 */
export function clientSources(clientCidrs: readonly string[], clusterNetworkCidrs: readonly string[], fail: (index: number, message: string) => void): ClientSource[] {
  const cluster = clusterNetworkCidrs.map((c) => {
    const parsed = parseCidr(c);
    if (Token.isUnresolved(c) || !parsed) throw new Error(`clusterNetworkCidrs: expected literal CIDRs (the cluster's network is carved out of the clients at synth), found "${c}"`);
    return { text: c, parsed };
  });
  return clientCidrs.map((cidr, i) => {
    const client = parseCidr(cidr);
    if (!client) throw new Error(`clientCidrs[${i}]: expected a CIDR, found "${cidr}"`);
    const inside = cluster.find((n) => cidrContains(n.parsed, client));
    if (inside) {
      fail(
        i,
        `${cidr} lies within the cluster's network ${inside.text}: its addresses are nodes and pods, which the pods cannot tell from clients, and a caller there that is a load balancer target cannot reach itself through it (client IP preservation); name in-cluster callers in the service's callers setting and let them call the Service in-cluster`,
      );
    }
    return { cidr, except: cluster.filter((n) => cidrsOverlap(n.parsed, client) && !inside).map((n) => n.text) };
  });
}
