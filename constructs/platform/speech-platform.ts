import { KubernetesProvider } from "@cdktf/provider-kubernetes/lib/provider";
import { Fn, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { ClusterRefs, kubernetesApiCidrs } from "../cluster/types";
import { InternalLoadBalancer, InternalLoadBalancerProps } from "../ingress/internal-load-balancer";
import { PrivateRegistry } from "../registry/private-registry";
import { LoadBalancerForwarding } from "../shared/load-balancer-forwarding";
import { InferenceService, InferenceServiceProps } from "../workloads/inference-service";

/** The nodes the inference pods run on: the cluster's GPU pools, its system pool, or both (services split between them). */
export type InferenceNodes = "gpu" | "system";

/** A cluster the platform wires: what every cluster exposes, and the system pool's groups where we created it. */
export type PlatformCluster = ClusterRefs & {
  /** Auto Scaling groups of the system pool (GpuCluster's, one per zone); an ExistingCluster has none of ours. */
  readonly systemAutoScalingGroupNames?: string[];
};

/** Props of SpeechPlatform. */
export interface SpeechPlatformProps {
  /** The cluster; the load balancer goes in its network. */
  readonly cluster: PlatformCluster;
  readonly registry: PrivateRegistry;
  /** The cluster's region: the Kubernetes provider's token is asked of it. */
  readonly region: string;
  /** Which nodes run the inference pods: the load balancer targets exactly those pools. */
  readonly inferenceNodes: readonly InferenceNodes[];
  /** The load balancer's client side (who may call, certificate, listeners); its network and targets come from the platform. */
  readonly ingress: Omit<InternalLoadBalancerProps, "network" | "targets">;
  /** The load balancer's construct id in the platform's scope (default `ingress`). */
  readonly ingressId?: string;
}

/**
 * The wiring between a cluster, its private registry, its internal load balancer and the Kubernetes
 * objects that run on it, written once (as aws-cdk's `ICluster` or cdk-eks-blueprints' builder do):
 * the nodes may pull from the registry, the load balancer targets the pools the inference pods run
 * on, a stack that holds Kubernetes objects gets the provider that reaches the cluster's private API
 * with a short-lived token, and the pods admit what the load balancer forwards and reach the API from
 * where it is.
 *
 * Not a construct of its own: what it creates lives in the scopes given, under the ids a hand-wired
 * stack used, so adopting it moves no resource.
 */
export class SpeechPlatform {
  readonly cluster: PlatformCluster;
  readonly registry: PrivateRegistry;
  readonly loadBalancer: InternalLoadBalancer;
  /** Where pods reach the Kubernetes API from the inside: the cluster's VPC (the private endpoint) and its service CIDR (the `kubernetes` Service). */
  readonly kubernetesApiCidrs: string[];
  private readonly region: string;
  private readonly providers = new Map<TerraformStack, KubernetesProvider>();

  constructor(scope: Construct, props: SpeechPlatformProps) {
    const { cluster, registry } = props;
    this.cluster = cluster;
    this.registry = registry;
    this.region = props.region;
    // The kubelet pulls with the node role.
    registry.grantPull(cluster.nodeRoleArn);
    const onGpu = props.inferenceNodes.includes("gpu");
    const onSystem = props.inferenceNodes.includes("system");
    if (!onGpu && !onSystem) throw new Error("SpeechPlatform: inferenceNodes: expected \"gpu\", \"system\" or both: the load balancer needs targets");
    if (onSystem && !cluster.systemAutoScalingGroupNames) {
      throw new Error("SpeechPlatform: inferenceNodes: \"system\" needs a cluster with a system pool of ours (GpuCluster); on an ExistingCluster the inference pods run on its GPU pools");
    }
    this.loadBalancer = new InternalLoadBalancer(scope, props.ingressId ?? "ingress", {
      ...props.ingress,
      network: cluster.network,
      targets: {
        autoScalingGroupNames: [...(onGpu ? cluster.gpuAutoScalingGroupNames : []), ...(onSystem ? cluster.systemAutoScalingGroupNames! : [])],
        nodeSecurityGroupId: cluster.clusterSecurityGroupId,
      },
    });
    this.kubernetesApiCidrs = kubernetesApiCidrs(cluster);
  }

  /** What the inference pods receive from the load balancer (the clients, less the cluster's VPC; TLS unless plain TCP). */
  get forwarding(): LoadBalancerForwarding {
    return this.loadBalancer.forwarding;
  }

  /**
   * The Kubernetes provider of the stack that holds `scope`, made on first use: the cluster's endpoint and CA
   * (cross-stack references when the cluster is in another stack) and a token from `aws eks get-token`, so no
   * credential is written to config or state.
   */
  kubernetesProvider(scope: Construct): KubernetesProvider {
    const stack = TerraformStack.of(scope);
    const existing = this.providers.get(stack);
    if (existing) return existing;
    const provider = new KubernetesProvider(stack, "kubernetes", {
      host: this.cluster.endpoint,
      clusterCaCertificate: Fn.base64decode(this.cluster.certificateAuthorityData),
      exec: [
        {
          apiVersion: "client.authentication.k8s.io/v1beta1",
          command: "aws",
          args: ["eks", "get-token", "--cluster-name", this.cluster.clusterName, "--region", this.region, "--output", "json"],
        },
      ],
    });
    this.providers.set(stack, provider);
    return provider;
  }

  /** An InferenceService behind this platform's load balancer, in a stack connected to the cluster. */
  addInferenceService(scope: Construct, id: string, props: Omit<InferenceServiceProps, "loadBalancer">): InferenceService {
    this.kubernetesProvider(scope);
    return new InferenceService(scope, id, { ...props, loadBalancer: this.forwarding });
  }
}
