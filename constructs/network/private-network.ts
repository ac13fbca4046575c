import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { DefaultSecurityGroup } from "@cdktf/provider-aws/lib/default-security-group";
import { Eip } from "@cdktf/provider-aws/lib/eip";
import { FlowLog } from "@cdktf/provider-aws/lib/flow-log";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { NatGateway } from "@cdktf/provider-aws/lib/nat-gateway";
import { Route } from "@cdktf/provider-aws/lib/route";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { VpcEndpoint } from "@cdktf/provider-aws/lib/vpc-endpoint";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { Fn, Lazy, TerraformLocal, TerraformStack } from "cdktf";
import { Construct } from "constructs";
import { formatCidr, parseCidr, subnetOf } from "../private/cidr";
import { z } from "zod";
import { flowLogRetentionDaysSchema, natGatewaysSchema, perimeterSchema, vpcCidrSchema } from "./settings";
import { policyDocument, PolicyStatement, trustPolicy } from "../shared/arn";
import { EncryptionKey } from "../shared/encryption-key";
import { parseProps } from "../private/validate";
import { regionOfAzs } from "./private/azs";
import { recordPolicyAcknowledgement } from "../private/policy-acknowledgement";
import {
  ecrLayersStatement,
  ENDPOINT_POLICY_DOCS,
  endpointServiceName,
  INTERFACE_ENDPOINT_SERVICES,
  InterfaceEndpointService,
  interfaceEndpointStatements,
  ownPrincipalsToOwnResources,
  PerimeterScope,
  s3ReadStatement,
  unknownAddonRegistry,
} from "./endpoints";
import { ExistingNetwork, ExistingNetworkProps } from "./existing-network";
import { NetworkRefs } from "./types";

/** Props of PrivateNetwork: only `cidr`, `azs` and `mode` are required; the rest has secure defaults. */
export interface PrivateNetworkProps {
  /** VPC CIDR, /16 to /22 (vpcCidrSchema). Private subnets get a quarter each; the last quarter holds the small NAT subnets. */
  readonly cidr: string;
  /** Two or three availability zones of one region, e.g. ["eu-west-1a", "eu-west-1b"]. */
  readonly azs: string[];
  /** `connected`: private subnets egress through NAT. `airgapped`: no route out of the VPC at all. */
  readonly mode: "connected" | "airgapped";
  /** Region of the VPC; defaults to the region the AZ names belong to. */
  readonly region?: string;
  /** NAT gateways in connected mode: one per AZ (default, survives an AZ outage) or a single one (cheaper, for dev). */
  readonly natGateways?: "perAz" | "single";
  /** EKS cluster that discovers these subnets: adds `kubernetes.io/cluster/<name>=shared` to the private subnets. */
  readonly clusterName?: string;
  /** Flow log retention in days; one of CloudWatch's periods. Default 365. */
  readonly flowLogRetentionDays?: number;
  /** Interface endpoints to create; default all of INTERFACE_ENDPOINT_SERVICES (what a private EKS cluster needs). */
  readonly interfaceEndpoints?: readonly InterfaceEndpointService[];
  /**
   * AWS Organizations id (`o-...`) of the data perimeter: the VPC endpoints' policies admit principals
   * and resources of this organisation. Default: the network's own account only.
   */
  readonly organizationId?: string;
  /** Prefix for Name tags and the flow log group; defaults to the construct path. Unique per account and region. */
  readonly name?: string;
  /** Extra tags for every resource of the network (the provider's default tags still apply). */
  readonly tags?: Record<string, string>;
}

/**
 * A VPC whose workloads live only in private subnets. In connected mode they reach out through NAT
 * gateways; in air-gapped mode nothing routes out of the VPC, and AWS APIs are reached through VPC
 * endpoints (created in both modes, so node bootstrap and image pulls never depend on NAT).
 * Every packet is recorded in flow logs, encrypted with a key of the network's own.
 *
 * The endpoints are a data perimeter: each interface endpoint whose service supports a policy
 * admits only our principals acting on our resources (the organisation named by `organizationId`,
 * else this account), AWS services acting for us, and the AWS-owned resources the cluster uses
 * (interfaceEndpointStatements). The S3 gateway endpoint admits ECR's image layers and the buckets
 * registered with `allowS3Reads`, and when connected also our principals on our own buckets.
 */
