import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { EksAccessEntry } from "@cdktf/provider-aws/lib/eks-access-entry";
import { EksAccessPolicyAssociation } from "@cdktf/provider-aws/lib/eks-access-policy-association";
import { EksAddon, EksAddonConfig } from "@cdktf/provider-aws/lib/eks-addon";
import { EksCluster } from "@cdktf/provider-aws/lib/eks-cluster";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { Annotations, ITerraformDependable, Token } from "cdktf";
import { Construct } from "constructs";
import { adminPrincipals, checkClusterInNetwork, ClusterSettings, ClusterSettingsInput, clusterSettingsSchema, GpuPoolInput, kubernetesVersionSchema, SystemPoolInput, systemPoolSchema } from "./settings";
import { NetworkRefs } from "../network/types";
import { managedPolicyArn, policyDocument, trustPolicy } from "../shared/arn";
import { EncryptionKey } from "../shared/encryption-key";
import type { TaggedKeyRef } from "../storage/retained-data-key";
import { EKS_CLUSTER_NAME_PATTERN } from "../private/names";
import { parseProps } from "../private/validate";
import { AdminHost } from "./admin-host";
import { NodeAmiType, NodePool } from "./node-pool";
import { ClusterRefs, GpuPoolSpec, PodIdentityRoleOptions } from "./types";
import { addPodIdentityRole, createNodeRole, DEFAULT_GPU_POOLS, EBS_CSI_ROLE_ID, grantNodeVolumes, podIdentityRole, resolveGpuPools, rolePrefix } from "./private/pools";
import { amiReleaseLookup, checkVersionSupport, EksAddonName, resolveAddonVersions, resolveAmiReleaseVersion } from "./versions";

/** The log groups the CloudWatch observability add-on writes, under /aws/containerinsights/<cluster>/: pods, nodes, kubelet and runtime, Container Insights. */
export const CONTAINER_LOG_GROUPS = ["application", "host", "dataplane", "performance"] as const;
/** One of CONTAINER_LOG_GROUPS. */
export type ContainerLogGroup = (typeof CONTAINER_LOG_GROUPS)[number];
/** Where the add-on runs its agent and Fluent Bit (both under this service account). */
const CLOUDWATCH_AGENT = { namespace: "amazon-cloudwatch", serviceAccount: "cloudwatch-agent" } as const;

/** EKS control-plane log types. */
export type ControlPlaneLogType = "api" | "audit" | "authenticator" | "controllerManager" | "scheduler";

/**
 * Props of GpuCluster: only `network` is required; the rest has secure defaults. The EKS settings
 * (public endpoint, admin role, service CIDR, log retention) are clusterSettingsSchema's fields, with its defaults and checks.
 */
export interface GpuClusterProps extends ClusterSettingsInput {
  /** Where the control plane's interfaces and every node live: the network's private subnets. */
  readonly network: NetworkRefs;
  /** EKS cluster name; also part of log group, launch template and autoscaler tag names. Default: the construct path. */
  readonly name?: string;
  /** Kubernetes minor version; default the version table's newest (kubernetesVersionSchema). Must be in standard support on `supportCheckDate`. */
  readonly kubernetesVersion?: string;
  /** The day the version's support is checked against (constructs/cluster/versions.ts); default today. */
  readonly supportCheckDate?: Date;
  /**
   * The CPU pool for cluster add-ons and the license proxy; default 2-4 m6i.large. It becomes one node
   * group per availability zone (the proxies' volumes are zonal: a replica can only restart in its own
   * zone), each with minSize, maxSize and desiredSize divided among the zones, rounded up.
   */
  readonly systemPool?: SystemPoolInput;
  /**
   * The key that encrypts persistent volumes (the license proxies' usage spools, which are retained):
   * one that outlives this cluster, e.g. RetainedDataKey in a stack of its own. The EBS CSI driver's role
   * gets the grants it needs through IAM, on the key's tag, so this stack never reads the key's ARN; the
   * key's own policy must admit the role too (RetainedDataKey's `volumeRoleNamePrefixes`: `GpuCluster.ebsCsiRoleNamePrefix`).
   * Default: the cluster's own key, deleted with the cluster.
   */
  readonly volumeKey?: TaggedKeyRef;
  /** GPU pools; default one pool `gpu` of g5.xlarge scaling from 0 to 2 nodes. */
  readonly gpuPools?: GpuPoolInput[];
  /** Control-plane logs beyond api, audit and authenticator, which are always on. */
  readonly extraLogTypes?: ("controllerManager" | "scheduler")[];
  /** Tags for every resource of the cluster and its nodes (launched instances included). */
  readonly tags?: Record<string, string>;
}

