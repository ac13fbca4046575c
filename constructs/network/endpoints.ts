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

/**
 * Where each service's own guide documents VPC endpoint policies; `undefined` where we found none. AWS
 * gives full access through an endpoint of a service without policy support, and refuses any other
 * policy there, so only the documented ones get a perimeter policy; the others are listed by policy
 * rule VS-NET-005 as acknowledged exceptions.
 */
export const ENDPOINT_POLICY_DOCS: Readonly<Record<InterfaceEndpointService, string | undefined>> = {
  "ecr.api": "Amazon ECR User Guide, interface VPC endpoints: create an endpoint policy",
  "ecr.dkr": "Amazon ECR User Guide, interface VPC endpoints: create an endpoint policy",
  ec2: "Amazon EC2 User Guide, interface VPC endpoints: create an endpoint policy",
  sts: "IAM User Guide, AWS STS and interface VPC endpoints: endpoint policies",
  eks: "Amazon EKS User Guide, AWS PrivateLink: use VPC endpoint policies to control access to Amazon EKS",
  "eks-auth": undefined,
  elasticloadbalancing: "Elastic Load Balancing User Guide, interface endpoints: create a VPC endpoint policy",
  autoscaling: "Amazon EC2 Auto Scaling User Guide, interface VPC endpoints: create a VPC endpoint policy",
  logs: "Amazon CloudWatch Logs User Guide, interface VPC endpoints: control access to the endpoint",
  kms: "AWS KMS Developer Guide, VPC endpoints: control access to a VPC endpoint",
  ssm: "AWS data perimeter policy examples (aws-samples/data-perimeter-policy-examples): ssm endpoint policy",
  ssmmessages: undefined,
  ec2messages: undefined,
};

/** Gateway endpoints (free, attached to route tables): S3 carries ECR image layers and model weights. */
export const GATEWAY_ENDPOINT_SERVICES = ["s3"] as const;

/** One of GATEWAY_ENDPOINT_SERVICES. */
export type GatewayEndpointService = (typeof GATEWAY_ENDPOINT_SERVICES)[number];

/** `com.amazonaws.<region>.<service>`, the service name AWS gives regional endpoint services. */
export function endpointServiceName(region: string, service: InterfaceEndpointService | GatewayEndpointService): string {
  return `com.amazonaws.${region}.${service}`;
}

/**
 * The AWS accounts whose ECR registries hold the images of EKS add-ons (vpc-cni, kube-proxy, coredns,
 * the Pod Identity agent, the EBS CSI driver), by region. Source: Amazon EKS User Guide, "View Amazon
 * container image registries for Amazon EKS add-ons". Nodes pull them through the ECR endpoints, so
 * those endpoints' policies must admit these repositories besides the organisation's own.
 */
export const EKS_ADDON_REGISTRY_ACCOUNTS: Readonly<Record<string, string>> = {
  "af-south-1": "877085696533",
  "ap-east-1": "800184023465",
  "ap-east-2": "533267051163",
  "ap-northeast-1": "602401143452",
  "ap-northeast-2": "602401143452",
  "ap-northeast-3": "602401143452",
  "ap-south-1": "602401143452",
  "ap-south-2": "900889452093",
  "ap-southeast-1": "602401143452",
  "ap-southeast-2": "602401143452",
  "ap-southeast-3": "296578399912",
  "ap-southeast-4": "491585149902",
  "ap-southeast-5": "151610086707",
  "ap-southeast-6": "333609536671",
  "ap-southeast-7": "121268973566",
  "ca-central-1": "602401143452",
  "ca-west-1": "761377655185",
  "cn-north-1": "918309763551",
  "cn-northwest-1": "961992271922",
  "eu-central-1": "602401143452",
  "eu-central-2": "900612956339",
  "eu-north-1": "602401143452",
  "eu-south-1": "590381155156",
  "eu-south-2": "455263428931",
  "eu-west-1": "602401143452",
  "eu-west-2": "602401143452",
  "eu-west-3": "602401143452",
  "il-central-1": "066635153087",
  "me-central-1": "759879836304",
  "me-south-1": "558608220178",
  "mx-central-1": "730335286997",
  "sa-east-1": "602401143452",
  "us-east-1": "602401143452",
  "us-east-2": "602401143452",
  "us-gov-east-1": "151742754352",
  "us-gov-west-1": "013241004608",
  "us-west-1": "602401143452",
  "us-west-2": "602401143452",
};

