/**
 * Scale to zero on a schedule: the settings' checks, the objects ScheduledScaling writes (valid Kubernetes
 * objects, a role that reaches only the named Deployments' scale, egress to the API server only), commands
 * the image's scaling program accepts, and which environments go to zero (dev, staging) and which never do.
 * The program itself runs against a stand-in API server in inference-image/test/scheduled-scaling.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ConfigError, loadEnvironmentFile, loadEnvironments } from "../../app";
import { buildApp } from "../../main";
import { cronScheduleProblem, ScheduledScaling, ScheduledScalingProps } from "../../constructs/workloads";
import { parseArgs } from "../../inference-image/src/scheduled-scaling/main";
import { find, KubeObj, kubeObjects, StackJson, validateKubeObject } from "./support";
import { synthJson, testStack } from "../support/synth";

const IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/voice-selfhost/inference:1.4.0";
const PROPS: ScheduledScalingProps = {
  image: IMAGE,
  deployments: [
    { name: "stt", minReplicas: 2 },
    { name: "tts", minReplicas: 1 },
  ],
  schedule: { down: "0 19 * * 1-5", up: "30 6 * * 1-5", timeZone: "Europe/Dublin" },
  apiCidrs: ["10.40.0.0/16", "172.20.0.0/16"],
};

function objectsOf(props: Partial<ScheduledScalingProps> = {}): { objects: KubeObj[]; scaling: ScheduledScaling } {
  const { stack } = testStack();
  const scaling = new ScheduledScaling(stack, "scheduled-scaling", { ...PROPS, ...props });
  return { objects: kubeObjects(synthJson(stack) as StackJson), scaling };
}

describe("ScheduledScaling", () => {
  const { objects, scaling } = objectsOf();
  const cron = (direction: "down" | "up") => find(objects, "CronJob", `inference-scaler-${direction}`)[0];

  test("writes valid Kubernetes objects (kubernetes-models, offline), all of core kinds: no CRD to install first", () => {
    expect(objects.map((o) => o.kind).sort()).toEqual(["CronJob", "CronJob", "NetworkPolicy", "Role", "RoleBinding", "ServiceAccount"]);
    for (const o of objects) expect(() => validateKubeObject(o)).not.toThrow();
    expect(new Set(objects.map((o) => o.apiVersion))).toEqual(new Set(["v1", "batch/v1", "rbac.authorization.k8s.io/v1", "networking.k8s.io/v1"]));
  });

  test("goes to zero at `down` and back to each Deployment's minimum at `up`, in the environment's time zone; the image's program accepts both commands", () => {
    expect(cron("down").spec).toMatchObject({ schedule: "0 19 * * 1-5", timeZone: "Europe/Dublin", concurrencyPolicy: "Forbid" });
    expect(cron("up").spec).toMatchObject({ schedule: "30 6 * * 1-5", timeZone: "Europe/Dublin", concurrencyPolicy: "Forbid" });
    const command = (direction: "down" | "up"): string[] => cron(direction).spec.jobTemplate.spec.template.spec.containers[0].command;
    expect(command("down")).toEqual(scaling.commands.down);
    expect(command("down").slice(0, 2)).toEqual(["node", "dist/scheduled-scaling/main.js"]);
    expect(parseArgs(command("down").slice(2))).toEqual([
      { deployment: "stt", replicas: 0, mode: "set" },
      { deployment: "tts", replicas: 0, mode: "set" },
    ]);
    expect(parseArgs(command("up").slice(2))).toEqual([
      { deployment: "stt", replicas: 2, mode: "atLeast" },
      { deployment: "tts", replicas: 1, mode: "atLeast" },
    ]);
    expect(cron("up").spec.jobTemplate.spec.template.spec.containers[0].image).toBe(IMAGE);
  });

  test("its service account may only read and update the scale of the named Deployments", () => {
    const [role] = find(objects, "Role", "inference-scaler");
    expect(role.rules).toEqual([{ apiGroups: ["apps"], resources: ["deployments/scale"], resourceNames: ["stt", "tts"], verbs: ["get", "update"] }]);
    const [binding] = find(objects, "RoleBinding", "inference-scaler");
    expect(binding).toMatchObject({ roleRef: { kind: "Role", name: "inference-scaler" }, subjects: [{ kind: "ServiceAccount", name: "inference-scaler" }] });
    expect(cron("down").spec.jobTemplate.spec.template.spec.serviceAccountName).toBe("inference-scaler");
  });

  test("its pods reach only the API server's addresses on 443, and run restricted on the system pool", () => {
    const [policy] = find(objects, "NetworkPolicy", "inference-scaler-egress");
    const pod = cron("down").spec.jobTemplate.spec.template;
    expect(policy.spec.podSelector.matchLabels).toEqual(Object.fromEntries(Object.entries(pod.metadata.labels).filter(([k]) => k in policy.spec.podSelector.matchLabels)));
    expect(policy.spec.egress).toEqual([{ to: [{ ipBlock: { cidr: "10.40.0.0/16" } }, { ipBlock: { cidr: "172.20.0.0/16" } }], ports: [{ protocol: "TCP", port: 443 }] }]);
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(pod.spec.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    expect(pod.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]).toMatchObject({ operator: "In", values: ["system"] });
  });

  test("refuses what would not work, naming the prop", () => {
    expect(() => objectsOf({ deployments: [] })).toThrow(/deployments: expected at least one/);
    expect(() => objectsOf({ deployments: [{ name: "inference", minReplicas: 0 }] })).toThrow(/minReplicas >= 1 for "inference"/);
    expect(() => objectsOf({ apiCidrs: ["0.0.0.0/0"] })).toThrow(/apiCidrs: expected IPv4 CIDRs narrower/);
    expect(() => objectsOf({ image: "registry/inference:latest" })).toThrow(/image/);
    expect(() => objectsOf({ schedule: { down: "0 19 * * MON", up: "0 7 * * 1" } })).toThrow(/schedule\.down: expected the day of week field/);
  });
});

test("cron schedules: the five numeric fields Kubernetes reads, with ranges, lists and steps", () => {
  for (const ok of ["0 19 * * 1-5", "*/15 7-19 * * *", "0 0 1,15 * 0", "59 23 31 12 7"]) expect(cronScheduleProblem(ok)).toBeUndefined();
  expect(cronScheduleProblem("0 19 * *")).toMatch(/expected five cron fields/);
  expect(cronScheduleProblem("60 19 * * *")).toMatch(/minute field as numbers 0-59.*"60"/);
  expect(cronScheduleProblem("0 19-7 * * *")).toMatch(/hour field/);
  expect(cronScheduleProblem("0 0 0 * *")).toMatch(/day of month field as numbers 1-31/);
  expect(cronScheduleProblem("*/0 * * * *")).toMatch(/minute field/);
  expect(cronScheduleProblem("@daily")).toMatch(/five cron fields/);
});

