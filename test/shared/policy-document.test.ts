import { TerraformStack } from "cdktf";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { policyDocument } from "../../constructs/shared/arn";
import { policyStatements, synthJson, testStack } from "../support/synth";

function synthPolicy(build: (stack: TerraformStack) => string): { policy: string; json: ReturnType<typeof synthJson> } {
  const { stack } = testStack();
  new IamRole(stack, "role", { assumeRolePolicy: build(stack) });
  const json = synthJson(stack);
  return { json, policy: String(json.resource.aws_iam_role.role.assume_role_policy) };
}

describe("policyDocument", () => {
  test("JSON text, with references left as Terraform interpolations", () => {
    const { json, policy } = synthPolicy((stack) => {
      const other = new IamRole(stack, "other", { assumeRolePolicy: "{}" });
      return policyDocument([{ Sid: "Ref", Effect: "Allow", Principal: { AWS: other.arn }, Action: ["sts:AssumeRole"], Condition: { Bool: { "aws:SecureTransport": true } } }]);
    });
    expect(policy.startsWith("{")).toBe(true);
    expect(policyStatements(json, policy).Ref).toEqual({
      Sid: "Ref",
      Effect: "Allow",
      Principal: { AWS: "${aws_iam_role.other.arn}" },
      Action: ["sts:AssumeRole"],
      Condition: { Bool: { "aws:SecureTransport": true } },
    });
  });

  test("an IAM policy variable is template syntax to Terraform: such documents go through jsonencode, which escapes it", () => {
    const { policy } = synthPolicy(() => policyDocument([{ Sid: "Own", Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::b/${aws:username}/*" }]));
    expect(policy).toMatch(/^\$\{jsonencode\(/);
    expect(policy).toContain("$${aws:username}");
  });
});
