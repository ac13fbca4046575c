/**
 * The runtime rules against the stacks as main synthesized them before issue 22 (excerpts in
 * test/fixtures/policy/main-prod-*.json), the perimeter rules against main at fa7a57a (before issue 23's
 * second half: main-fa7a57a-prod-*.json): each rule must fail there. And against the environments as
 * they synthesize now: each must pass, or be acknowledged with a reason.
 */
import { TerraformStack } from "cdktf";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadEnvironments } from "../../app";
import { checkStack, evaluate, JsonObject, PolicyReport, StackView } from "../../constructs/policy";
import { buildApp } from "../../main";

/** Rule → the stack of an environment it reads, and whether today's stacks may only acknowledge it (not pass it). */
const RULES: Record<string, { stack: "infra" | "workloads"; acknowledged?: true }> = {
  "VS-EKS-006": { stack: "infra" },
  "VS-EKS-009": { stack: "infra" },
  "VS-EKS-010": { stack: "infra" },
  "VS-K8S-012": { stack: "workloads" },
  "VS-K8S-014": { stack: "workloads" },
  "VS-K8S-015": { stack: "workloads" },
  "VS-EKS-007": { stack: "infra" },
  "VS-K8S-013": { stack: "workloads" },
  "VS-K8S-016": { stack: "workloads" },
  "VS-LB-003": { stack: "infra" },
  "VS-LB-004": { stack: "infra", acknowledged: true },
};

/**
 * Issue 23's second half, each against main before it: the data key's use at fa7a57a; no path out for audio
 * (VS-K8S-018), TLS to the pod (VS-LB-005) and ingress exactly what the NLB forwards (VS-K8S-017) at 4b8ab52
 * (excerpts: the listener and target group; the voice-selfhost Deployments, Services, NetworkPolicies and
 * inference ConfigMap).
 */
const PERIMETER_RULES: Record<string, { stack: Stack; ref: string; acknowledged?: true }> = {
  "VS-KMS-003": { stack: "data", ref: "fa7a57a" },
  "VS-K8S-017": { stack: "workloads", ref: "4b8ab52" },
  "VS-K8S-018": { stack: "workloads", ref: "4b8ab52" },
  "VS-LB-005": { stack: "infra", ref: "4b8ab52" },
};
type Stack = "data" | "infra" | "workloads";

const fixture = (name: string) => new StackView(`main-${name}`, JSON.parse(fs.readFileSync(path.join(__dirname, "../fixtures/policy", `main-${name}.json`), "utf8")) as JsonObject);

describe("on main's prod stacks, before issue 22", () => {
  const reports = { infra: evaluate(fixture("prod-infra")), workloads: evaluate(fixture("prod-workloads")) };
  test.each(Object.entries(RULES))("%s fails", (id, { stack }) => {
    expect(reports[stack].rules.find((r) => r.id === id)?.status).toBe("fail");
    expect(reports[stack].violations.filter((v) => v.rule === id).length).toBeGreaterThan(0);
  });
});

describe("on main's prod stacks before issue 23's second half", () => {
  const reports: Record<string, PolicyReport> = {};
  const report = (ref: string, stack: Stack) => (reports[`${ref}-${stack}`] ??= evaluate(fixture(`${ref}-prod-${stack}`)));
  test.each(Object.entries(PERIMETER_RULES))("%s fails", (id, { stack, ref }) => {
    expect(report(ref, stack).rules.find((r) => r.id === id)?.status).toBe("fail");
    expect(report(ref, stack).violations.filter((v) => v.rule === id).length).toBeGreaterThan(0);
  });
});

let stacks: Record<string, TerraformStack>;
beforeAll(() => {
  const app = buildApp({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), "main-stacks-")), environments: loadEnvironments(path.resolve(__dirname, "../../environments")) });
  stacks = Object.fromEntries(app.node.children.filter((c): c is TerraformStack => c instanceof TerraformStack).map((s) => [s.node.id, s]));
}, 60_000);

describe.each(["dev", "staging", "prod", "airgapped"])("on %s as it synthesizes now", (env) => {
  test.each(Object.entries({ ...RULES, ...PERIMETER_RULES }))("%s passes (or is acknowledged where the rule says so)", (id, { stack, acknowledged }) => {
    const report = checkStack(stacks[`${env}-${stack}`]);
    expect(report.violations.filter((v) => v.rule === id)).toEqual([]);
    expect(report.rules.find((r) => r.id === id)?.status).toBe(acknowledged ? "acknowledged" : "pass");
  });
});
