import { Annotations, Token } from "cdktf";
import { Construct } from "constructs";
import { parseCidr } from "../private/cidr";
import { PolicyStatement } from "../shared/arn";
import { INTERFACE_ENDPOINT_SERVICES, InterfaceEndpointService, s3ReadStatement } from "./endpoints";
import { regionOfAzs } from "./private/azs";
import { NetworkRefs } from "./types";

/** One private subnet of an existing VPC and the availability zone it is in. */
export interface ExistingSubnet {
  /** `subnet-...`, or a reference (e.g. from a data source or another stack's output). */
  readonly subnetId: string;
  /** The subnet's availability zone as a literal, e.g. `eu-west-1a`: the per-AZ checks run at synth. */
  readonly availabilityZone: string;
  /**
   * The subnet's IPv4 CIDR, e.g. `10.60.0.0/19`. Optional; when every subnet declares one, the internal
   * load balancer's health-check sources are these subnets instead of the whole VPC.
   */
  readonly cidr?: string;
}

/** A VPC the caller already has (often shared, managed by a network team), described by what it declares. */
export interface ExistingNetworkProps {
  /** `vpc-...` or a reference. */
  readonly vpcId: string;
  /** The VPC's primary CIDR; the cluster checks its service CIDR against it. */
  readonly vpcCidr: string;
  /** `connected` (the VPC has its own egress) or `airgapped` (no route out: every endpoint below is required). */
  readonly mode: "connected" | "airgapped";
  /** Exactly one private subnet per availability zone, in 2 or 3 AZs of one region. Node groups and the load balancer use them. */
  readonly privateSubnets: readonly ExistingSubnet[];
  /** The security group of the VPC's interface endpoints (`sg-...`): it must admit 443 from the nodes. */
  readonly endpointSecurityGroupId: string;
  /** The S3 gateway endpoint (`vpce-...`): image layers and model weights travel through it; air-gapped policies pin to it. */
  readonly s3GatewayEndpointId: string;
  /** Interface endpoint ids by service. Air-gapped: every one of INTERFACE_ENDPOINT_SERVICES. Connected: those the VPC has. */
  readonly interfaceEndpointIds?: Readonly<Partial<Record<InterfaceEndpointService, string>>>;
}

/**
 * NetworkRefs for a VPC that exists already, so GpuCluster, ExistingCluster, PrivateRegistry,
 * ModelBucket and InternalLoadBalancer can be placed in it. Creates no resources: it checks what the
 * caller declares at synth (one subnet per AZ, id formats, the endpoints an air-gapped cluster
 * cannot work without) and fails with the prop to fix. Whether the ids exist is Terraform's to
 * find out at plan, when the resources that use them are planned.
 *
 * Create it with `PrivateNetwork.fromExisting(scope, id, props)` or `new ExistingNetwork(...)`.
 */
export class ExistingNetwork extends Construct implements NetworkRefs {
  readonly vpcId: string;
  readonly vpcCidr: string;
  readonly privateSubnetIds: string[];
  readonly availabilityZones: string[];
  readonly privateSubnetCidrs?: string[];
  readonly endpointSecurityGroupId: string;
  readonly s3GatewayEndpointId: string;
  readonly interfaceEndpointIds: Readonly<Partial<Record<InterfaceEndpointService, string>>>;
  readonly mode: "connected" | "airgapped";
  /** The region the availability zones belong to. */
  readonly region: string;
  /** What the S3 gateway endpoint's policy must admit for the constructs placed here (allowS3Reads); the endpoint is the caller's, so they add it. */
  readonly requiredS3Reads: PolicyStatement[] = [];