/**
 * A private EKS cluster for GPU inference:
 * - API endpoint private only (public only by explicit, CIDR-restricted opt-in), secrets
 *   envelope-encrypted with a rotating customer-managed key, control-plane logs (api, audit,
 *   authenticator) in a KMS-encrypted group with retention, created before the cluster so EKS
 *   cannot create an unencrypted one that never expires.
 * - Access entries only (authentication mode API); the creator gets no implicit admin rights.
 * - Least-privilege roles: the cluster role has AmazonEKSClusterPolicy only; the node role has
 *   worker, image pull and CNI policies. The CNI policy stays on the node role rather than a Pod
 *   Identity role because aws-node must assign pod IPs before any pod (the Pod Identity agent
 *   included) can become ready; giving it its own role would make node bootstrap depend on an add-on
 *   that itself needs pod networking.
 * - Workload roles through EKS Pod Identity (no OIDC provider, whose thumbprint would need a data
 *   source or the tls provider): see `addPodIdentityRole`.
 * - A Kubernetes minor in standard support on the day of synth, and EKS's upgrade policy set
 *   explicitly (`supportType`, STANDARD by default): the version table (versions.ts) holds the dates.
 * - Managed add-ons: vpc-cni with network policy enforcement, kube-proxy, the Pod Identity agent,
 *   coredns, and the EBS CSI driver with its own Pod Identity role; each at the version table's
 *   version for the minor (`addonVersions` overrides), as is every node group's AMI release.
 * - A system CPU node pool and one node pool per GPU pool (see NodePool).
 */
export class GpuCluster extends Construct implements ClusterRefs {
  /**
   * The name prefix of a cluster's EBS CSI driver role, for a key another stack creates first
   * (RetainedDataKey's `volumeRoleNamePrefixes`): that stack cannot read the role's ARN, only know its name.
   */
  static ebsCsiRoleNamePrefix(clusterName: string): string {
    return rolePrefix(clusterName, EBS_CSI_ROLE_ID);
  }

  /** The cluster name as a literal (for names and tags). */
  readonly name: string;
  readonly cluster: EksCluster;
  /** The cluster name as a reference: using it makes a resource wait for the cluster. */
  readonly clusterName: string;
  readonly endpoint: string;
  readonly certificateAuthorityData: string;
  readonly network: NetworkRefs;
  readonly serviceCidr: string;
  readonly kubernetesVersion: string;
  /** The security group EKS creates for the control plane and attaches to every node. */
  readonly clusterSecurityGroupId: string;
  readonly clusterRole: IamRole;
  readonly nodeRole: IamRole;
  readonly nodeRoleArn: string;
  /** Encrypts secrets, control-plane logs, node volumes and persistent volumes. */
  readonly encryptionKey: EncryptionKey;
  /**
   * The key for persistent volumes the EBS CSI driver creates (`volumeKeyArn`, else the cluster key),
   * which the driver's role may use: pass it to EncryptedStorageClass's `kmsKeyArn`.
   */
  readonly volumeKeyArn: string;
  /** The EBS CSI driver controller's Pod Identity role. */
  readonly ebsCsiRole: IamRole;
  readonly logGroup: CloudwatchLogGroup;
  /** Where the CloudWatch observability add-on ships logs (KMS-encrypted, with retention), by its name for them. */
  readonly containerLogGroups: Readonly<Record<ContainerLogGroup, CloudwatchLogGroup>>;
  /** The system pool: one node group per availability zone, in the network's zone order. */
  readonly systemPools: NodePool[];
  /** Auto Scaling groups of the system pool, one per zone (load balancer targets when services run there). */
  readonly systemAutoScalingGroupNames: string[];
  readonly gpuPools: NodePool[];
  readonly gpuPoolSpecs: GpuPoolSpec[];
  /** Auto Scaling groups of the GPU pools, one per pool (load balancer targets). */
  readonly gpuAutoScalingGroupNames: string[];
  readonly podIdentityAgent: EksAddon;
  /** The principals granted cluster-admin through access entries. */
  readonly adminPrincipalArns: string[];
  /** The Session Manager admin host, when `adminHost.enabled`. */
  readonly adminHost?: AdminHost;
  /** The EKS settings with defaults applied; checkApiAccess reads who and what reaches the API from them. */
  readonly settings: ClusterSettings;
  private readonly tags: Record<string, string>;

