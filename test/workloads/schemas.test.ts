/**
 * Every Kubernetes object of every `<env>-workloads` stack, as synthesized, validates against the
 * Kubernetes OpenAPI schemas that kubernetes-models carries (4.5.x: Kubernetes v1.33.0; the clusters
 * run a newer minor, see BENCHMARKS.md "Workloads stacks"), offline. The schemas check types,
 * required fields and enums; they accept unknown fields, which the constructs' typed object
 * literals rule out at compile time.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { synthAll } from "../../scripts/synth";

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string };
}

interface Model {
  new (data: KubeObject): { validate(): void };
}

const out = fs.mkdtempSync(path.join(os.tmpdir(), "k8s-schemas-"));
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));
const stacks = synthAll(out).filter((s) => s.endsWith("-workloads"));

function manifests(stack: string): Array<[string, KubeObject]> {
  const config = JSON.parse(fs.readFileSync(path.join(out, "stacks", stack, "cdk.tf.json"), "utf8")) as {
    resource?: { kubernetes_manifest?: Record<string, { manifest: KubeObject }> };
  };
  return Object.entries(config.resource?.kubernetes_manifest ?? {}).map(([id, r]) => [id, r.manifest]);
}

/** The kubernetes-models class of an object's apiVersion and kind: `v1/Service`, `apps/v1/Deployment`. */
function modelOf(obj: KubeObject): Model {
  const modulePath = `kubernetes-models/${obj.apiVersion}/${obj.kind}`;
  let loaded: Record<string, Model>;
  try {
    loaded = require(modulePath) as Record<string, Model>;
  } catch {
    throw new Error(`no Kubernetes schema for ${obj.apiVersion} ${obj.kind} in kubernetes-models (${modulePath})`);
  }
  return loaded[obj.kind];
}

function validate(obj: KubeObject): void {
  const Model = modelOf(obj);
  new Model(obj).validate();
}

describe("Kubernetes objects of the workloads stacks", () => {
  test("there are four workloads stacks, each with objects", () => {
    expect(stacks).toHaveLength(4);
    for (const stack of stacks) expect(manifests(stack).length).toBeGreaterThan(10);
  });

  test.each(stacks)("%s: every object validates against its Kubernetes schema", (stack) => {
    const failures = manifests(stack).flatMap(([id, obj]) => {
      try {
        validate(obj);
        return [];
      } catch (err) {
        return [`${id} (${obj.apiVersion} ${obj.kind} ${obj.metadata?.name}): ${err instanceof Error ? err.message : String(err)}`];
      }
    });
    expect(failures).toEqual([]);
  });

  test("an object that breaks its schema fails: a container port given as a string", () => {
    const [, deployment] = manifests(stacks[0]).find(([, obj]) => obj.kind === "Deployment")!;
    const broken = JSON.parse(JSON.stringify(deployment)) as { spec: { template: { spec: { containers: Array<{ ports?: Array<{ containerPort: unknown }> }> } } } };
    const container = broken.spec.template.spec.containers.find((c) => c.ports?.length)!;
    container.ports![0].containerPort = "http";
    expect(() => validate(broken as unknown as KubeObject)).toThrow(/containerPort must be integer/);
  });

  test("an object of a kind kubernetes-models does not know fails instead of passing unchecked", () => {
    expect(() => validate({ apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", metadata: { name: "x" } })).toThrow(/no Kubernetes schema/);
  });
});