export class PrivateNetwork extends Construct implements NetworkRefs {
  readonly vpcId: string;
  readonly vpcCidr: string;
  readonly availabilityZones: string[];
  readonly mode: "connected" | "airgapped";
  readonly region: string;
  readonly privateSubnetIds: string[];
  readonly privateSubnetCidrs: string[];
  /** NAT-only public subnets, one per AZ; empty in air-gapped mode. */
  readonly publicSubnetIds: string[];
  readonly privateRouteTableIds: string[];
  readonly natGatewayIds: string[];
  readonly endpointSecurityGroupId: string;
  readonly s3GatewayEndpointId: string;
  /** Interface endpoint ids by service, for `aws:sourceVpce` conditions in resource policies. */
  readonly interfaceEndpointIds: Readonly<Partial<Record<InterfaceEndpointService, string>>>;
  readonly flowLogGroupName: string;
  /** Buckets the S3 gateway endpoint's policy admits reads of, beyond ECR's image layers (see allowS3Reads). */
  private readonly s3Reads: PolicyStatement[] = [];
  /** ARN of the customer-managed key that encrypts the flow logs. */
  readonly flowLogKeyArn: string;

  readonly vpc: Vpc;

  /**
   * A VPC that exists already (bring your own): checks what the caller declares at synth and
   * returns NetworkRefs for the other constructs; creates nothing. See ExistingNetwork.
   */
  static fromExisting(scope: Construct, id: string, props: ExistingNetworkProps): ExistingNetwork {
    return new ExistingNetwork(scope, id, props);
  }