  constructor(scope: Construct, id: string, props: GpuClusterProps) {
    super(scope, id);
    const where = `GpuCluster ${this.node.path}`;
    this.name = props.name ?? this.node.path.replace(/[^A-Za-z0-9-]+/g, "-");
    if (!EKS_CLUSTER_NAME_PATTERN.test(this.name)) throw new Error(`${where}: name: expected 1-100 letters, digits, - or _, found "${this.name}"`);
    this.tags = { ...props.tags, "voice-selfhost:cluster": this.name };

    const settings = parseProps(
      clusterSettingsSchema,
      {
        publicEndpoint: props.publicEndpoint,
        adminRoleArn: props.adminRoleArn,
        adminPrincipalArns: props.adminPrincipalArns,
        apiAccess: props.apiAccess,
        adminHost: props.adminHost,
        serviceCidr: props.serviceCidr,
        logRetentionDays: props.logRetentionDays,
        supportType: props.supportType,
        addonVersions: props.addonVersions,
      },
      `${where}:`,
    );
    checkClusterInNetwork(settings, props.network, (path, message) => {
      throw new Error(`${where}: ${path.join(".")}: ${message}`);
    });
    const kubernetesVersion = parseProps(kubernetesVersionSchema, props.kubernetesVersion, `${where}: kubernetesVersion`);
    const support = checkVersionSupport(kubernetesVersion, settings.supportType, props.supportCheckDate ?? new Date());
    if (support.error) throw new Error(`${where}: kubernetesVersion: ${support.error}`);
    if (support.warning) Annotations.of(this).addWarning(`${where}: kubernetesVersion: ${support.warning}`);
    this.kubernetesVersion = kubernetesVersion;
    const addonVersions = resolveAddonVersions(kubernetesVersion, settings.addonVersions, where);
    this.network = props.network;
    this.serviceCidr = settings.serviceCidr;
    const systemPool = parseProps(systemPoolSchema, props.systemPool ?? {}, `${where}: systemPool`);
    const { pools: gpuPools, specs } = resolveGpuPools(where, props.gpuPools ?? DEFAULT_GPU_POOLS);
    this.gpuPoolSpecs = specs;

    this.encryptionKey = new EncryptionKey(this, "key", { description: `EKS cluster ${this.name}: secrets, control-plane logs, node volumes`, tags: this.tags });
    const key = this.encryptionKey;
    const logGroupName = `/aws/eks/${this.name}/cluster`;
    key.allowLogGroup("CloudWatchLogsEncryptsControlPlaneLogs", logGroupName);
    grantNodeVolumes(key);

    this.logGroup = new CloudwatchLogGroup(this, "control-plane-logs", {
      name: logGroupName,
      retentionInDays: settings.logRetentionDays,
      kmsKeyId: key.arn,
      tags: this.tags,
      dependsOn: [key.policy],
    });

    this.clusterRole = new IamRole(this, "cluster-role", {
      namePrefix: rolePrefix(this.name, "cluster"),
      description: `EKS control plane of ${this.name}`,
      assumeRolePolicy: trustPolicy("eks.amazonaws.com"),
      tags: this.tags,
    });
    const clusterPolicy = new IamRolePolicyAttachment(this, "cluster-policy", {
      role: this.clusterRole.name,
      policyArn: managedPolicyArn(this.clusterRole.arn, "AmazonEKSClusterPolicy"),
    });
    key.addStatement({
      Sid: "ClusterEncryptsSecrets",
      Effect: "Allow",
      Principal: { AWS: this.clusterRole.arn },
      Action: ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
      Resource: "*",
    });

    const { role: nodeRole, attachments: nodePolicies } = createNodeRole(this, this.name, this.tags);
    this.nodeRole = nodeRole;
    this.nodeRoleArn = this.nodeRole.arn;

    const logTypes: ControlPlaneLogType[] = ["api", "audit", "authenticator", ...(props.extraLogTypes ?? [])];
    this.cluster = new EksCluster(this, "cluster", {
      name: this.name,
      version: kubernetesVersion,
      roleArn: this.clusterRole.arn,
      vpcConfig: {
        subnetIds: props.network.privateSubnetIds,
        endpointPrivateAccess: true,
        endpointPublicAccess: settings.publicEndpoint.enabled,
        publicAccessCidrs: settings.publicEndpoint.enabled ? settings.publicEndpoint.cidrs : undefined,
      },
      encryptionConfig: { resources: ["secrets"], provider: { keyArn: key.arn } },
      enabledClusterLogTypes: [...new Set(logTypes)],
      accessConfig: { authenticationMode: "API", bootstrapClusterCreatorAdminPermissions: false },
      // Explicit, so nobody pays for extended support (or gets an unplanned upgrade) without deciding it.
      upgradePolicy: { supportType: settings.supportType },
      kubernetesNetworkConfig: { serviceIpv4Cidr: settings.serviceCidr, ipFamily: "ipv4" },
      tags: this.tags,
      dependsOn: [this.logGroup, clusterPolicy, key.policy],
    });
    this.clusterName = this.cluster.name;
    this.endpoint = this.cluster.endpoint;
    this.certificateAuthorityData = this.cluster.certificateAuthority.get(0).data;
    this.clusterSecurityGroupId = this.cluster.vpcConfig.clusterSecurityGroupId;

    this.adminPrincipalArns = adminPrincipals(settings);
    this.adminPrincipalArns.forEach((principalArn, i) => {
      // The first keeps the address the single adminRoleArn had.
      const suffix = i === 0 ? "" : `-${i}`;
      const entry = new EksAccessEntry(this, `admin-access${suffix}`, { clusterName: this.clusterName, principalArn, type: "STANDARD", tags: this.tags });
      new EksAccessPolicyAssociation(this, `admin-policy${suffix}`, {
        clusterName: this.clusterName,
        principalArn: entry.principalArn,
        policyArn: `arn:${key.partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy`,
        accessScope: { type: "cluster" },
      });
    });

    // EKS: the control plane security group must admit 443 from the networks that use the private endpoint.
    const apiFrom = (id: string, description: string, source: { cidrIpv4?: string; referencedSecurityGroupId?: string }) =>
      new VpcSecurityGroupIngressRule(this, id, { securityGroupId: this.clusterSecurityGroupId, description, ipProtocol: "tcp", fromPort: 443, toPort: 443, ...source, tags: this.tags });
    settings.apiAccess.cidrs.forEach((cidr) => apiFrom(`api-from-${cidr.replace(/[./]/g, "-")}`, `Kubernetes API from operators' network ${cidr}`, { cidrIpv4: cidr }));
    settings.apiAccess.securityGroupIds.forEach((sg) => apiFrom(`api-from-${sg}`, `Kubernetes API from ${sg}`, { referencedSecurityGroupId: sg }));
    this.adminHost = settings.adminHost.enabled
      ? new AdminHost(this, "admin-host", {
          cluster: { name: this.name, clusterName: this.clusterName, arn: this.cluster.arn, clusterSecurityGroupId: this.clusterSecurityGroupId },
          network: props.network,
          instanceType: settings.adminHost.instanceType,
          tags: this.tags,
        })
      : undefined;
    this.settings = settings;

    // Networking add-ons first: nodes must find them when they join. The rest need running nodes to become healthy.
    const addon = (name: EksAddonName, extra: Partial<EksAddonConfig> = {}) =>
      new EksAddon(this, `addon-${name}`, {
        clusterName: this.clusterName,
        addonName: name,
        addonVersion: addonVersions[name],
        resolveConflictsOnCreate: "OVERWRITE",
        resolveConflictsOnUpdate: "OVERWRITE",
        tags: this.tags,
        ...extra,
      });
    const vpcCni = addon("vpc-cni", { configurationValues: JSON.stringify({ enableNetworkPolicy: "true" }) });
    const kubeProxy = addon("kube-proxy");
    this.podIdentityAgent = addon("eks-pod-identity-agent");
    const beforeNodes: ITerraformDependable[] = [vpcCni, kubeProxy, this.podIdentityAgent, ...nodePolicies];

    const poolDefaults = {
      cluster: this,
      nodeRoleArn: this.nodeRole.arn,
      subnetIds: props.network.privateSubnetIds,
      encryptionKey: key,
      tags: this.tags,
      dependsOn: beforeNodes,
    };
    const release = (amiType: NodeAmiType, override: string | undefined, pool: string) => {
      const pinned = resolveAmiReleaseVersion(kubernetesVersion, amiType, override, `${where}: ${pool}`);
      if (!pinned) Annotations.of(this).addWarning(`${where}: ${pool}: amiReleaseVersion: not pinned, so EKS picks its latest ${amiType} release when it creates the group; pin one (\`${amiReleaseLookup(kubernetesVersion, amiType)}\`)`);
      return pinned;
    };
    const zones = props.network.availabilityZones;
    const perZone = (n: number) => Math.ceil(n / zones.length);
    const systemRelease = release("AL2023_x86_64_STANDARD", systemPool.amiReleaseVersion, "systemPool");
    this.systemPools = props.network.privateSubnetIds.map((subnet, i) => {
      const zone = Token.isUnresolved(zones[i]) ? `zone-${i}` : zones[i];
      return new NodePool(this, `pool-system-${zone}`, {
        ...poolDefaults,
        ...systemPool,
        subnetIds: [subnet],
        zone,
        minSize: perZone(systemPool.minSize),
        maxSize: Math.max(perZone(systemPool.minSize), perZone(systemPool.maxSize)),
        desiredSize: systemPool.desiredSize === undefined ? undefined : perZone(systemPool.desiredSize),
        name: "system",
        amiType: "AL2023_x86_64_STANDARD",
        releaseVersion: systemRelease,
      });
    });
    this.systemAutoScalingGroupNames = this.systemPools.map((p) => p.autoScalingGroupName);
    this.gpuPools = gpuPools.map((pool, i) => {
      const amiType = pool.amiType as NodeAmiType;
      const releaseVersion = release(amiType, pool.amiReleaseVersion, `gpuPools[${i}] (${pool.name})`);
      return new NodePool(this, `pool-${pool.name}`, { ...poolDefaults, ...pool, tags: poolDefaults.tags, nodeGroupTags: pool.tags, amiType, releaseVersion, gpu: this.gpuPoolSpecs[i].gpu });
    });
    this.gpuAutoScalingGroupNames = this.gpuPools.map((p) => p.autoScalingGroupName);

    const afterNodes = this.systemPools.map((p) => p.nodeGroup);
    addon("coredns", { dependsOn: afterNodes });
    // Resource metrics (metrics.k8s.io) for the HPAs' CPU targets and `kubectl top`: EKS ships no metrics-server.
    addon("metrics-server", { dependsOn: afterNodes });
    this.containerLogGroups = this.shipContainerLogs(addon, afterNodes, settings.logRetentionDays);
    const ebsCsiRole = podIdentityRole(this, EBS_CSI_ROLE_ID, { namespace: "kube-system", serviceAccount: "ebs-csi-controller-sa", description: "EBS CSI driver controller" }, this.tags);
    this.ebsCsiRole = ebsCsiRole;
    // The driver creates volumes encrypted with the key and lets EC2 attach them through grants (what the EBS CSI docs ask of a
    // customer-managed key): in the cluster key's own policy, or, for a key that outlives the cluster, in the role's IAM policy,
    // which that key's policy must also allow (RetainedDataKey.volumeRoleNamePrefixes with GpuCluster.ebsCsiRoleNamePrefix; VS-KMS-003).
    const useKey = { Action: ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"], Effect: "Allow" as const };
    const grants = { Action: ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"], Effect: "Allow" as const, Condition: { Bool: { "kms:GrantIsForAWSResource": true } } };
    if (props.volumeKey) {
      const tagged = { StringEquals: { [`aws:ResourceTag/${props.volumeKey.grantTag.key}`]: props.volumeKey.grantTag.value } };
      new IamRolePolicy(this, "ebs-csi-volume-key", {
        role: ebsCsiRole.name,
        name: "retained-volume-key",
        policy: policyDocument([
          { Sid: "EncryptVolumes", ...useKey, Resource: "*", Condition: tagged },
          { Sid: "GrantsForAttachedVolumes", ...grants, Resource: "*", Condition: { ...grants.Condition, ...tagged } },
        ]),
      });
    } else {
      key.addStatement({ Sid: "EbsCsiDriverEncryptsVolumes", ...useKey, Principal: { AWS: ebsCsiRole.arn }, Resource: "*" });
      key.addStatement({ Sid: "EbsCsiDriverGrantsForAttachedVolumes", ...grants, Principal: { AWS: ebsCsiRole.arn }, Resource: "*" });
    }
    this.volumeKeyArn = props.volumeKey?.arn ?? key.arn;
    new IamRolePolicyAttachment(this, "ebs-csi-policy", {
      role: ebsCsiRole.name,
      policyArn: managedPolicyArn(ebsCsiRole.arn, "service-role/AmazonEBSCSIDriverPolicy"),
    });
    addon("aws-ebs-csi-driver", {
      podIdentityAssociation: [{ roleArn: ebsCsiRole.arn, serviceAccount: "ebs-csi-controller-sa" }],
      dependsOn: [...afterNodes, this.podIdentityAgent],
    });
  }

  /**
   * Container, node and data-plane logs to CloudWatch through the `logs` endpoint: the CloudWatch
   * observability add-on's Fluent Bit (and its Container Insights agent) with a Pod Identity role of its
   * own. The log groups it writes are created first, KMS-encrypted with the cluster key and with the
   * cluster's log retention, so the add-on never creates an unencrypted group that keeps logs forever.
   */
  private shipContainerLogs(
    addon: (name: EksAddonName, extra?: Partial<EksAddonConfig>) => EksAddon,
    afterNodes: ITerraformDependable[],
    retentionInDays: number,
  ): Record<ContainerLogGroup, CloudwatchLogGroup> {
    const key = this.encryptionKey;
    const groups = Object.fromEntries(
      CONTAINER_LOG_GROUPS.map((group) => {
        const name = `/aws/containerinsights/${this.name}/${group}`;
        key.allowLogGroup(`CloudWatchLogsEncryptsContainerInsights${group[0].toUpperCase()}${group.slice(1)}`, name);
        return [group, new CloudwatchLogGroup(this, `container-logs-${group}`, { name, retentionInDays, kmsKeyId: key.arn, tags: this.tags, dependsOn: [key.policy] })];
      }),
    ) as Record<ContainerLogGroup, CloudwatchLogGroup>;
    const role = podIdentityRole(this, "cloudwatch-agent", { namespace: CLOUDWATCH_AGENT.namespace, serviceAccount: CLOUDWATCH_AGENT.serviceAccount, description: "CloudWatch observability add-on (agent and Fluent Bit)" }, this.tags);
    new IamRolePolicyAttachment(this, "cloudwatch-agent-policy", { role: role.name, policyArn: managedPolicyArn(role.arn, "CloudWatchAgentServerPolicy") });
    addon("amazon-cloudwatch-observability", {
      configurationValues: JSON.stringify({ containerLogs: { enabled: true } }),
      podIdentityAssociation: [{ roleArn: role.arn, serviceAccount: CLOUDWATCH_AGENT.serviceAccount }],
      dependsOn: [...afterNodes, this.podIdentityAgent, ...Object.values(groups)],
    });
    return groups;
  }

  /**
   * A role that pods of one service account assume through EKS Pod Identity (the agent add-on
   * exchanges the pod's token for the role's credentials). Attach the role's permissions, or name
   * it in resource policies (e.g. the model bucket's).
   */
  addPodIdentityRole(id: string, options: PodIdentityRoleOptions): IamRole {
    return addPodIdentityRole(this, id, options, this.tags, [this.podIdentityAgent]);
  }
}
