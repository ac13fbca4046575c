/**
 * What the target account will refuse, asked of the account itself with read-only calls: the
 * caller's account, GPU instance types offered in each chosen zone, the GPU vCPU quotas, the
 * certificate, and the state bucket. Each client is passed in, so tests stand in for AWS at the
 * clients' `send`.
 */
import { ACMClient, DescribeCertificateCommand } from "@aws-sdk/client-acm";
import { DescribeInstanceTypeOfferingsCommand, DescribeInstanceTypeOfferingsCommandOutput, EC2Client } from "@aws-sdk/client-ec2";
import { GetBucketVersioningCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { GetServiceQuotaCommand, ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { EnvironmentConfig } from "../../app";
import { GPU_INSTANCE_TYPES } from "../../constructs/cluster/gpu-instance-types";
import { ReadinessFinding } from "./offline";

/** The read-only clients the checks use: EC2, Service Quotas and ACM in the environment's region, S3 in the state bucket's, STS anywhere. */
export interface AwsClients {
  readonly sts: Pick<STSClient, "send">;
  readonly ec2: Pick<EC2Client, "send">;
  readonly quotas: Pick<ServiceQuotasClient, "send">;
  readonly acm: Pick<ACMClient, "send">;
  readonly s3: Pick<S3Client, "send">;
}

export function awsClients(env: EnvironmentConfig): AwsClients {
  const region = env.region;
  const stateRegion = env.stateBackend.type === "s3" ? env.stateBackend.region : region;
  return { sts: new STSClient({ region }), ec2: new EC2Client({ region }), quotas: new ServiceQuotasClient({ region }), acm: new ACMClient({ region }), s3: new S3Client({ region: stateRegion }) };
}

/**
 * EC2 vCPU quotas (Service Quotas, service `ec2`) that GPU node groups draw from, by instance
 * family prefix and capacity type. G covers g4dn, g5, g6 and g6e; P covers p4d, p4de, p5 and p5e.
 */
export const GPU_QUOTAS = [
  { families: /^g/, capacityType: "ON_DEMAND", code: "L-DB2E81BA", name: "Running On-Demand G and VT instances" },
  { families: /^g/, capacityType: "SPOT", code: "L-3819A6DF", name: "All G and VT Spot Instance Requests" },
  { families: /^p/, capacityType: "ON_DEMAND", code: "L-417A185B", name: "Running On-Demand P instances" },
  { families: /^p/, capacityType: "SPOT", code: "L-7212CCBC", name: "All P Spot Instance Requests" },
] as const;

const errorName = (err: unknown) => (err as { name?: string }).name ?? "Error";
const errorText = (err: unknown) => `${errorName(err)}: ${(err as Error).message ?? String(err)}`;

/** Account ids the file names in ARNs, with their fields: they must be the caller's. */
function namedAccounts(env: EnvironmentConfig): { field: string; account: string }[] {
  const arns: { field: string; arn: string | undefined }[] = [
    ...env.cluster.adminPrincipalArns.map((arn, i) => ({ field: `cluster.adminPrincipalArns[${i}]`, arn })),
    { field: "cluster.adminRoleArn", arn: env.cluster.adminRoleArn },
    { field: "ingress.certificateArn", arn: env.ingress.certificateArn },
  ];
  return arns.flatMap(({ field, arn }) => {
    const account = arn?.split(":")[4];
    return account ? [{ field, account }] : [];
  });
}

async function callerChecks(env: EnvironmentConfig, clients: AwsClients): Promise<ReadinessFinding[]> {
  const { Account } = await clients.sts.send(new GetCallerIdentityCommand({}));
  return namedAccounts(env)
    .filter((n) => n.account !== Account)
    .map((n) => ({ check: "account" as const, severity: "error" as const, field: n.field, message: `names account ${n.account}, but the credentials are for account ${Account}: deploy with credentials for the account the file names, or fix the file` }));
}

async function offeringChecks(env: EnvironmentConfig, clients: AwsClients): Promise<ReadinessFinding[]> {
  const types = [...new Set(env.nodePools.gpu.flatMap((p) => p.instanceTypes))];
  const offered = new Set<string>();
  let NextToken: string | undefined;
  do {
    const page: DescribeInstanceTypeOfferingsCommandOutput = await clients.ec2.send(
      new DescribeInstanceTypeOfferingsCommand({
        LocationType: "availability-zone",
        Filters: [
          { Name: "location", Values: env.availabilityZones },
          { Name: "instance-type", Values: types },
        ],
        NextToken,
      }),
    );
    for (const o of page.InstanceTypeOfferings ?? []) offered.add(`${o.InstanceType}@${o.Location}`);
    NextToken = page.NextToken;
  } while (NextToken);
  return env.nodePools.gpu.flatMap((pool, p) =>
    pool.instanceTypes.flatMap((type, t) => {
      const missing = env.availabilityZones.filter((zone) => !offered.has(`${type}@${zone}`));
      return missing.length
        ? [{ check: "offering" as const, severity: "error" as const, field: `nodePools.gpu[${p}].instanceTypes[${t}]`, message: `${type} is not offered in ${missing.join(", ")} (this account's zones): the node group spans every zone, so choose another type or other availabilityZones` }]
        : [];
    }),
  );
}

async function quotaChecks(env: EnvironmentConfig, clients: AwsClients): Promise<ReadinessFinding[]> {
  const findings: ReadinessFinding[] = [];
  for (const quota of GPU_QUOTAS) {
    const pools = env.nodePools.gpu.filter((pool) => pool.capacityType === quota.capacityType && quota.families.test(pool.instanceTypes[0]));
    if (pools.length === 0) continue;
    // At its largest every pool runs maxSize nodes of its type's vCPUs (all types of a pool share one shape).
    const needed = pools.reduce((n, pool) => n + pool.maxSize * (GPU_INSTANCE_TYPES[pool.instanceTypes[0]]?.vcpus ?? 0), 0);
    const { Quota } = await clients.quotas.send(new GetServiceQuotaCommand({ ServiceCode: "ec2", QuotaCode: quota.code }));
    const limit = Quota?.Value ?? 0;
    if (limit < needed) {
      findings.push({
        check: "quota",
        severity: "error",
        field: `nodePools.gpu (${pools.map((p) => p.name).join(", ")})`,
        message: `at maxSize these pools run ${needed} vCPUs of ${quota.capacityType === "SPOT" ? "Spot" : "On-Demand"} ${quota.families.source.slice(1)} instances, but the quota "${quota.name}" (${quota.code}) is ${limit} in ${env.region}: request an increase or lower maxSize`,
      });
    }
  }
  return findings;
}

async function certificateChecks(env: EnvironmentConfig, clients: AwsClients): Promise<ReadinessFinding[]> {
  const arn = env.ingress.certificateArn;
  if (!arn) return [];
  const field = "ingress.certificateArn";
  try {
    const { Certificate } = await clients.acm.send(new DescribeCertificateCommand({ CertificateArn: arn }));
    return Certificate?.Status === "ISSUED" ? [] : [{ check: "certificate", severity: "error", field, message: `the certificate is ${Certificate?.Status ?? "in no known state"}, not ISSUED: a TLS listener cannot use it` }];
  } catch (err) {
    if (errorName(err) === "ResourceNotFoundException") return [{ check: "certificate", severity: "error", field, message: `ACM in ${env.region} has no such certificate` }];
    throw err;
  }
}

async function stateBucketChecks(env: EnvironmentConfig, clients: AwsClients): Promise<ReadinessFinding[]> {
  if (env.stateBackend.type !== "s3") return [];
  const Bucket = env.stateBackend.bucket;
  const field = "stateBackend.bucket";
  try {
    await clients.s3.send(new HeadBucketCommand({ Bucket }));
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404 || errorName(err) === "NotFound") return [{ check: "state", severity: "error", field, message: `bucket ${Bucket} does not exist: create it (versioned, encrypted) before the first deploy (README, "From an empty account")` }];
    if (status === 403 || errorName(err) === "Forbidden") return [{ check: "state", severity: "error", field, message: `bucket ${Bucket} is not readable with these credentials (it may belong to another account)` }];
    throw err;
  }
  const { Status } = await clients.s3.send(new GetBucketVersioningCommand({ Bucket }));
  return Status === "Enabled" ? [] : [{ check: "state", severity: "error", field, message: `bucket ${Bucket} has versioning ${Status ?? "never enabled"}: enable it, so an overwritten state can be recovered` }];
}

/** Every live check; a check that cannot run (an API error other than the answers above) becomes a finding that says so. */
export async function onlineFindings(env: EnvironmentConfig, clients: AwsClients): Promise<ReadinessFinding[]> {
  const checks: [string, (e: EnvironmentConfig, c: AwsClients) => Promise<ReadinessFinding[]>][] = [
    ["sts:GetCallerIdentity", callerChecks],
    ["ec2:DescribeInstanceTypeOfferings", offeringChecks],
    ["servicequotas:GetServiceQuota", quotaChecks],
    ["acm:DescribeCertificate", certificateChecks],
    ["s3:HeadBucket, s3:GetBucketVersioning", stateBucketChecks],
  ];
  const findings: ReadinessFinding[] = [];
  for (const [calls, check] of checks) {
    try {
      findings.push(...(await check(env, clients)));
    } catch (err) {
      if (errorName(err) === "CredentialsProviderError") {
        // No credentials: every other call would fail the same way.
        return [...findings, { check: "unchecked", severity: "unknown", field: "(account)", message: `no AWS credentials, so no live check ran (${errorText(err)}); set AWS_PROFILE or credentials for the target account, or pass --offline` }];
      }
      findings.push({ check: "unchecked", severity: "unknown", field: "(account)", message: `${calls} failed, so this check did not run: ${errorText(err)}` });
    }
  }
  return findings;
}
