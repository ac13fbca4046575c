/**
 * The README's operator runbook, checked where it can be without an account: its steps come in the
 * order they depend on each other, and every command, stack, output and object it names exists.
 */
import * as fs from "fs";
import * as path from "path";
import { loadEnvironments } from "../../app";
import { stockStack, stockSynthDir } from "../support/stock-synth";

const root = path.resolve(__dirname, "../..");
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
const start = readme.indexOf("## From an empty account to a first transcription");
const runbook = readme.slice(start, readme.indexOf("\n## ", start + 1));
const scripts = Object.keys((JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts);

const environments = loadEnvironments(path.join(root, "environments"));
const stackJson = (stack: string) => stockStack<{ output?: Record<string, unknown>; resource: Record<string, Record<string, Record<string, any>>> }>(stack);

test("the runbook exists and its numbered steps go from the environment file to a smoke test, in dependency order", () => {
  expect(start).toBeGreaterThan(0);
  const steps = [...runbook.matchAll(/^\d+\. \*\*(.+?)\*\*/gm)].map((m) => m[1]);
  expect(steps).toEqual([
    "Fill in the environment file, and check it.",
    "The state bucket",
    "`<env>-infra`",
    "Mirror the images",
    "Reach the Kubernetes API, as an admin role.",
    "`<env>-workloads`",
    "Smoke test",
  ]);
  expect(runbook).toContain("### Upgrade EKS one minor at a time");
});

test("every npm command it names is a script of package.json", () => {
  const named = [...runbook.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]);
  expect(named.length).toBeGreaterThan(4);
  expect(named.filter((n) => !scripts.includes(n))).toEqual([]);
  expect(named).toEqual(expect.arrayContaining(["review", "preflight", "image:build", "mirror"]));
});

test("every stack it deploys exists for every environment", () => {
  const parts = [...new Set([...runbook.matchAll(/npx cdktf (?:deploy|output) <env>-(\w+)/g)].map((m) => m[1]))];
  expect(parts.sort()).toEqual(["infra", "workloads"]);
  const stacks = fs.readdirSync(path.join(stockSynthDir(), "stacks"));
  for (const env of environments) for (const part of parts) expect(stacks).toContain(`${env.name}-${part}`);
});

test("the outputs it reads are the infra stack's, the admin host's where the environment has one", () => {
  const listed = /npx cdktf output <env>-infra\s+# (.+)/.exec(runbook)![1].split(", ");
  for (const env of environments) {
    const outputs = Object.keys(stackJson(`${env.name}-infra`).output ?? {});
    const expected = listed.filter((o) => o !== "admin_host_instance_id" || env.cluster.adminHost.enabled);
    expect({ env: env.name, missing: expected.filter((o) => !outputs.includes(o)) }).toEqual({ env: env.name, missing: [] });
  }
});

test("the cluster, Deployment and StatefulSet it names are the ones the stacks create", () => {
  expect(runbook).toContain("--name voice-selfhost-<env>");
  for (const env of environments) {
    const clusters = Object.values(stackJson(`${env.name}-infra`).resource.aws_eks_cluster);
    expect(clusters.map((c) => c.name)).toEqual([`voice-selfhost-${env.name}`]);
  }
  const objects = Object.values(stackJson("prod-workloads").resource.kubernetes_manifest).map((m) => `${m.manifest.kind}/${m.manifest.metadata.namespace}/${m.manifest.metadata.name}`);
  expect(runbook).toContain("kubectl -n voice-selfhost rollout status deploy/inference");
  expect(runbook).toContain("rollout status statefulset/license-proxy");
  expect(objects).toEqual(expect.arrayContaining(["Deployment/voice-selfhost/inference", "StatefulSet/voice-selfhost/license-proxy"]));
});
