import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { Construct } from "constructs";
import { autoscalerDiscoveryTags, CLUSTER_AUTOSCALER_NAMESPACE, CLUSTER_AUTOSCALER_SERVICE_ACCOUNT } from "../private/names";
import { policyDocument, PolicyStatement } from "../shared/arn";
import { ClusterRefs } from "./types";

/**
 * What ClusterAutoscalerRole needs of a cluster: its literal name and addPodIdentityRole.
 * @deprecated Pass a ClusterRefs (GpuCluster or ExistingCluster); this alias goes in the next major version.
 */
export type PodIdentityCluster = Pick<ClusterRefs, "name" | "addPodIdentityRole">;

/** Props of ClusterAutoscalerRole. */
export interface ClusterAutoscalerRoleProps {
  /** The cluster whose node groups it scales: GpuCluster or ExistingCluster. */
  readonly cluster: Pick<ClusterRefs, "name" | "addPodIdentityRole">;
  /** Where the autoscaler runs. Default `cluster-autoscaler` (what ClusterAutoscaler deploys into). */
  readonly namespace?: string;
  /** Default `cluster-autoscaler`. */
  readonly serviceAccount?: string;
}

/**
 * The cluster autoscaler's IAM permissions (the upstream AWS README's "Full Cluster Autoscaler Features
 * Policy", narrowed as it recommends): describe calls on every resource, because those APIs take no
 * resource-level permissions; scaling and terminating only Auto Scaling groups tagged as this
 * cluster's, the same tags the node pools carry and the autoscaler discovers them by.
 */
export function clusterAutoscalerPolicy(clusterName: string): PolicyStatement[] {
  const ownedByCluster = Object.fromEntries(Object.entries(autoscalerDiscoveryTags(clusterName)).map(([key, value]) => [`aws:ResourceTag/${key}`, value]));
  return [
    {
      Sid: "DiscoverNodeGroups",
      Effect: "Allow",
      Action: [
        "autoscaling:DescribeAutoScalingGroups",
        "autoscaling:DescribeAutoScalingInstances",
        "autoscaling:DescribeLaunchConfigurations",
        "autoscaling:DescribeScalingActivities",
        "autoscaling:DescribeTags",
        "ec2:DescribeImages",
        "ec2:DescribeInstanceTypes",
        "ec2:DescribeLaunchTemplateVersions",
        "ec2:GetInstanceTypesFromInstanceRequirements",
        "eks:DescribeNodegroup",
      ],
      Resource: "*",
    },
    {
      Sid: "ScaleOnlyThisClustersGroups",
      Effect: "Allow",
      Action: ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
      Resource: "*",
      Condition: { StringEquals: ownedByCluster },
    },
  ];
}

/**
 * The Pod Identity role of the cluster autoscaler, with clusterAutoscalerPolicy inline. The
 * workloads stack's ClusterAutoscaler takes it (`namespace`, `serviceAccount`), so the Kubernetes
 * service account is the one the association names.
 */
export class ClusterAutoscalerRole extends Construct {
  readonly role: IamRole;
  readonly roleArn: string;
  readonly clusterName: string;
  readonly namespace: string;
  readonly serviceAccount: string;

  constructor(scope: Construct, id: string, props: ClusterAutoscalerRoleProps) {
    super(scope, id);
    this.clusterName = props.cluster.name;
    this.namespace = props.namespace ?? CLUSTER_AUTOSCALER_NAMESPACE;
    this.serviceAccount = props.serviceAccount ?? CLUSTER_AUTOSCALER_SERVICE_ACCOUNT;
    this.role = props.cluster.addPodIdentityRole("autoscaler", {
      namespace: this.namespace,
      serviceAccount: this.serviceAccount,
      description: `Cluster Autoscaler of ${this.clusterName}: scales its tagged node groups`,
    });
    this.roleArn = this.role.arn;
    new IamRolePolicy(this, "policy", { role: this.role.id, name: "scale-node-groups", policy: policyDocument(clusterAutoscalerPolicy(this.clusterName)) });
  }
}
