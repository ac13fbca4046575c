/** STT and TTS run apart (workloads.split): each Service gets its own listener, target group and health check, on the NodePort the workloads expose. */
import * as fs from "fs";
import * as path from "path";
import { Testing } from "cdktf";
import { ConfigError, parseEnvironment } from "../../app";
import { KUBE_PROXY_HEALTH_PATH } from "../../constructs/shared";
import { buildApp } from "../../main";
import { InfraStack } from "../../stacks/infra-stack";
import { WorkloadsStack } from "../../stacks/workloads-stack";
import { resources, Synthesized } from "../support/synth";

const staging = JSON.parse(fs.readFileSync(path.resolve(__dirname, "../../environments/staging.json"), "utf8")) as Record<string, unknown>;
const split = (extra: Record<string, unknown> = {}) => parseEnvironment({ ...staging, workloads: { split: true }, ...extra }, "environments/staging.json");

describe("staging with workloads.split", () => {
  const env = split();
  const app = buildApp({ environments: [env], outdir: Testing.app().outdir });
  const infra = app.node.findChild("staging-infra") as InfraStack;
  const workloads = app.node.findChild("staging-workloads") as WorkloadsStack;
  const json = JSON.parse(Testing.synth(infra)) as Synthesized;
  const all = (type: string) => Object.values(resources(json, type)) as Record<string, any>[];

  test("one listener per Service: STT on ingress.port, TTS on ingress.ttsPort, each forwarding to its own target group", () => {
    const listeners = all("aws_lb_listener");
    expect(listeners.map((l) => l.port).sort()).toEqual([env.ingress.port, env.ingress.ttsPort].sort());
    const groups = resources(json, "aws_lb_target_group");
    for (const listener of listeners) {
      const target = /aws_lb_target_group\.([^.]+)\.arn/.exec(listener.default_action[0].target_group_arn)![1];
      const service = listener.port === env.ingress.port ? "stt" : "tts";
      expect((groups[target].tags as Record<string, string>)["voice-selfhost:service"]).toBe(service);
    }
  });

  test("each target group targets the NodePort its workloads Service exposes, with its own readiness health check", () => {
    expect(workloads.inferenceServices.map((s) => s.name).sort()).toEqual(["stt", "tts"]);
    const groups = all("aws_lb_target_group");
    expect(groups).toHaveLength(2);
    const wjson = JSON.parse(Testing.synth(workloads)) as Synthesized;
    const services = Object.values(resources(wjson, "kubernetes_manifest"))
      .map((m) => m.manifest as { kind: string; metadata: { name: string }; spec: { ports: { nodePort: number }[]; healthCheckNodePort: number } })
      .filter((m) => m.kind === "Service" && ["stt", "tts"].includes(m.metadata.name));
    for (const group of groups) {
      const name = group.tags["voice-selfhost:service"];
      const service = services.find((s) => s.metadata.name === name)!;
      expect(group.port).toBe(service.spec.ports[0].nodePort);
      // Each group checks kube-proxy's health-check node port of its own Service (shared/drain.ts).
      expect(group.health_check).toMatchObject({ protocol: "HTTP", port: String(service.spec.healthCheckNodePort), path: KUBE_PROXY_HEALTH_PATH });
    }
    expect(new Set(groups.map((g) => g.port)).size).toBe(2);
    expect(new Set(groups.map((g) => g.health_check.port)).size).toBe(2);
  });

  test("the nodes admit both NodePorts from the load balancer, and the load balancer may reach them", () => {
    const ports = all("aws_lb_target_group").map((g) => g.port).sort();
    const healthPorts = all("aws_lb_target_group").map((g) => Number(g.health_check.port));
    const toNodes = all("aws_vpc_security_group_egress_rule").filter((r) => String(r.referenced_security_group_id).includes("cluster_security_group_id"));
    expect(toNodes.map((r) => r.from_port).sort()).toEqual([...ports, ...healthPorts].sort());
    const fromNlb = all("aws_vpc_security_group_ingress_rule").filter((r) => String(r.description).includes("from the internal NLB"));
    expect(fromNlb.map((r) => r.from_port).sort()).toEqual([...ports, ...healthPorts].sort());
    const clientPorts = new Set(all("aws_vpc_security_group_ingress_rule").filter((r) => String(r.description).startsWith("Clients")).map((r) => r.from_port));
    expect([...clientPorts].sort()).toEqual([env.ingress.port, env.ingress.ttsPort].sort());
  });
});

test("split with ingress.ttsPort equal to ingress.port fails at load, naming the field", () => {
  const load = () => split({ ingress: { ...(staging.ingress as object), ttsPort: 443, port: 443 } });
  expect(load).toThrow(ConfigError);
  expect(load).toThrow(/ingress\.ttsPort.*STT and TTS each need a listener/s);
});