describe("environment files", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "scale-to-zero-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const staging = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../environments/staging.json"), "utf8")) as { workloads: Record<string, unknown> };
  function problems(scaleToZero: unknown): string[] {
    const file = path.join(dir, "staging.json");
    fs.writeFileSync(file, JSON.stringify({ ...staging, workloads: { ...staging.workloads, scaleToZero } }));
    try {
      loadEnvironmentFile(file);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).problems;
    }
    throw new Error("expected scaleToZero to be rejected");
  }

  test("a bad schedule or time zone names the file and the field", () => {
    expect(problems({ down: "0 25 * * 1-5", up: "0 7 * * 1-5" })).toEqual([expect.stringMatching(/staging\.json: field "workloads\.scaleToZero\.down": expected the hour field as numbers 0-23/)]);
    expect(problems({ down: "0 19 * * 1-5", up: "0 7 * * 1-5", timeZone: "Europe/Atlantis" })).toEqual([expect.stringMatching(/field "workloads\.scaleToZero\.timeZone": expected an IANA time zone/)]);
    expect(problems({ down: "0 7 * * 1-5", up: "0 7 * * 1-5" })).toEqual([expect.stringMatching(/field "workloads\.scaleToZero\.up": expected different schedules/)]);
    expect(problems({ down: "0 19 * * 1-5" })).toEqual([expect.stringMatching(/field "workloads\.scaleToZero\.up"/)]);
  });

  test("dev and staging go to zero off hours; prod and airgapped keep warm replicas at all times", () => {
    const environments = loadEnvironments(path.resolve(__dirname, "../../environments"));
    const byName = Object.fromEntries(environments.map((e) => [e.name, e]));
    expect(byName.dev.workloads.scaleToZero).toMatchObject({ timeZone: "Europe/Dublin" });
    expect(byName.staging.workloads.scaleToZero).toMatchObject({ timeZone: "Europe/Dublin" });
    expect(byName.prod.workloads.scaleToZero).toBeUndefined();
    expect(byName.airgapped.workloads.scaleToZero).toBeUndefined();

    const outdir = fs.mkdtempSync(path.join(dir, "synth-"));
    buildApp({ outdir, environments: [byName.dev, byName.prod] }).synth();
    const objects = (env: string) => kubeObjects(JSON.parse(fs.readFileSync(path.join(outdir, "stacks", `${env}-workloads`, "cdk.tf.json"), "utf8")) as StackJson);
    const devCrons = find(objects("dev"), "CronJob");
    expect(devCrons.map((c) => c.metadata.name).sort()).toEqual(["inference-scaler-down", "inference-scaler-up"]);
    // Back to the HPA's own minimum: one home for the number.
    const [hpa] = find(objects("dev"), "HorizontalPodAutoscaler", "inference");
    const up = devCrons.find((c) => c.metadata.name === "inference-scaler-up")!;
    expect(parseArgs(up.spec.jobTemplate.spec.template.spec.containers[0].command.slice(2))).toEqual([{ deployment: "inference", replicas: hpa.spec.minReplicas, mode: "atLeast" }]);
    expect(find(objects("prod"), "CronJob")).toEqual([]);
  }, 120_000);
});
