import { DataAwsEksCluster } from "@cdktf/provider-aws/lib/data-aws-eks-cluster";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { Fn, Op, TerraformSelf, Token } from "cdktf";
import { Construct } from "constructs";
import { GpuPoolInput } from "./settings";
import { NetworkRefs } from "../network/types";
import { EncryptionKey } from "../shared/encryption-key";
import { EKS_CLUSTER_NAME_PATTERN } from "../private/names";
import { NodeAmiType, NodePool } from "./node-pool";
import { addPodIdentityRole, createNodeRole, DEFAULT_GPU_POOLS, grantNodeVolumes, resolveGpuPools } from "./private/pools";
import { ClusterRefs, GpuPoolSpec, PodIdentityRoleOptions } from "./types";

/** Props of ExistingCluster: the cluster's name and network, and the GPU pools to add. */
export interface ExistingClusterProps {
  /** Name of the EKS cluster to attach to (`aws eks list-clusters`). Checked for form at synth, for existence at plan. */
  readonly clusterName: string;
  /** The network the cluster runs in (often `PrivateNetwork.fromExisting`): the GPU nodes go in its private subnets. */
  readonly network: NetworkRefs;
  /** GPU pools to add; default one pool `gpu` of g5.xlarge scaling from 0 to 2 nodes. Same checks as GpuCluster's. */
  readonly gpuPools?: GpuPoolInput[];
  /** Tags for every resource created here and the nodes launched (instances, volumes, interfaces). */
  readonly tags?: Record<string, string>;
}

/**
 * GPU node pools for an EKS cluster that exists already (bring your own), and what the workloads
 * need to reach it. The cluster is read with the `aws_eks_cluster` data source, so:
 * - at synth, `clusterName` is checked for form (EKS's naming rule); an empty or malformed name
 *   fails with the prop to fix;
 * - at plan, Terraform fails if no cluster has that name, and a postcondition fails if the cluster
 *   is not in `network.vpcId`.
 *
 * Created here: a node role (worker, ECR pull-only and CNI policies only), a customer-managed key
 * for the node volumes, and one NodePool per GPU pool (launch template with IMDSv2 hop limit 1,
 * encrypted gp3, GPU taint, labels and scale-from-zero tags). EKS creates the node role's access
 * entry for managed node groups. The cluster must already run what nodes need to become ready
 * (vpc-cni, kube-proxy, coredns) and, for the workloads' GPU requests, the NVIDIA device plugin
 * (GpuNodeAgents) unless the pools use Bottlerocket.
 *
 * For the workloads, configure the Kubernetes provider from `endpoint` and
 * `certificateAuthorityData` (see examples/existing-vpc-and-cluster). `addPodIdentityRole` needs the
 * cluster to run the EKS Pod Identity agent add-on (`eks-pod-identity-agent`), as GpuCluster does.
 */
export class ExistingCluster extends Construct implements ClusterRefs {
  /** The cluster name as given (for names and tags). */
  readonly name: string;
  /** The data source that reads the cluster. */
  readonly cluster: DataAwsEksCluster;
  /** The cluster name as a reference to the data source. */
  readonly clusterName: string;
  readonly endpoint: string;
  readonly certificateAuthorityData: string;
  readonly network: NetworkRefs;
  /** The cluster's service CIDR, as the data source reads it. */
  readonly serviceCidr: string;
  /** The cluster's Kubernetes minor, as the data source reads it. */
  readonly kubernetesVersion: string;
  /** The security group EKS attaches to the control plane and to nodes whose launch template names none (ours). */
  readonly clusterSecurityGroupId: string;
  readonly nodeRole: IamRole;
  readonly nodeRoleArn: string;
  /** Encrypts the GPU nodes' volumes. */
  readonly encryptionKey: EncryptionKey;
  readonly gpuPools: NodePool[];
  readonly gpuPoolSpecs: GpuPoolSpec[];
  /** Auto Scaling groups of the GPU pools, one per pool (load balancer targets). */
  readonly gpuAutoScalingGroupNames: string[];
  private readonly tags: Record<string, string>;

  constructor(scope: Construct, id: string, props: ExistingClusterProps) {
    super(scope, id);
    const where = `ExistingCluster ${this.node.path}`;
    if (!Token.isUnresolved(props.clusterName) && !EKS_CLUSTER_NAME_PATTERN.test(props.clusterName)) {
      throw new Error(
        `${where}: clusterName: expected the name of an existing EKS cluster (1-100 letters, digits, - or _, starting with a letter or digit), found "${props.clusterName}"; ` +
          "pass the name `aws eks list-clusters` shows (whether it exists is checked at plan by the aws_eks_cluster data source)",
      );
    }
    this.name = props.clusterName;
    const { pools, specs } = resolveGpuPools(where, props.gpuPools ?? DEFAULT_GPU_POOLS);
    this.gpuPoolSpecs = specs;
    const tags = { ...props.tags, "voice-selfhost:cluster": this.name };
    this.tags = tags;
    this.network = props.network;

    this.cluster = new DataAwsEksCluster(this, "cluster", {
      name: props.clusterName,
      lifecycle: {
        postcondition: [
          {
            condition: Op.eq(Fn.lookupNested(TerraformSelf.getAny("vpc_config"), [0, "vpc_id"]), props.network.vpcId),
            errorMessage: `${where}: the EKS cluster is not in the VPC given as network.vpcId; pass the network the cluster runs in.`,
          },
        ],
      },
    });
    this.clusterName = this.cluster.name;
    this.endpoint = this.cluster.endpoint;
    this.certificateAuthorityData = this.cluster.certificateAuthority.get(0).data;
    this.clusterSecurityGroupId = this.cluster.vpcConfig.get(0).clusterSecurityGroupId;
    this.serviceCidr = this.cluster.kubernetesNetworkConfig.get(0).serviceIpv4Cidr;
    this.kubernetesVersion = this.cluster.version;

    this.encryptionKey = new EncryptionKey(this, "key", { description: `GPU node volumes of EKS cluster ${this.name}`, tags });
    grantNodeVolumes(this.encryptionKey);
    const { role, attachments } = createNodeRole(this, this.name, tags);
    this.nodeRole = role;
    this.nodeRoleArn = role.arn;

    this.gpuPools = pools.map(
      (pool, i) =>
        new NodePool(this, `pool-${pool.name}`, {
          ...pool,
          cluster: this,
          nodeRoleArn: role.arn,
          subnetIds: props.network.privateSubnetIds,
          encryptionKey: this.encryptionKey,
          amiType: pool.amiType as NodeAmiType,
          // The cluster's minor is read at plan, so the version table cannot pick a release: a pool pins its own or gets EKS's latest.
          releaseVersion: pool.amiReleaseVersion,
          gpu: specs[i].gpu,
          tags,
          nodeGroupTags: pool.tags,
          dependsOn: attachments,
        }),
    );
    this.gpuAutoScalingGroupNames = this.gpuPools.map((p) => p.autoScalingGroupName);
  }

  /** A role that pods of one service account assume through EKS Pod Identity (the cluster must run the Pod Identity agent add-on). */
  addPodIdentityRole(id: string, options: PodIdentityRoleOptions): IamRole {
    return addPodIdentityRole(this, id, options, this.tags);
  }
}
