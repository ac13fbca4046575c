import { PolicyStatement } from "../shared/arn";

/**
 * The AWS services a private EKS cluster reaches through VPC endpoints. One list, so the network,
 * the registry and cluster policies (e.g. `aws:sourceVpce` conditions) and the policy checks agree.
 */

/** Interface endpoints: nodes joining, image pulls, load balancer and autoscaling calls, logs, keys, SSM access. */
export const INTERFACE_ENDPOINT_SERVICES = [
  "ecr.api",
  "ecr.dkr",
  "ec2",
  "sts",
  "eks",
  "eks-auth",
  "elasticloadbalancing",
  "autoscaling",
  "logs",
  "kms",
  "ssm",
  "ssmmessages",
  "ec2messages",
] as const;

/** One of INTERFACE_ENDPOINT_SERVICES. */
export type InterfaceEndpointService = (typeof INTERFACE_ENDPOINT_SERVICES)[number];

/** Gateway endpoints (free, attached to route tables): S3 carries ECR image layers and model weights. */
export const GATEWAY_ENDPOINT_SERVICES = ["s3"] as const;

/** One of GATEWAY_ENDPOINT_SERVICES. */
export type GatewayEndpointService = (typeof GATEWAY_ENDPOINT_SERVICES)[number];

/** `com.amazonaws.<region>.<service>`, the service name AWS gives regional endpoint services. */
export function endpointServiceName(region: string, service: InterfaceEndpointService | GatewayEndpointService): string {
  return `com.amazonaws.${region}.${service}`;
}

/** The S3 gateway endpoint policy statement that lets reads reach `bucketArns` (objects and listings). */
export function s3ReadStatement(sid: string, bucketArns: string[]): PolicyStatement {
  return {
    Sid: sid,
    Effect: "Allow",
    Principal: "*",
    Action: ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"],
    Resource: bucketArns.flatMap((arn) => [arn, `${arn}/*`]),
  };
}
