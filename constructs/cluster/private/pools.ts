/**
 * What GpuCluster and ExistingCluster share: resolving GPU pool props (defaults, sizes, the GPU
 * table), the key grants that encrypted node volumes need, the node role and Pod Identity roles.
 * Internal: not exported from the package.
 */
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { EksPodIdentityAssociation } from "@cdktf/provider-aws/lib/eks-pod-identity-association";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { GpuPoolInput, gpuPoolSchema, gpuPoolsSchema } from "../settings";
import { managedPolicyArn, podIdentityTrustPolicy, trustPolicy } from "../../shared/arn";
import { EncryptionKey } from "../../shared/encryption-key";
import { parseProps } from "../../private/validate";
import { GpuInstanceType, gpuInstanceType } from "../gpu-instance-types";
import { ClusterRefs, GpuPoolSpec, PodIdentityRoleOptions } from "../types";

export type ResolvedGpuPool = ReturnType<typeof gpuPoolSchema.parse>;

/** The default when a caller names no GPU pool: one pool `gpu` of g5.xlarge scaling from 0 to 2 nodes. */
export const DEFAULT_GPU_POOLS: GpuPoolInput[] = [{ name: "gpu", instanceTypes: ["g5.xlarge"], minSize: 0, maxSize: 2 }];

/** Parses and checks GPU pools (gpuPoolsSchema), so a typo in an instance type or a size fails at synth with the pool's index. */
export function resolveGpuPools(where: string, inputs: GpuPoolInput[]): { pools: ResolvedGpuPool[]; specs: GpuPoolSpec[] } {
  const pools = parseProps(gpuPoolsSchema, inputs, `${where}: gpuPools`);
  const specs = pools.map((pool, i) => ({ name: pool.name, instanceTypes: pool.instanceTypes, gpu: poolGpu(`${where}: gpuPools[${i}] (${pool.name})`, pool.instanceTypes), amiType: pool.amiType }));
  return { pools, specs };
}

/** What a pool's nodes carry: its first type's, which gpuPoolSchema has checked every other type of the pool matches. */
function poolGpu(where: string, instanceTypes: string[]): GpuInstanceType {
  return gpuInstanceType(instanceTypes[0], where);
}

/**
 * Node volumes are created by EC2 Auto Scaling's service-linked role. Matching it by aws:PrincipalArn rather
 * than naming it as principal keeps the policy valid in accounts where that role does not exist yet.
 */
export function grantNodeVolumes(key: EncryptionKey): void {
  const autoscalingRole = `arn:${key.partition}:iam::${key.account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`;
  const fromAutoscaling = { ArnEquals: { "aws:PrincipalArn": autoscalingRole }, StringEquals: { "kms:CallerAccount": key.account } };
  key.addStatement({
    Sid: "AutoScalingUsesKeyForNodeVolumes",
    Effect: "Allow",
    Principal: { AWS: "*" },
    Action: ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
    Resource: "*",
    Condition: fromAutoscaling,
  });
  key.addStatement({
    Sid: "AutoScalingGrantsEc2ForAttachedVolumes",
    Effect: "Allow",
    Principal: { AWS: "*" },
    Action: "kms:CreateGrant",
    Resource: "*",
    Condition: { ...fromAutoscaling, Bool: { "kms:GrantIsForAWSResource": true } },
  });
}

/** The EBS CSI driver controller's Pod Identity role: its id under the cluster, which names the role. */
export const EBS_CSI_ROLE_ID = "ebs-csi";

/** IAM role name prefixes are limited to 38 characters; Terraform appends a unique suffix. */
export function rolePrefix(cluster: string, purpose: string): string {
  return `${cluster.slice(0, 37 - purpose.length - 1)}-${purpose}-`.slice(0, 38);
}

/**
 * The node role of a cluster's node groups, with only the AWS managed policies a node needs: joining
 * (worker), pulling images (ECR pull only), pod networking (CNI, see GpuCluster for why it stays here)
 * and Session Manager (SSM core), the one way into a node.
 */
export function createNodeRole(scope: Construct, clusterName: string, tags: Record<string, string>): { role: IamRole; attachments: IamRolePolicyAttachment[] } {
  const role = new IamRole(scope, "node-role", {
    namePrefix: rolePrefix(clusterName, "node"),
    description: `EKS nodes of ${clusterName}`,
    assumeRolePolicy: trustPolicy("ec2.amazonaws.com"),
    tags,
  });
  // SSM core: operators reach a node through Session Manager (the VPC's SSM endpoints), never SSH.
  const attachments = ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonEKS_CNI_Policy", "AmazonSSMManagedInstanceCore"].map(
    (policy) => new IamRolePolicyAttachment(scope, `node-${policy}`, { role: role.name, policyArn: managedPolicyArn(role.arn, policy) }),
  );
  return { role, attachments };
}

/**
 * A role that pods of one service account assume through EKS Pod Identity, created under the cluster
 * construct; its trust names the cluster, namespace and service account (podIdentityTrustPolicy).
 */
export function podIdentityRole(cluster: Construct & Pick<ClusterRefs, "name">, id: string, options: PodIdentityRoleOptions, tags: Record<string, string>): IamRole {
  return new IamRole(cluster, `${id}-role`, {
    namePrefix: rolePrefix(cluster.name, id),
    description: options.description ?? `Pod Identity role of ${options.namespace}/${options.serviceAccount} in ${cluster.name}`,
    assumeRolePolicy: podIdentityTrustPolicy({ clusterName: cluster.name, namespace: options.namespace, serviceAccount: options.serviceAccount }),
    tags: { ...tags, "voice-selfhost:service-account": `${options.namespace}/${options.serviceAccount}` },
  });
}

/** ClusterRefs.addPodIdentityRole for both clusters: the role and the association that gives it to the service account. */
export function addPodIdentityRole(
  cluster: Construct & Pick<ClusterRefs, "name" | "clusterName">,
  id: string,
  options: PodIdentityRoleOptions,
  tags: Record<string, string>,
  dependsOn?: ITerraformDependable[],
): IamRole {
  const role = podIdentityRole(cluster, id, options, tags);
  new EksPodIdentityAssociation(cluster, `${id}-pod-identity`, {
    clusterName: cluster.clusterName,
    namespace: options.namespace,
    serviceAccount: options.serviceAccount,
    roleArn: role.arn,
    tags,
    dependsOn,
  });
  return role;
}
