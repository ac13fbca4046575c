/** The four `<env>-workloads` stacks, synthesized from environments/ exactly as `npm run synth` does. */
import * as fs from "fs";
import * as path from "path";
import { TARGET_HEALTH_CHECK, TARGET_HEALTH_CHECK_ANNOTATION } from "../../constructs/shared";
import {
  CLUSTER_AUTOSCALER_NAMESPACE,
  GPU_RESOURCE,
  INFERENCE_HEALTH_CHECK_NODE_PORTS,
  INFERENCE_LOAD_BALANCER_CLASS,
  INFERENCE_NODE_PORT,
  WORKLOAD_NAMESPACE,
} from "../../constructs/private/names";
import { stockStacks, stockSynthDir } from "../support/stock-synth";
import { find, isInference, KubeObj, kubeObjects, StackJson, validateKubeObject } from "../workloads/support";

const ENVIRONMENTS = ["airgapped", "dev", "prod", "staging"];
const WORKLOAD_KINDS = ["Deployment", "StatefulSet", "DaemonSet"];

let stacks: Record<string, StackJson>;

beforeAll(() => {
  stacks = stockStacks<StackJson>();
});

const objectsOf = (env: string): KubeObj[] => kubeObjects(stacks[`${env}-workloads`]);
const podSpec = (w: KubeObj): any => w.spec.template.spec;
const containers = (w: KubeObj): any[] => [...(podSpec(w).initContainers ?? []), ...podSpec(w).containers];

test("every environment has a data, an infra and a workloads stack (12 in all)", () => {
  expect(Object.keys(stacks).sort()).toEqual(ENVIRONMENTS.flatMap((e) => [`${e}-data`, `${e}-infra`, `${e}-workloads`]).sort());
});

