/** Synth speed: each enforced stack is serialized once per synth, and only within that pass is the document reused. */
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { TerraformStack, Testing } from "cdktf";
import * as fs from "fs";
import * as path from "path";
import { enforcePolicy } from "../../constructs/policy";

afterEach(() => jest.restoreAllMocks());

function enforcedStack() {
  // Spy first: enforcePolicy keeps a reference to the method it wraps.
  const serialize = jest.spyOn(TerraformStack.prototype, "toTerraform");
  const app = Testing.app();
  const stack = new TerraformStack(app, "lib");
  new AwsProvider(stack, "aws", { region: "eu-west-1" });
  enforcePolicy(stack, { mode: "connected" });
  return { app, stack, serialize };
}

test("app.synth() serializes an enforced stack once: the policy check and the written file share the document", () => {
  const { app, stack, serialize } = enforcedStack();
  app.synth();
  expect(serialize.mock.contexts.filter((c) => c === stack)).toHaveLength(1);
  const written = JSON.parse(fs.readFileSync(path.join(app.outdir, "stacks", "lib", "cdk.tf.json"), "utf8")) as unknown;
  expect(written).toEqual(JSON.parse(JSON.stringify(stack.toTerraform())));
});

test("outside a synth pass every call serializes afresh, so later changes to the stack show", () => {
  const { stack, serialize } = enforcedStack();
  const before = stack.toTerraform() as { resource?: unknown };
  new S3Bucket(stack, "added", { bucketPrefix: "later-" });
  const after = stack.toTerraform() as { resource?: { aws_s3_bucket?: unknown } };
  expect(before.resource).toBeUndefined();
  expect(after.resource?.aws_s3_bucket).toBeDefined();
  expect(serialize.mock.contexts.filter((c) => c === stack)).toHaveLength(2);
});