  constructor(scope: Construct, id: string, props: ExistingNetworkProps) {
    super(scope, id);
    const fail = (message: string): never => {
      throw new Error(`ExistingNetwork ${this.node.path}: ${message}`);
    };
    checkId(fail, "vpcId", props.vpcId, "vpc", "vpc-0123456789abcdef0");
    if (!Token.isUnresolved(props.vpcCidr) && !parseCidr(props.vpcCidr)) {
      fail(`vpcCidr: expected the VPC's IPv4 CIDR like 10.20.0.0/16, found "${props.vpcCidr}"`);
    }
    if (props.mode !== "connected" && props.mode !== "airgapped") fail(`mode: expected "connected" or "airgapped", found "${String(props.mode)}"`);

    const byAz = new Map<string, string[]>();
    props.privateSubnets.forEach((subnet, i) => {
      checkId(fail, `privateSubnets[${i}].subnetId`, subnet.subnetId, "subnet", "subnet-0123456789abcdef0");
      if (Token.isUnresolved(subnet.availabilityZone)) {
        fail(`privateSubnets[${i}].availabilityZone: expected a literal AZ name like eu-west-1a (the per-AZ checks run at synth), found a reference`);
      }
      if (subnet.cidr !== undefined && !Token.isUnresolved(subnet.cidr) && !parseCidr(subnet.cidr)) {
        fail(`privateSubnets[${i}].cidr: expected the subnet's IPv4 CIDR like 10.60.0.0/19, found "${subnet.cidr}"`);
      }
      byAz.set(subnet.availabilityZone, [...(byAz.get(subnet.availabilityZone) ?? []), subnet.subnetId]);
    });
    const azs = [...byAz.keys()];
    if (azs.length < 2) {
      const found = azs.length === 0 ? "no subnets" : `${props.privateSubnets.length} subnet(s), all in ${azs[0]}`;
      fail(`privateSubnets: expected one private subnet in each of 2 or 3 availability zones, found ${found}; add a private subnet from another AZ so nodes and the EKS control plane survive an AZ outage`);
    }
    if (azs.length > 3) fail(`privateSubnets: expected 2 or 3 availability zones, found ${azs.length} (${azs.join(", ")}); pass the subnets of 2 or 3 of them`);
    for (const [az, ids] of byAz) {
      if (ids.length > 1) {
        fail(`privateSubnets: expected exactly one private subnet per availability zone, found ${ids.length} in ${az} (${ids.join(", ")}); keep one of them (the one with the most free addresses)`);
      }
    }
    this.region = regionOfAzs(azs, (message) => fail(`privateSubnets[].availabilityZone: ${message}`));

    checkId(fail, "endpointSecurityGroupId", props.endpointSecurityGroupId, "sg", "sg-0123456789abcdef0");
    checkId(fail, "s3GatewayEndpointId", props.s3GatewayEndpointId, "vpce", "vpce-0123456789abcdef0");
    const endpoints = props.interfaceEndpointIds ?? {};
    for (const [service, endpointId] of Object.entries(endpoints)) {
      if (!(INTERFACE_ENDPOINT_SERVICES as readonly string[]).includes(service)) {
        fail(`interfaceEndpointIds: unknown service "${service}"; expected keys from INTERFACE_ENDPOINT_SERVICES (${INTERFACE_ENDPOINT_SERVICES.join(", ")})`);
      }
      checkId(fail, `interfaceEndpointIds["${service}"]`, endpointId ?? "", "vpce", "vpce-0123456789abcdef0");
    }
    if (props.mode === "airgapped") {
      const missing = INTERFACE_ENDPOINT_SERVICES.filter((service) => !endpoints[service]);
      if (missing.length > 0) {
        fail(
          `interfaceEndpointIds: an air-gapped network needs an interface endpoint for every service in INTERFACE_ENDPOINT_SERVICES; missing ${missing.join(", ")}. ` +
            `Without them nodes cannot join the cluster or pull images. Create them in the VPC (private DNS on, in the private subnets, with the endpoint security group) ` +
            `and declare their ids, e.g. interfaceEndpointIds: { "${missing[0]}": "vpce-..." }`,
        );
      }
    }

    this.vpcId = props.vpcId;
    this.vpcCidr = props.vpcCidr;
    this.mode = props.mode;
    this.availabilityZones = azs;
    this.privateSubnetIds = azs.map((az) => byAz.get(az)![0]);
    const cidrs = this.privateSubnetIds.map((id) => props.privateSubnets.find((subnet) => subnet.subnetId === id)!.cidr);
    if (cidrs.every((c): c is string => c !== undefined)) this.privateSubnetCidrs = cidrs;
    this.endpointSecurityGroupId = props.endpointSecurityGroupId;
    this.s3GatewayEndpointId = props.s3GatewayEndpointId;
    this.interfaceEndpointIds = { ...endpoints };
  }

  /**
   * The endpoint and its policy belong to the caller, so this records the statement
   * (`requiredS3Reads`) and, in air-gapped mode, warns at synth that the endpoint's policy must admit
   * it: a missing one shows up only as AccessDenied when pods read.
   */
  allowS3Reads(sid: string, bucketArns: string[]): void {
    if (this.requiredS3Reads.some((s) => s.Sid === sid)) throw new Error(`ExistingNetwork ${this.node.path}: allowS3Reads: duplicate statement id ${sid}`);
    const statement = s3ReadStatement(sid, bucketArns);
    this.requiredS3Reads.push(statement);
    if (this.mode === "airgapped") {
      Annotations.of(this).addWarning(
        `ExistingNetwork ${this.node.path}: the S3 gateway endpoint ${this.s3GatewayEndpointId} is not managed here; its policy must allow ${JSON.stringify(statement)}, or reads of ${bucketArns.join(", ")} are denied`,
      );
    }
  }
}

/** AWS ids are `<prefix>-` and 8 or 17 hex digits; references are left to Terraform. */
function checkId(fail: (message: string) => never, prop: string, value: string, prefix: string, example: string): void {
  if (Token.isUnresolved(value)) return;
  if (!new RegExp(`^${prefix}-(?:[0-9a-f]{8}|[0-9a-f]{17})$`).test(value)) fail(`${prop}: expected an id like ${example}, found "${value}"`);
}
