import { AutoscalingGroupTagA } from "@cdktf/provider-aws/lib/autoscaling-group-tag";
import { EksNodeGroup } from "@cdktf/provider-aws/lib/eks-node-group";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import { ITerraformDependable } from "cdktf";
import { Construct } from "constructs";
import { AUTOSCALER_TAG_PREFIX, autoscalerDiscoveryTags, GPU_RESOURCE, GPU_TAINT, NODE_LABELS } from "../private/names";
import type { ClusterRefs } from "./types";
import { EncryptionKey } from "../shared/encryption-key";
import { forgetWithoutDestroying, legacyLogicalId } from "../private/removed";
import { acceleratorLabel, GpuInstanceType } from "./gpu-instance-types";

/** EKS AMI types a pool may use: standard AL2023 for the system pool, NVIDIA variants for GPU pools. */
export type NodeAmiType = "AL2023_x86_64_STANDARD" | "AL2023_x86_64_NVIDIA" | "BOTTLEROCKET_x86_64_NVIDIA";

/** Props of NodePool (normally filled in by GpuCluster or ExistingCluster). */
export interface NodePoolProps {
  /**
   * The cluster the pool joins, named as ClusterRefs names it: `name` the literal (it becomes part of
   * tag keys, which cannot hold Terraform references), `clusterName` the reference the node group waits for.
   */
  readonly cluster: Pick<ClusterRefs, "name" | "clusterName">;
  readonly nodeRoleArn: string;
  readonly subnetIds: string[];
  readonly encryptionKey: EncryptionKey;
  readonly name: string;
  /**
   * Set when a pool is split into one node group per availability zone (the system pool, whose
   * license-proxy volumes are zonal): the zone its one subnet is in, part of its resource names. Its
   * nodes keep the pool's label, so the autoscaler balances the zones' groups as one pool.
   */
  readonly zone?: string;
  readonly instanceTypes: string[];
  readonly capacityType: "ON_DEMAND" | "SPOT";
  readonly minSize: number;
  readonly maxSize: number;
  readonly desiredSize?: number;
  readonly diskSizeGiB: number;
  readonly amiType: NodeAmiType;
  /** The AMI release the nodes run (`release_version`), so a re-apply never moves them unreviewed; unset: EKS's latest at creation. */
  readonly releaseVersion?: string;
  /** Set for GPU pools: adds the GPU taint, labels and the autoscaler's scale-from-zero hints. */
  readonly gpu?: GpuInstanceType;
  /** Tags on the instances, volumes, network interfaces, launch template and node group. */
  readonly tags?: Record<string, string>;
  /** Tags on the node group only, on top of `tags` (the pool's own: GpuPoolInput's `tags`). */
  readonly nodeGroupTags?: Record<string, string>;
  readonly dependsOn?: ITerraformDependable[];
}

/**
 * One EKS managed node group behind a launch template of our own, so every node gets:
 * - IMDSv2 only, hop limit 1: a pod cannot reach the node role's credentials through the metadata
 *   service. Hop limit 2 is needed only by pods that read IMDS from their own network namespace
 *   (e.g. an AWS SDK without Pod Identity, or a load balancer controller without --aws-region); our
 *   pods use Pod Identity, whose agent runs on the host network, so none needs it.
 * - an encrypted gp3 root volume with the cluster's customer-managed key. EC2 Auto Scaling launches
 *   the instances, so the key policy grants its service-linked role (see GpuCluster).
 * - no public IP (the subnets are private and hand out none), and the EKS cluster security group,
 *   which EKS attaches when a launch template names no security group.
 * - tags on the instance, its volumes and network interfaces (provider default tags do not reach
 *   what an Auto Scaling group launches).
 */
export class NodePool extends Construct {
  readonly nodeGroup: EksNodeGroup;
  readonly launchTemplate: LaunchTemplate;
  /** The node group's Auto Scaling group (a load balancer attaches to it). */
  readonly autoScalingGroupName: string;
  readonly labels: Record<string, string>;