  constructor(scope: Construct, id: string, props: PrivateNetworkProps) {
    super(scope, id);
    const plan = planNetwork(this.node.path, props);
    const name = props.name ?? this.node.path.replace(/\//g, "-");
    const tagged = (suffix: string, extra: Record<string, string> = {}) => ({ ...props.tags, ...extra, Name: `${name}-${suffix}` });

    this.mode = props.mode;
    this.region = plan.region;
    this.availabilityZones = [...props.azs];
    this.vpcCidr = plan.vpcCidr;

    this.vpc = new Vpc(this, "vpc", {
      cidrBlock: plan.vpcCidr,
      enableDnsSupport: true,
      enableDnsHostnames: true,
      tags: tagged("vpc"),
    });
    this.vpcId = this.vpc.id;

    // Take the partition from the VPC's ARN: no data source, so plans need no credentials.
    const partition = Fn.element(Fn.split(":", this.vpc.arn), 1);

    // Adopting the default group with no rules removes AWS's allow-all defaults, so nothing can use it by accident.
    new DefaultSecurityGroup(this, "default-sg", { vpcId: this.vpc.id, ingress: [], egress: [], tags: tagged("default-deny") });

    const k8sTags: Record<string, string> = { "kubernetes.io/role/internal-elb": "1" };
    if (props.clusterName) k8sTags[`kubernetes.io/cluster/${props.clusterName}`] = "shared";

    const privateSubnets = props.azs.map(
      (az, i) =>
        new Subnet(this, `private-${i}`, {
          vpcId: this.vpc.id,
          availabilityZone: az,
          cidrBlock: plan.privateCidrs[i],
          mapPublicIpOnLaunch: false,
          tags: tagged(`private-${az}`, { ...k8sTags, "voice-selfhost:tier": "private" }),
        }),
    );
    this.privateSubnetIds = privateSubnets.map((s) => s.id);
    this.privateSubnetCidrs = plan.privateCidrs;

    const privateRouteTables = privateSubnets.map((subnet, i) => {
      const table = new RouteTable(this, `private-rt-${i}`, { vpcId: this.vpc.id, tags: tagged(`private-${props.azs[i]}`) });
      new RouteTableAssociation(this, `private-rta-${i}`, { subnetId: subnet.id, routeTableId: table.id });
      return table;
    });
    this.privateRouteTableIds = privateRouteTables.map((t) => t.id);

    if (props.mode === "connected") {
      const igw = new InternetGateway(this, "igw", { vpcId: this.vpc.id, tags: tagged("igw") });
      const publicTable = new RouteTable(this, "public-rt", { vpcId: this.vpc.id, tags: tagged("public") });
      new Route(this, "public-default", { routeTableId: publicTable.id, destinationCidrBlock: "0.0.0.0/0", gatewayId: igw.id });
      const natCount = parseProps(natGatewaysSchema, props.natGateways, `PrivateNetwork ${this.node.path}: natGateways`) === "single" ? 1 : props.azs.length;
      // Public subnets exist only to hold NAT gateways: tiny, and never handing out public IPs.
      const publicSubnets = props.azs.slice(0, natCount).map((az, i) => {
        const subnet = new Subnet(this, `public-${i}`, {
          vpcId: this.vpc.id,
          availabilityZone: az,
          cidrBlock: plan.publicCidrs[i],
          mapPublicIpOnLaunch: false,
          tags: tagged(`nat-${az}`, { "voice-selfhost:tier": "nat" }),
        });
        new RouteTableAssociation(this, `public-rta-${i}`, { subnetId: subnet.id, routeTableId: publicTable.id });
        return subnet;
      });
      this.publicSubnetIds = publicSubnets.map((s) => s.id);
      const nats = publicSubnets.map((subnet, i) => {
        const eip = new Eip(this, `nat-eip-${i}`, { domain: "vpc", tags: tagged(`nat-${props.azs[i]}`), dependsOn: [igw] });
        return new NatGateway(this, `nat-${i}`, { subnetId: subnet.id, allocationId: eip.id, tags: tagged(`nat-${props.azs[i]}`), dependsOn: [igw] });
      });
      this.natGatewayIds = nats.map((n) => n.id);
      privateRouteTables.forEach((table, i) => {
        new Route(this, `private-default-${i}`, {
          routeTableId: table.id,
          destinationCidrBlock: "0.0.0.0/0",
          natGatewayId: nats[Math.min(i, nats.length - 1)].id,
        });
      });
    } else {
      this.publicSubnetIds = [];
      this.natGatewayIds = [];
    }

    // Locals: policies are JSON text, and the split(":") expressions would put quotes inside them.
    const policyPartition = new TerraformLocal(this, "s3-partition", partition).asString;
    const perimeter: PerimeterScope = {
      organizationId: parseProps(perimeterSchema, { organizationId: props.organizationId }, `PrivateNetwork ${this.node.path}:`).organizationId,
      account: new TerraformLocal(this, "account", Fn.element(Fn.split(":", this.vpc.arn), 4)).asString,
    };
    // What S3 the cluster really uses: ECR's image layers (every image pull, EKS add-ons' included), the
    // buckets allowS3Reads names (the model bucket). Air-gapped, the endpoint is the VPC's only path to S3,
    // so that is all it admits. Connected, our principals may also reach our own buckets (in the organisation
    // or the account); a bucket anywhere else, the usual way data leaves, is refused at the endpoint, though
    // NAT remains (S3's prefix list routes to the endpoint, so S3 traffic never takes the NAT path).
    const s3Statements = () => [
      ecrLayersStatement(plan.region, policyPartition),
      ...(props.mode === "connected" ? [ownPrincipalsToOwnResources(perimeter)] : []),
      ...this.s3Reads,
    ];
    const s3 = new VpcEndpoint(this, "s3", {
      vpcId: this.vpc.id,
      serviceName: endpointServiceName(plan.region, "s3"),
      vpcEndpointType: "Gateway",
      routeTableIds: this.privateRouteTableIds,
      policy: Lazy.stringValue({ produce: () => policyDocument(s3Statements()) }),
      tags: tagged("s3"),
    });
    this.s3GatewayEndpointId = s3.id;

    const endpointSg = new SecurityGroup(this, "endpoints-sg", {
      vpcId: this.vpc.id,
      name: `${name}-vpc-endpoints`,
      description: "Interface VPC endpoints: HTTPS from inside the VPC only",
      tags: tagged("vpc-endpoints"),
    });
    // No egress rules on purpose: endpoint interfaces only answer (security groups are stateful), they never connect out.
    new VpcSecurityGroupIngressRule(this, "endpoints-https", {
      securityGroupId: endpointSg.id,
      description: "HTTPS from the VPC",
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      cidrIpv4: plan.vpcCidr,
    });
    this.endpointSecurityGroupId = endpointSg.id;

    const endpointIds: Partial<Record<InterfaceEndpointService, string>> = {};
    for (const service of props.interfaceEndpoints ?? INTERFACE_ENDPOINT_SERVICES) {
      const supportsPolicy = ENDPOINT_POLICY_DOCS[service] !== undefined;
      const endpoint = new VpcEndpoint(this, `endpoint-${service.replace(/\./g, "-")}`, {
        vpcId: this.vpc.id,
        serviceName: endpointServiceName(plan.region, service),
        vpcEndpointType: "Interface",
        privateDnsEnabled: true,
        subnetIds: this.privateSubnetIds,
        securityGroupIds: [endpointSg.id],
        policy: supportsPolicy ? policyDocument(interfaceEndpointStatements(service, perimeter, { region: plan.region, partition: policyPartition })) : undefined,
        tags: tagged(service),
      });
      if (!supportsPolicy) {
        recordPolicyAcknowledgement(
          endpoint,
          "VS-NET-005",
          `${service}: no AWS guide documents endpoint-policy support, and an endpoint of a service without it accepts only the default full-access policy; its security group admits HTTPS from this VPC only, and IAM decides what callers may do`,
        );
      }
      endpointIds[service] = endpoint.id;
    }
    this.interfaceEndpointIds = endpointIds;

    this.flowLogGroupName = `/vpc-flow-logs/${name}`;
    const key = new EncryptionKey(this, "flow-log-key", { description: `Encrypts the VPC flow logs of ${name}`, tags: tagged("flow-logs") });
    key.allowLogGroup("CloudWatchLogsEncryptsThisLogGroupOnly", this.flowLogGroupName);
    // Before 0.2.0 the key sat at this construct's address: the moved block keeps deployed keys, and the logs they encrypt.
    key.key.moveFromId(`aws_kms_key.${TerraformStack.of(this).getLogicalId(key.node)}`);
    this.flowLogKeyArn = key.arn;

    const logGroup = new CloudwatchLogGroup(this, "flow-log-group", {
      name: this.flowLogGroupName,
      retentionInDays: plan.flowLogRetentionDays,
      kmsKeyId: key.arn,
      tags: tagged("flow-logs"),
      dependsOn: [key.policy],
    });

    const role = new IamRole(this, "flow-log-role", {
      description: `Lets VPC Flow Logs write to ${this.flowLogGroupName}`,
      // Confused-deputy guard: only flow logs of this account may use the role.
      assumeRolePolicy: trustPolicy("vpc-flow-logs.amazonaws.com", ["sts:AssumeRole"], {
        StringEquals: { "aws:SourceAccount": key.account },
        ArnLike: { "aws:SourceArn": `arn:${key.partition}:ec2:${plan.region}:${key.account}:vpc-flow-log/*` },
      }),
      tags: tagged("flow-logs"),
    });
    new IamRolePolicy(this, "flow-log-policy", {
      role: role.id,
      name: "write-flow-logs",
      policy: policyDocument([
        {
          Sid: "WriteThisLogGroup",
          Effect: "Allow",
          Action: ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
          Resource: [logGroup.arn, `${logGroup.arn}:log-stream:*`],
        },
        {
          // The service checks that the destination group exists; describing groups reveals no log data.
          Sid: "DescribeLogGroups",
          Effect: "Allow",
          Action: "logs:DescribeLogGroups",
          Resource: `arn:${key.partition}:logs:${plan.region}:${key.account}:log-group:*`,
        },
      ]),
    });

    new FlowLog(this, "flow-log", {
      vpcId: this.vpc.id,
      trafficType: "ALL",
      logDestinationType: "cloud-watch-logs",
      logDestination: logGroup.arn,
      iamRoleArn: role.arn,
      maxAggregationInterval: 60,
      tags: tagged("flow-log"),
    });
  }

  /**
   * Lets requests through the S3 gateway endpoint read `bucketArns` (objects and listings), whoever's
   * account they are in: air-gapped, nothing else is admitted; connected, our principals may also
   * reach our own buckets. Bucket policies still decide who may read.
   */
  allowS3Reads(sid: string, bucketArns: string[]): void {
    if (this.s3Reads.some((s) => s.Sid === sid)) throw new Error(`PrivateNetwork ${this.node.path}: allowS3Reads: duplicate statement id ${sid}`);
    this.s3Reads.push(s3ReadStatement(sid, bucketArns));
  }
}

interface NetworkPlan {
  readonly region: string;
  readonly vpcCidr: string;
  readonly privateCidrs: string[];
  readonly publicCidrs: string[];
  readonly flowLogRetentionDays: number;
}

/** Validates the props and carves the subnets, so mistakes fail at synth with a message, not at apply. */
function planNetwork(path: string, props: PrivateNetworkProps): NetworkPlan {
  const fail = (message: string): never => {
    throw new Error(`PrivateNetwork ${path}: ${message}`);
  };
  const check = <S extends z.ZodTypeAny>(schema: S, value: unknown, field: string): z.output<S> => {
    const result = schema.safeParse(value);
    return result.success ? result.data : fail(`${field}: ${result.error.issues[0].message}, found ${JSON.stringify(value)}`);
  };
  const vpc = parseCidr(check(vpcCidrSchema, props.cidr, "cidr"))!;
  if (props.azs.length < 2 || props.azs.length > 3) fail(`azs: expected 2 or 3 availability zones, found ${props.azs.length}`);
  if (new Set(props.azs).size !== props.azs.length) fail(`azs: expected distinct availability zones, found ${props.azs.join(", ")}`);

  const region = regionOfAzs(props.azs, (message) => fail(`azs: ${message}`), props.region);
  const retention = check(flowLogRetentionDaysSchema, props.flowLogRetentionDays, "flowLogRetentionDays");
  const services = props.interfaceEndpoints ?? INTERFACE_ENDPOINT_SERVICES;
  services.forEach((s) => {
    if (!INTERFACE_ENDPOINT_SERVICES.includes(s)) fail(`interfaceEndpoints: expected services from INTERFACE_ENDPOINT_SERVICES, found "${s}"`);
  });
  // The ECR endpoints' policies admit the region's EKS add-on registry by account.
  const unknownRegistry = services.some((s) => s === "ecr.api" || s === "ecr.dkr") ? unknownAddonRegistry(region) : undefined;
  if (unknownRegistry) fail(`region: ${unknownRegistry}`);

  // Quarters of the VPC: one large private subnet per AZ (pods take VPC addresses), the fourth reserved for NAT subnets.
  const quarter = vpc.prefix + 2;
  const reserved = subnetOf(vpc, quarter, 3);
  return {
    region,
    vpcCidr: formatCidr(vpc),
    privateCidrs: props.azs.map((_, i) => formatCidr(subnetOf(vpc, quarter, i))),
    publicCidrs: props.azs.map((_, i) => formatCidr(subnetOf(reserved, 28, i))),
    flowLogRetentionDays: retention,
  };
}
