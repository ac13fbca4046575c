import { Fn } from "cdktf";

/**
 * The account, region and partition of whatever an ARN names, as Terraform expressions. Reading them
 * from a resource we create avoids `aws_caller_identity`/`aws_region` data sources, so `terraform plan`
 * runs with no credentials. Pick an ARN that has the part (IAM ARNs have no region).
 */
export function arnParts(arn: string): { readonly partition: string; readonly region: string; readonly account: string } {
  const part = (index: number) => Fn.element(Fn.split(":", arn), index);
  return { partition: part(1), region: part(3), account: part(4) };
}

/** One IAM policy statement; values may hold Terraform references. */
export interface PolicyStatement {
  readonly Sid: string;
  readonly Effect: "Allow" | "Deny";
  readonly Principal?: unknown;
  readonly Action: string | string[];
  /** Omitted only in trust policies. */
  readonly Resource?: string | string[];
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** Serialized with `Fn.jsonencode`, so Terraform references inside the statements resolve at plan time. */
export function policyDocument(statements: readonly PolicyStatement[]): string {
  return Fn.jsonencode({ Version: "2012-10-17", Statement: statements });
}

/** A role trust policy for one AWS service principal. */
export function trustPolicy(service: string, actions: string[] = ["sts:AssumeRole"]): string {
  return policyDocument([{ Sid: "ServiceAssumesRole", Effect: "Allow", Principal: { Service: service }, Action: actions }]);
}

/** An AWS managed policy ARN in the partition of `anyArn`. */
export function managedPolicyArn(anyArn: string, name: string): string {
  return `arn:${arnParts(anyArn).partition}:iam::aws:policy/${name}`;
}