  constructor(scope: Construct, id: string, props: NodePoolProps) {
    super(scope, id);
    const groupName = props.zone ? `${props.name}-${props.zone}` : props.name;
    const resourceTags = { ...props.tags, Name: `${props.cluster.name}-${groupName}`, [NODE_LABELS.pool]: props.name };
    const volume = (deviceName: string, volumeSize: number) => ({
      deviceName,
      ebs: {
        volumeSize,
        volumeType: "gp3",
        encrypted: "true",
        kmsKeyId: props.encryptionKey.arn,
        deleteOnTermination: "true",
      },
    });
    // Bottlerocket boots from a small OS volume and keeps images and pods on a second one.
    const volumes =
      props.amiType === "BOTTLEROCKET_x86_64_NVIDIA" ? [volume("/dev/xvda", 4), volume("/dev/xvdb", props.diskSizeGiB)] : [volume("/dev/xvda", props.diskSizeGiB)];

    this.launchTemplate = new LaunchTemplate(this, "launch-template", {
      namePrefix: `${props.cluster.name}-${groupName}-`,
      description: `Nodes of pool ${groupName} in EKS cluster ${props.cluster.name}`,
      updateDefaultVersion: true,
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" },
      blockDeviceMappings: volumes,
      monitoring: { enabled: true },
      tagSpecifications: ["instance", "volume", "network-interface"].map((resourceType) => ({ resourceType, tags: resourceTags })),
      tags: resourceTags,
      dependsOn: [props.encryptionKey.policy],
    });

    this.labels = {
      [NODE_LABELS.pool]: props.name,
      [NODE_LABELS.role]: props.gpu ? "gpu" : "system",
      ...(props.gpu ? { [NODE_LABELS.gpuModel]: props.gpu.gpuModel, [NODE_LABELS.accelerator]: acceleratorLabel(props.gpu) } : {}),
    };
    const autoscalerTags = autoscalerTagsFor(props.cluster.name, this.labels, props.gpu);

    this.nodeGroup = new EksNodeGroup(this, "node-group", {
      clusterName: props.cluster.clusterName,
      // A prefix plus create-before-destroy lets a change that replaces the group (e.g. instance types) roll without downtime.
      nodeGroupNamePrefix: `${groupName}-`,
      nodeRoleArn: props.nodeRoleArn,
      subnetIds: props.subnetIds,
      amiType: props.amiType,
      releaseVersion: props.releaseVersion,
      capacityType: props.capacityType,
      instanceTypes: props.instanceTypes,
      scalingConfig: { minSize: props.minSize, maxSize: props.maxSize, desiredSize: props.desiredSize ?? props.minSize },
      updateConfig: { maxUnavailable: 1 },
      launchTemplate: { id: this.launchTemplate.id, version: `${this.launchTemplate.latestVersion}` },
      labels: this.labels,
      taint: props.gpu ? [{ key: GPU_TAINT.key, value: GPU_TAINT.value, effect: "NO_SCHEDULE" }] : undefined,
      tags: { ...resourceTags, ...autoscalerTags, ...props.nodeGroupTags },
      lifecycle: { createBeforeDestroy: true, ignoreChanges: ["scaling_config[0].desired_size"] },
      dependsOn: props.dependsOn,
    });
    this.autoScalingGroupName = this.nodeGroup.resources.get(0).autoscalingGroups.get(0).name;

    // Node group tags stay on the EKS resource; the autoscaler reads the Auto Scaling group's. EKS already
    // tags a managed node group's group for discovery, so only the scale-from-zero hints are copied there:
    // owning EKS's own tags would delete them when a pool is destroyed.
    const discovery = Object.keys(autoscalerDiscoveryTags(props.cluster.name));
    const before = Object.keys(autoscalerTags);
    Object.entries(autoscalerTags)
      .filter(([key]) => !discovery.includes(key))
      .forEach(([key, value]) => {
        const tag = new AutoscalingGroupTagA(this, `asg-tag-${key.slice(AUTOSCALER_TAG_PREFIX.length + 1).replace(/[^A-Za-z0-9-]+/g, "-")}`, {
          autoscalingGroupName: this.autoScalingGroupName,
          tag: { key, value, propagateAtLaunch: false },
        });
        // Before 0.2.0 these were numbered in autoscalerTagsFor's order, discovery tags first: keep the deployed tags.
        tag.moveFromId(`aws_autoscaling_group_tag.${legacyLogicalId(this, `asg-tag-${before.indexOf(key)}`)}`);
      });
    // The discovery tags this pool used to own (numbered 0 and 1) stay on the group: Terraform forgets them without deleting EKS's tags.
    discovery.forEach((_key, i) => forgetWithoutDestroying(this, `aws_autoscaling_group_tag.${legacyLogicalId(this, `asg-tag-${i}`)}`));
  }
}

/**
 * Cluster Autoscaler discovery tags, and for GPU pools the node-template hints that let it scale a
 * pool up from zero nodes: without a live node it cannot see the GPU count, labels or taint otherwise.
 */
function autoscalerTagsFor(clusterName: string, labels: Record<string, string>, gpu: GpuInstanceType | undefined): Record<string, string> {
  const prefix = AUTOSCALER_TAG_PREFIX;
  const tags = autoscalerDiscoveryTags(clusterName);
  if (!gpu) return tags;
  tags[`${prefix}/node-template/resources/${GPU_RESOURCE}`] = String(gpu.gpusPerNode);
  for (const [key, value] of Object.entries(labels)) tags[`${prefix}/node-template/label/${key}`] = value;
  tags[`${prefix}/node-template/taint/${GPU_TAINT.key}`] = `${GPU_TAINT.value}:${GPU_TAINT.effect}`;
  return tags;
}
