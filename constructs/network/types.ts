/** What other constructs need from a network, whether we created it or the caller brought it. */
export interface NetworkRefs {
  readonly vpcId: string;
  readonly vpcCidr: string;
  /** Private subnet ids, one per availability zone, in the order of `availabilityZones`. */
  readonly privateSubnetIds: string[];
  readonly availabilityZones: string[];
  /**
   * CIDRs of the private subnets, in the order of `privateSubnetIds`, when known. Load balancers in
   * these subnets send their health checks from addresses in them; without them, consumers fall back to `vpcCidr`.
   */
  readonly privateSubnetCidrs?: string[];
  /** Security group of the interface VPC endpoints (admits 443 from the VPC only). */
  readonly endpointSecurityGroupId: string;
  /** The S3 gateway endpoint id (model bucket and registry policies pin to it in air-gapped mode). */
  readonly s3GatewayEndpointId: string;
  /** Interface endpoint ids by service (e.g. "ecr.dkr"), for `aws:sourceVpce` conditions; required by air-gapped registries. */
  readonly interfaceEndpointIds?: Readonly<Partial<Record<string, string>>>;
  readonly mode: "connected" | "airgapped";
  /**
   * Lets reads through the S3 gateway endpoint reach `bucketArns` (objects and listings). Air-gapped,
   * the endpoint admits only what is registered here, so a bucket that pods read calls this itself
   * (ModelBucket does). `sid` names the statement and must be unique in the network.
   */
  allowS3Reads(sid: string, bucketArns: string[]): void;
}