/**
 * Whose principals and resources a VPC endpoint admits: the AWS Organizations organisation when one is
 * named, otherwise the account the network is in.
 */
export interface PerimeterScope {
  /** `o-...`: admit principals and resources of this organisation. */
  readonly organizationId?: string;
  /** The network's own account (a Terraform expression is fine): used when no organisation is named. */
  readonly account: string;
}

/** `aws:PrincipalOrgID` (or `aws:PrincipalAccount`) of the scope. */
function principalCondition(scope: PerimeterScope): Record<string, string> {
  return scope.organizationId ? { "aws:PrincipalOrgID": scope.organizationId } : { "aws:PrincipalAccount": scope.account };
}

/** `aws:ResourceOrgID` (or `aws:ResourceAccount`) of the scope. */
function resourceCondition(scope: PerimeterScope): Record<string, string> {
  return scope.organizationId ? { "aws:ResourceOrgID": scope.organizationId } : { "aws:ResourceAccount": scope.account };
}

/**
 * The data-perimeter statement of every endpoint policy (AWS's data perimeter examples): our principals,
 * acting on our resources. Stolen credentials of another account and buckets or keys of another
 * account are both refused at the endpoint, whatever IAM would allow.
 */
export function ownPrincipalsToOwnResources(scope: PerimeterScope): PolicyStatement {
  return {
    Sid: "OwnPrincipalsToOwnResources",
    Effect: "Allow",
    Principal: "*",
    Action: "*",
    Resource: "*",
    Condition: { StringEquals: { ...principalCondition(scope), ...resourceCondition(scope) } },
  };
}

/**
 * The policy of an interface endpoint whose service supports one (ENDPOINT_POLICY_DOCS): the
 * perimeter statement, AWS service principals acting on our behalf, and the AWS-owned resources the
 * cluster really uses through that service (EKS add-on images through ECR; AWS's SSM documents and
 * public parameters through SSM).
 */
export function interfaceEndpointStatements(service: InterfaceEndpointService, scope: PerimeterScope, where: { readonly region: string; readonly partition: string }): PolicyStatement[] {
  const statements: PolicyStatement[] = [
    ownPrincipalsToOwnResources(scope),
    { Sid: "AwsServicePrincipals", Effect: "Allow", Principal: "*", Action: "*", Resource: "*", Condition: { Bool: { "aws:PrincipalIsAWSService": "true" } } },
  ];
  if (service === "ecr.api" || service === "ecr.dkr") {
    statements.push({
      Sid: "OwnPrincipalsPullEksAddonImages",
      Effect: "Allow",
      Principal: "*",
      Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
      Resource: "*",
      Condition: { StringEquals: { ...principalCondition(scope), "aws:ResourceAccount": EKS_ADDON_REGISTRY_ACCOUNTS[where.region] } },
    });
  }
  if (service === "ssm") {
    statements.push({
      Sid: "OwnPrincipalsReadAwsDocumentsAndParameters",
      Effect: "Allow",
      Principal: "*",
      Action: ["ssm:Describe*", "ssm:Get*", "ssm:List*"],
      Resource: [`arn:${where.partition}:ssm:${where.region}::document/*`, `arn:${where.partition}:ssm:${where.region}::parameter/aws/*`],
      Condition: { StringEquals: principalCondition(scope) },
    });
  }
  return statements;
}

/** Why a network in `region` cannot have ECR endpoint policies, or undefined when EKS_ADDON_REGISTRY_ACCOUNTS knows the region. */
export function unknownAddonRegistry(region: string): string | undefined {
  return EKS_ADDON_REGISTRY_ACCOUNTS[region]
    ? undefined
    : `no EKS add-on image registry is known for region "${region}": add its account to EKS_ADDON_REGISTRY_ACCOUNTS (constructs/network/endpoints.ts) from the Amazon EKS User Guide, "View Amazon container image registries for Amazon EKS add-ons"`;
}

/**
 * ECR's image layers: the region's `prod-<region>-starport-layer-bucket`, an AWS-owned bucket that nodes
 * read through presigned URLs ECR signs (so no principal condition can apply). Every image pull, EKS
 * add-ons' included, needs it.
 */
export function ecrLayersStatement(region: string, partition: string): PolicyStatement {
  return { Sid: "EcrImageLayers", Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: `arn:${partition}:s3:::prod-${region}-starport-layer-bucket/*` };
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
