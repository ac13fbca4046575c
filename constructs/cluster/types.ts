import type { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { NetworkRefs } from "../network/types";
import { GpuInstanceType } from "./gpu-instance-types";

/** A resolved GPU pool: its config with defaults applied, and what its instance type carries. */
export interface GpuPoolSpec {
  readonly name: string;
  readonly instanceTypes: string[];
  readonly gpu: GpuInstanceType;
  /** The node AMI: on AL2023 the NVIDIA device plugin runs as a DaemonSet (GpuNodeAgents); Bottlerocket runs it on the host. */
  readonly amiType: "AL2023_x86_64_NVIDIA" | "BOTTLEROCKET_x86_64_NVIDIA";
}

/**
 * Where pods reach a cluster's Kubernetes API from the inside: its VPC (the private endpoint) and its service CIDR
 * (the `kubernetes` Service).
 */
export function kubernetesApiCidrs(cluster: Pick<ClusterRefs, "network" | "serviceCidr">): string[] {
  return [cluster.network.vpcCidr, cluster.serviceCidr];
}

/** A workload role assumed through EKS Pod Identity by one service account. */
export interface PodIdentityRoleOptions {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly description?: string;
}

/**
 * What add-ons, the load balancer and the workloads need from an EKS cluster, whether we created it
 * (GpuCluster) or the caller brought it (ExistingCluster): the cluster's counterpart of NetworkRefs.
 */
export interface ClusterRefs {
  /** The cluster name as a literal: part of tag keys (autoscaler discovery) and resource names. */
  readonly name: string;
  /** The cluster name as a reference: using it makes a resource wait for (or read) the cluster. */
  readonly clusterName: string;
  /** The API server's URL, for the Kubernetes provider. */
  readonly endpoint: string;
  /** The cluster CA (base64), for the Kubernetes provider. */
  readonly certificateAuthorityData: string;
  /** The network the cluster runs in. */
  readonly network: NetworkRefs;
  /** The Kubernetes service CIDR: the `kubernetes` Service address (the API from inside the cluster) is in it. */
  readonly serviceCidr: string;
  /** The Kubernetes minor (`1.35`): a literal for a cluster we create, a reference for one we read. */
  readonly kubernetesVersion?: string;
  /** The security group on the GPU nodes (load balancer targets). */
  readonly clusterSecurityGroupId: string;
  /** The role of the GPU nodes (image pulls). */
  readonly nodeRoleArn: string;
  /** The GPU pools we manage on the cluster. */
  readonly gpuPoolSpecs: GpuPoolSpec[];
  /** Auto Scaling groups of the GPU pools, one per pool (load balancer targets, autoscaler). */
  readonly gpuAutoScalingGroupNames: string[];
  /** Creates a role that pods of one service account assume through EKS Pod Identity. */
  addPodIdentityRole(id: string, options: PodIdentityRoleOptions): IamRole;
}