describe.each(ENVIRONMENTS)("%s-workloads", (env) => {
  test("every Kubernetes object validates against the Kubernetes schema (kubernetes-models, offline)", () => {
    const objects = objectsOf(env);
    expect(objects.length).toBeGreaterThan(20);
    for (const obj of objects) {
      expect(() => validateKubeObject(obj)).not.toThrow();
    }
  });

  test("the Kubernetes provider is configured from the infra stack's outputs, with a short-lived EKS token", () => {
    const provider = stacks[`${env}-workloads`].provider!.kubernetes[0] as { host: string; cluster_ca_certificate: string; exec: { command: string; args: string[] }[] };
    const remote = `data.terraform_remote_state.cross-stack-reference-input-${env}-infra.outputs`;
    expect(provider.host).toContain(remote);
    expect(provider.cluster_ca_certificate).toMatch(new RegExp(`^\\$\\{base64decode\\(${remote.replace(/\./g, "\\.")}`));
    expect(provider.exec[0].command).toBe("aws");
    expect(provider.exec[0].args.slice(0, 3)).toEqual(["eks", "get-token", "--cluster-name"]);
    expect(provider.exec[0].args[3]).toContain(remote);
    expect(JSON.stringify(provider)).not.toMatch(/token"\s*:|password|client_key/);
  });

  test("no engine uses a GPU with the image the environments run (prod's Whisper is cpu: the image has no CUDA runtime): no GPU request, the system pool; probes and a strict security context", () => {
    const inference = find(objectsOf(env), "Deployment").filter(isInference);
    expect(inference.length).toBeGreaterThanOrEqual(1);
    for (const d of inference) {
      const spec = podSpec(d);
      const server = spec.containers[0];
      const term = spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0];
      // Where a GPU is requested instead (an engine on cuda or auto) test/stacks/gpu-placement.test.ts shows the request, toleration and pool.
      expect(containers(d).some((c) => c.resources?.limits?.[GPU_RESOURCE] || c.resources?.requests?.[GPU_RESOURCE])).toBe(false);
      expect(spec.tolerations).toBeUndefined();
      expect(term).toEqual({ key: "voice-selfhost.io/node-role", operator: "In", values: ["system"] });
      expect(server.startupProbe.httpGet.path).toBe("/health/live");
      expect(server.readinessProbe.httpGet.path).toBe("/health/ready");
      expect(server.livenessProbe.httpGet.path).toBe("/health/live");
      expect(server.securityContext).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(spec.securityContext.seccompProfile).toEqual({ type: "RuntimeDefault" });
      expect(spec.volumes).toContainEqual(expect.objectContaining({ name: "tmp", emptyDir: expect.any(Object) }));
      // Graceful termination outlasts the longest request plus the preStop drain, which outlasts the NLB's detection.
      const config = find(objectsOf(env), "ConfigMap", `${d.metadata.name}-config`)[0].data!;
      const longest = Number(config.REQUEST_TIMEOUT_MS) / 1000;
      const preStop = server.lifecycle.preStop.sleep.seconds;
      expect(preStop).toBeGreaterThan(TARGET_HEALTH_CHECK.intervalSeconds * TARGET_HEALTH_CHECK.unhealthyThreshold);
      expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(longest + preStop);
      expect(Number(config.SHUTDOWN_GRACE_MS) / 1000).toBeGreaterThan(longest);
      expect(d.spec.minReadySeconds).toBeGreaterThan(TARGET_HEALTH_CHECK.intervalSeconds * TARGET_HEALTH_CHECK.healthyThreshold);
    }
  });

  test("every workload in our namespace runs as non-root with the restricted security context; the GPU agents' exception is confined to their namespace", () => {
    const workloads = objectsOf(env).filter((o) => WORKLOAD_KINDS.includes(o.kind));
    const ours = workloads.filter((w) => w.metadata.namespace === WORKLOAD_NAMESPACE);
    expect(ours.length).toBeGreaterThanOrEqual(2);
    for (const w of ours) {
      expect(podSpec(w).securityContext.runAsNonRoot).toBe(true);
      expect(podSpec(w).automountServiceAccountToken).toBe(false);
      for (const c of containers(w)) {
        expect(c.securityContext.runAsNonRoot).toBe(true);
        expect(c.securityContext.runAsUser).toBeGreaterThan(0);
        expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
      }
    }
    const namespaces = Object.fromEntries(find(objectsOf(env), "Namespace").map((n) => [n.metadata.name, n.metadata.labels!]));
    expect(namespaces[WORKLOAD_NAMESPACE]["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    // The cluster autoscaler's namespace is restricted too (test/workloads/cluster-autoscaler.test.ts); only the GPU agents' is an exception.
    expect(namespaces[CLUSTER_AUTOSCALER_NAMESPACE]["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    // The metrics namespace (Prometheus, prometheus-adapter) is restricted too.
    expect(namespaces.monitoring["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    const others = workloads.filter((w) => ![WORKLOAD_NAMESPACE, CLUSTER_AUTOSCALER_NAMESPACE, "monitoring"].includes(w.metadata.namespace!));
    expect(others.length).toBeGreaterThan(0);
    for (const w of others) {
      const ns = namespaces[w.metadata.namespace!];
      expect(ns["pod-security.kubernetes.io/enforce"]).toBe("privileged");
      expect(ns["pod-security.kubernetes.io/warn"]).toBe("restricted");
      expect(find(objectsOf(env), "Namespace", w.metadata.namespace)[0].metadata.annotations!["voice-selfhost.io/pod-security-exception"]).toMatch(/host path/);
    }
  });

  test("NetworkPolicy (default deny in every namespace), PDB and HPA are present", () => {
    const objects = objectsOf(env);
    for (const ns of find(objects, "Namespace")) {
      const deny = find(objects, "NetworkPolicy", "default-deny").find((p) => p.metadata.namespace === ns.metadata.name);
      expect(deny?.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    }
    const deployments = find(objects, "Deployment").filter(isInference);
    for (const d of deployments) {
      const labels = d.spec.template.metadata.labels;
      const selects = (o: KubeObj) => Object.entries(o.spec.selector.matchLabels).every(([k, v]) => labels[k] === v);
      expect(find(objects, "PodDisruptionBudget").filter(selects)).toHaveLength(1);
      const hpa = find(objects, "HorizontalPodAutoscaler", d.metadata.name)[0];
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: d.metadata.name });
      expect(hpa.spec.metrics.map((m: { type: string }) => m.type)).toEqual(["Pods", "Pods", "Resource"]);
      expect(hpa.spec.metrics.slice(0, 2).map((m: any) => [m.pods.metric.name, m.pods.metric.selector.matchLabels.lane])).toEqual([
        ["inference_load_ratio", "live"],
        ["inference_load_ratio", "batch"],
      ]);
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      // Something in the stack serves those metrics: prometheus-adapter's APIService (VS-K8S-012).
      expect(find(objects, "APIService", "v1beta1.custom.metrics.k8s.io")).toHaveLength(1);
    }
  });

  test("the inference Service serves the load balancer's fixed node ports, keeping client addresses; no controller provisions a load balancer for it", () => {
    const service = find(objectsOf(env), "Service", "inference")[0];
    expect(service.spec).toMatchObject({
      type: "LoadBalancer",
      loadBalancerClass: INFERENCE_LOAD_BALANCER_CLASS,
      externalTrafficPolicy: "Local",
      healthCheckNodePort: INFERENCE_HEALTH_CHECK_NODE_PORTS.inference,
    });
    expect(service.spec.ports[0].nodePort).toBe(INFERENCE_NODE_PORT);
    // The drain rule reads the load balancer's health check from here (the infra stack's target groups use the same one).
    expect(JSON.parse(service.metadata.annotations![TARGET_HEALTH_CHECK_ANNOTATION])).toEqual(TARGET_HEALTH_CHECK);
  });

  test("the license proxy is a StatefulSet on encrypted, retained persistent storage, reachable only from inference pods", () => {
    const objects = objectsOf(env);
    const proxy = find(objects, "StatefulSet", "license-proxy")[0];
    const claim = proxy.spec.volumeClaimTemplates[0];
    expect(proxy.spec.template.spec.containers[0].volumeMounts).toContainEqual({ name: claim.metadata.name, mountPath: "/var/lib/license-proxy" });
    const sc = find(objects, "StorageClass", claim.spec.storageClassName)[0] as KubeObj & { parameters: Record<string, string>; reclaimPolicy: string; provisioner: string };
    expect(sc.provisioner).toBe("ebs.csi.aws.com");
    expect(sc.parameters).toMatchObject({ type: "gp3", encrypted: "true" });
    expect(sc.reclaimPolicy).toBe("Retain");
    const ingress = find(objects, "NetworkPolicy", "license-proxy-ingress")[0];
    expect(ingress.spec.ingress[0].from).toEqual([{ podSelector: { matchLabels: { "app.kubernetes.io/component": "inference" } } }]);
  });

  test("the license proxy's egress: only the license server on 443 online, nothing offline", () => {
    const envFile = JSON.parse(fs.readFileSync(path.resolve(__dirname, `../../environments/${env}.json`), "utf8")) as { license: { mode: string; serverCidrs?: string[] } };
    const egress = find(objectsOf(env), "NetworkPolicy").filter((p) => p.spec.podSelector.matchLabels?.["app.kubernetes.io/component"] === "license-proxy" && p.spec.policyTypes.includes("Egress"));
    if (envFile.license.mode === "offline") {
      expect(egress).toHaveLength(0);
      expect(find(objectsOf(env), "StatefulSet", "license-proxy")[0].spec.template.spec.containers[0].env).toContainEqual(expect.objectContaining({ name: "LICENSE_FILE" }));
    } else {
      expect(egress).toHaveLength(1);
      expect(egress[0].spec.egress).toEqual([{ to: envFile.license.serverCidrs!.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ protocol: "TCP", port: 443 }] }]);
    }
  });

  test("API keys and license material come from Secrets created out of band; none is a Terraform input", () => {
    const json = JSON.stringify(stacks[`${env}-workloads`]);
    expect(find(objectsOf(env), "Secret")).toHaveLength(0);
    expect(json).not.toContain("kubernetes_secret");
    expect(Object.keys(stacks[`${env}-workloads`]).filter((k) => k === "variable")).toHaveLength(0);
    const d = find(objectsOf(env), "Deployment").filter(isInference)[0];
    expect(podSpec(d).volumes).toContainEqual({ name: "api-keys", secret: { secretName: "inference-api-keys", defaultMode: 0o440 } });
  });
});

describe("airgapped-workloads images", () => {
  test("every image is one of the environment's private ECR repositories, and every one is in the mirror manifest", () => {
    const workloads = stacks["airgapped-workloads"];
    const infra = stacks["airgapped-infra"];
    const manifest = JSON.parse(fs.readFileSync(path.join(stockSynthDir(), "stacks", "airgapped-infra", "mirror-manifest.json"), "utf8")) as {
      images: { repository: string; tag: string; digest: string | null }[];
    };
    const images = kubeObjects(workloads)
      .filter((o) => WORKLOAD_KINDS.includes(o.kind))
      .flatMap((w) => containers(w).map((c) => c.image as string));
    expect(images.length).toBeGreaterThanOrEqual(4);
    const repositories = infra.resource!.aws_ecr_repository;
    for (const image of images) {
      // `${data.terraform_remote_state...outputs.<output>}` followed by `:tag` or `@digest`.
      const m = /^\$\{data\.terraform_remote_state\.cross-stack-reference-input-airgapped-infra\.outputs\.([^}]+)\}([:@].+)$/.exec(image);
      expect(m).not.toBeNull();
      const [, outputName, pin] = m!;
      // The output is the repository_url of an aws_ecr_repository in airgapped-infra.
      const outputValue = String(infra.output![outputName].value);
      const ref = /^\$\{aws_ecr_repository\.([^.]+)\.repository_url\}$/.exec(outputValue);
      expect(ref).not.toBeNull();
      const repositoryName = repositories[ref![1]].name as string;
      const entry = manifest.images.find((e) => e.repository === repositoryName);
      expect(entry).toBeDefined();
      expect(pin === `:${entry!.tag}` || pin === `@${entry!.digest}`).toBe(true);
    }
  });
});
