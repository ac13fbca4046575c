/** Each workload construct alone, with only its required props: the secure defaults, and clear errors for bad props. */
import { App, TerraformStack, Testing } from "cdktf";
import { GpuNodeAgents } from "../../constructs/workloads/gpu-node-agents";
import { InferenceService } from "../../constructs/workloads/inference-service";
import { LicenseProxy } from "../../constructs/workloads/license-proxy";
import { Monitoring } from "../../constructs/workloads/monitoring";
import { WorkloadNamespace } from "../../constructs/workloads/namespace";
import { EncryptedStorageClass } from "../../constructs/workloads/storage-class";
import { find, KubeObj, kubeObjects, StackJson, validateKubeObject } from "./support";

const IMAGE = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/voice-selfhost/dev/inference-server:0.1.0";
const DIGEST = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/nvidia/k8s-device-plugin@sha256:" + "a".repeat(64);

function synth(build: (stack: TerraformStack) => void): KubeObj[] {
  const app: App = Testing.app();
  const stack = new TerraformStack(app, "test");
  build(stack);
  const objects = kubeObjects(JSON.parse(Testing.synth(stack)) as StackJson);
  for (const o of objects) validateKubeObject(o);
  return objects;
}

const inference = (stack: TerraformStack, extra: Partial<ConstructorParameters<typeof InferenceService>[2]> = {}) =>
  new InferenceService(stack, "inference", { image: IMAGE, licenseProxyUrl: "http://license-proxy.voice-selfhost.svc.cluster.local:3369", allowedSourceCidrs: ["10.0.0.0/8"], ...extra });

describe("the offline schema validation itself", () => {
  test("rejects an object that breaks the Kubernetes schema", () => {
    const bad = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" }, spec: { replicas: "two", selector: {}, template: {} } } as unknown as KubeObj;
    expect(() => validateKubeObject(bad)).toThrow(/replicas/);
    expect(() => validateKubeObject({ apiVersion: "v1", kind: "NoSuchKind", metadata: { name: "x" } })).toThrow();
  });
});

describe("InferenceService", () => {
  test("with only required props (built-in CPU engines): no GPU, the system pool; probes, restricted context, HPA on each lane's load ratio with a CPU fallback, PDB", () => {
    const objects = synth((s) => inference(s));
    const d = find(objects, "Deployment", "inference")[0];
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    expect(c.resources.limits["nvidia.com/gpu"]).toBeUndefined();
    expect(pod.tolerations).toBeUndefined();
    expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]).toEqual({
      key: "voice-selfhost.io/node-role",
      operator: "In",
      values: ["system"],
    });
    expect(pod.topologySpreadConstraints[0].topologyKey).toBe("topology.kubernetes.io/zone");
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
    expect(d.metadata.namespace).toBe("voice-selfhost");
    expect(d.spec.replicas).toBeUndefined();
    const hpa = find(objects, "HorizontalPodAutoscaler")[0].spec;
    // The load ratio of each engine lane against 0.8, and CPU as the fallback while the custom metrics are unavailable.
    for (const [i, lane] of ["live", "batch"].entries()) {
      expect(hpa.metrics[i]).toEqual({ type: "Pods", pods: { metric: { name: "inference_load_ratio", selector: { matchLabels: { lane } } }, target: { type: "AverageValue", averageValue: "800m" } } });
    }
    expect(hpa.metrics[2].resource).toEqual({ name: "cpu", target: { type: "Utilization", averageUtilization: 70 } });
    expect(find(objects, "PodDisruptionBudget")[0].spec.maxUnavailable).toBe(1);
    expect(pod.initContainers).toBeUndefined();
    // Built-in engines: no model directory, and no egress but to the license proxy.
    const config = find(objects, "ConfigMap", "inference-config")[0].data!;
    expect(config).toMatchObject({ STT_ENGINE: "pocketsphinx", TTS_ENGINE: "flite", PORT: "8080", WORKERS: "2", API_KEYS_FILE: "/var/run/secrets/voice-selfhost/api-keys/keys" });
    expect(config.STT_MODEL_DIR).toBeUndefined();
    expect(find(objects, "NetworkPolicy", "inference-egress")[0].spec.egress).toHaveLength(1);
  });

  test("a sherpa model set to auto: one GPU per pod, the GPU toleration, any GPU node; the providers reach the server's config", () => {
    const objects = synth((s) => inference(s, { models: { stt: { engine: "sherpa-whisper", provider: "auto", location: "/opt/models/whisper-small" } } }));
    const pod = find(objects, "Deployment", "inference")[0].spec.template.spec;
    expect(pod.containers[0].resources).toMatchObject({ requests: { "nvidia.com/gpu": "1" }, limits: { "nvidia.com/gpu": "1" } });
    expect(pod.tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Equal", value: "true", effect: "NoSchedule" }]);
    expect(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0]).toEqual({ key: "voice-selfhost.io/node-role", operator: "In", values: ["gpu"] });
    expect(find(objects, "ConfigMap", "inference-config")[0].data).toMatchObject({ STT_ENGINE: "sherpa-whisper", STT_PROVIDER: "auto", TTS_PROVIDER: "cpu" });
  });

  test("models from S3: init containers sync through the gateway endpoint with Pod Identity, and only those pods get 443 egress to public addresses", () => {
    const objects = synth((s) =>
      inference(s, {
        models: { source: "s3", stt: { engine: "sherpa-whisper", location: "models/whisper-small" }, tts: { engine: "flite" } },
        modelSync: { image: "111122223333.dkr.ecr.eu-west-1.amazonaws.com/aws-cli:2.17.0", bucket: "voice-models-dev", region: "eu-west-1" },
      }),
    );
    const pod = find(objects, "Deployment")[0].spec.template.spec;
    expect(pod.initContainers).toHaveLength(1);
    expect(pod.initContainers[0].command).toEqual(["aws", "s3", "sync", "--only-show-errors", "--no-progress", "s3://voice-models-dev/models/whisper-small/", "/models/stt"]);
    expect(pod.initContainers[0].securityContext.runAsNonRoot).toBe(true);
    expect(find(objects, "ConfigMap")[0].data!.STT_MODEL_DIR).toBe("/models/stt");
    const egress = find(objects, "NetworkPolicy", "inference-egress")[0].spec.egress;
    expect(egress).toContainEqual({ to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"] } }], ports: [{ protocol: "TCP", port: 443 }] });
  });

  test("termination waits longer than the drain and the longest request (shared/drain.ts); a config change rolls the pods", () => {
    const a = synth((s) => inference(s, { settings: { requestTimeoutSeconds: 120 } }));
    const b = synth((s) => inference(s, { settings: { requestTimeoutSeconds: 60 } }));
    const spec = find(a, "Deployment")[0].spec.template;
    // NLB detection 10 s x 2 + 10 s margin = 30 s preStop; then 125 s shutdown grace; then a 5 s margin.
    expect(spec.spec.containers[0].lifecycle.preStop.sleep.seconds).toBe(30);
    expect(spec.spec.terminationGracePeriodSeconds).toBe(30 + 125 + 5);
    expect(find(a, "ConfigMap")[0].data!.SHUTDOWN_GRACE_MS).toBe("125000");
    expect(spec.metadata.annotations["voice-selfhost.io/config-hash"]).not.toBe(find(b, "Deployment")[0].spec.template.metadata.annotations["voice-selfhost.io/config-hash"]);
  });

  test("the API keys (or teams document) come from the Secret the settings name, mounted as a directory so rotations reach the pods", () => {
    const mounted = (objects: KubeObj[]) => {
      const pod = find(objects, "Deployment")[0].spec.template.spec;
      const volume = pod.volumes.find((v: { name: string }) => v.name === "api-keys");
      const mount = pod.containers[0].volumeMounts.find((m: { name: string }) => m.name === "api-keys");
      return { secret: volume.secret.secretName, subPath: mount.subPath, path: mount.mountPath };
    };
    expect(mounted(synth((s) => inference(s)))).toEqual({ secret: "inference-api-keys", subPath: undefined, path: "/var/run/secrets/voice-selfhost/api-keys" });
    expect(mounted(synth((s) => inference(s, { settings: { apiKeysSecret: "voice-teams" } }))).secret).toBe("voice-teams");
  });

  test.each([
    [{ settings: { apiKeysSecret: "Team Keys" } }, /settings\.apiKeysSecret: expected a Kubernetes Secret name/],
    [{ image: IMAGE.replace(":0.1.0", ":latest") }, /pinned by digest or immutable tag/],
    [{ image: IMAGE.replace(":0.1.0", "") }, /pinned by digest or immutable tag/],
    [{ settings: { gpusPerPod: 0 } }, /settings\.gpusPerPod: expected at least 1 GPU per pod/],
    [{ settings: { resources: { requests: { memory: "16Gi" }, limits: { memory: "8Gi" } } } }, /settings\.resources\.limits\.memory: expected a memory limit >= the request \(16Gi\)/],
    [{ settings: { replicas: { min: 4, max: 2 } } }, /settings\.replicas\.max: expected replicas\.max >= replicas\.min/],
    [{ models: { source: "s3", stt: { engine: "sherpa-whisper", location: "m/w" } } }, /modelSync: expected the aws-cli image/],
    [{ models: { stt: { engine: "sherpa-whisper" } } }, /models\.stt\.location: expected the model's directory in the image/],
    [{ allowedSourceCidrs: [] }, /allowedSourceCidrs: expected at least one CIDR/],
    [{ settings: { pool: "gpu-a10g" } }, /settings\.pool: "gpu-a10g" is a GPU pool, but no engine of this service uses a GPU \(pocketsphinx: cpu, flite: cpu\)/],
    [{ models: { tts: { engine: "flite", provider: "auto" } } }, /models\.tts\.provider: expected "cpu": flite runs on the CPU only/],
    [{ settings: { cpuEnginesOnGpu: { reason: "just because" } } }, /settings\.cpuEnginesOnGpu\.reason: expected a reason of at least 20 characters/],
  ])("bad props fail with a message naming the field (%#)", (extra, message) => {
    expect(() => synth((s) => inference(s, extra as Partial<ConstructorParameters<typeof InferenceService>[2]>))).toThrow(message);
  });
});

describe("LicenseProxy", () => {
  test("offline, with only required props: 2 replicas on retained encrypted volumes, no egress policy, license file from a Secret", () => {
    const objects = synth((s) => new LicenseProxy(s, "proxy", { image: IMAGE, license: { mode: "offline" } }));
    const set = find(objects, "StatefulSet")[0];
    expect(set.spec.replicas).toBe(2);
    expect(set.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: "Retain", whenScaled: "Retain" });
    expect(set.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("10Gi");
    const env = Object.fromEntries(set.spec.template.spec.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env).toEqual({
      PORT: "3369",
      STATE_DIR: "/var/lib/license-proxy",
      LICENSE_PUBLIC_KEY_FILE: "/var/run/secrets/voice-selfhost/license-public-key/public-key.pem",
      LICENSE_FILE: "/var/run/secrets/voice-selfhost/license-file/license.jwt",
    });
    expect(set.spec.template.spec.containers[0].command).toEqual(["node", "dist/license-proxy/main.js"]);
    expect(find(objects, "NetworkPolicy").filter((p) => p.spec.policyTypes.includes("Egress"))).toHaveLength(0);
    expect(find(objects, "StorageClass")[0]).toMatchObject({ parameters: { type: "gp3", encrypted: "true" }, volumeBindingMode: "WaitForFirstConsumer" });
  });

  test("online: the key from a Secret, egress only to the license server's CIDRs on 443; a KMS key reaches the StorageClass", () => {
    const kmsKeyArn = "arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000001";
    const objects = synth((s) => {
      const storageClass = new EncryptedStorageClass(s, "storage", { kmsKeyArn });
      new LicenseProxy(s, "proxy", { image: IMAGE, storageClass, license: { mode: "online", serverUrl: "https://license.example", serverCidrs: ["203.0.113.0/24"] } });
    });
    expect(find(objects, "StorageClass")[0]).toMatchObject({ parameters: { kmsKeyId: kmsKeyArn } });
    const env = find(objects, "StatefulSet")[0].spec.template.spec.containers[0].env.map((e: { name: string }) => e.name);
    expect(env).toEqual(expect.arrayContaining(["LICENSE_SERVER_URL", "LICENSE_KEY_FILE"]));
    expect(find(objects, "NetworkPolicy", "license-proxy-egress")[0].spec.egress).toEqual([{ to: [{ ipBlock: { cidr: "203.0.113.0/24" } }], ports: [{ protocol: "TCP", port: 443 }] }]);
  });

  test.each([
    [{ mode: "online", serverUrl: "http://license.example", serverCidrs: ["203.0.113.0/24"] }, /license\.serverUrl: expected an https:\/\/ URL/],
    [{ mode: "online", serverUrl: "https://license.example", serverCidrs: [] }, /license\.serverCidrs: expected the license server's CIDRs/],
  ])("bad license settings fail clearly (%#)", (license, message) => {
    expect(() => synth((s) => new LicenseProxy(s, "proxy", { image: IMAGE, license: license as never }))).toThrow(message);
  });
});

describe("WorkloadNamespace and GpuNodeAgents", () => {
  test("a namespace enforces restricted and denies all traffic but DNS by default", () => {
    const objects = synth((s) => new WorkloadNamespace(s, "ns"));
    expect(find(objects, "Namespace")[0].metadata.labels).toMatchObject({ "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/audit": "restricted" });
    expect(find(objects, "NetworkPolicy", "default-deny")[0].spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
    expect(find(objects, "NetworkPolicy", "allow-dns")[0].spec.egress[0].ports).toEqual([
      { protocol: "UDP", port: 53 },
      { protocol: "TCP", port: 53 },
    ]);
  });

  test("a lower Pod Security level needs a stated reason", () => {
    expect(() => synth((s) => new WorkloadNamespace(s, "ns", { name: "x", enforce: "privileged" }))).toThrow(/exceptionReason must say why/);
  });

  test("the device plugin and DCGM exporter tolerate the GPU taint and run on GPU nodes only, in their own namespace", () => {
    const objects = synth((s) => new GpuNodeAgents(s, "gpu", { devicePluginImage: DIGEST, dcgmExporterImage: DIGEST.replace("k8s-device-plugin", "dcgm-exporter"), devicePluginPools: ["gpu-a10g"] }));
    const sets = find(objects, "DaemonSet");
    expect(sets.map((d) => d.metadata.name).sort()).toEqual(["dcgm-exporter", "nvidia-device-plugin"]);
    for (const ds of sets) {
      expect(ds.metadata.namespace).toBe("voice-selfhost-gpu");
      expect(ds.spec.template.spec.tolerations).toEqual([{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }]);
      expect(ds.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation).toBe(false);
    }
    expect(find(objects, "DaemonSet", "nvidia-device-plugin")[0].spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values).toEqual([
      "gpu-a10g",
    ]);
    expect(() => synth((s) => new GpuNodeAgents(s, "gpu", { devicePluginImage: "nvcr.io/nvidia/k8s-device-plugin", dcgmExporterImage: DIGEST }))).toThrow(/devicePluginImage: expected an image pinned/);
  });
});

describe("Monitoring", () => {
  test("scrape job, alert rules and a Grafana dashboard in ConfigMaps, on the metric names the programs export", () => {
    const objects = synth((s) => new Monitoring(s, "monitoring"));
    const dashboard = find(objects, "ConfigMap", "voice-selfhost-dashboard")[0];
    expect(dashboard.metadata.labels!.grafana_dashboard).toBe("1");
    const panels = (JSON.parse(dashboard.data!["voice-selfhost.json"]) as { panels: { title: string }[] }).panels.map((p) => p.title).join(" | ");
    for (const topic of [/Latency/, /Real-time factor/, /Throughput/, /Errors/, /GPU utilisation/, /License state/, /Teams/, /Requests by team/]) expect(panels).toMatch(topic);
    const rules = JSON.parse(find(objects, "ConfigMap", "voice-selfhost-alert-rules")[0].data!["voice-selfhost.rules.yaml"]) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const alerts = Object.fromEntries(rules.groups.flatMap((g) => g.rules).map((r) => [r.alert, r.expr]));
    expect(Object.keys(alerts).sort()).toEqual(
      [
        "ApiKeysReloadFailed",
        "InferenceErrorRateHigh",
        "InferenceGpuPodsPending",
        "InferenceP95LatencyHigh",
        "InferenceP99LatencyHigh",
        "InferenceQueueSaturated",
        "LicenseExpired",
        "LicenseExpiringSoon",
        "LicenseGraceEnding",
        "LicenseGracePeriodActive",
        "LicenseProxySpoolUnwritable",
        "UsageSpoolGrowing",
      ].sort(),
    );
    expect(alerts.LicenseGracePeriodActive).toContain("license_proxy_grace_period_active");
    expect(alerts.UsageSpoolGrowing).toContain("license_proxy_spool_depth");
    expect(alerts.LicenseProxySpoolUnwritable).toContain("license_proxy_spool_writable");
    expect(alerts.InferenceP99LatencyHigh).toContain("inference_http_request_duration_seconds_bucket");
    const scrape = JSON.parse(find(objects, "ConfigMap", "voice-selfhost-scrape-config")[0].data!["voice-selfhost-scrape.yaml"]) as { scrape_configs: { kubernetes_sd_configs: unknown[] }[] };
    expect(scrape.scrape_configs[0].kubernetes_sd_configs).toEqual([{ role: "pod", namespaces: { names: ["voice-selfhost", "voice-selfhost-gpu"] } }]);
  });
});
