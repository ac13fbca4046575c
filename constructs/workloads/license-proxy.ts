import type { IService } from "kubernetes-models/v1/Service";
import type { IServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { IIoK8sApiCoreV1EnvVar } from "kubernetes-models/v1/EnvVar";
import type { IIoK8sApiCoreV1Volume } from "kubernetes-models/v1/Volume";
import type { IIoK8sApiCoreV1VolumeMount } from "kubernetes-models/v1/VolumeMount";
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Manifest } from "@cdktf/provider-kubernetes/lib/manifest";
import { Construct } from "constructs";
import { LICENSE_PROXY_SERVICE_ACCOUNT, NODE_LABELS } from "../private/names";
import { parseCidr } from "../private/cidr";
import { parseProps } from "../private/validate";
import { IMAGE_COMMANDS, LICENSE_PROXY_HEALTH, LICENSE_PROXY_PORT, METRICS_PATH, PROXY_ENV, PROXY_STATE_DIR, SECRETS } from "./contract";
import { checkImagePinned } from "../private/image-ref";
import { COMPONENT_LABEL, objectLabels, selectorLabels } from "./private/labels";
import { NamespaceRef, namespaced, namespaceRef, networkPolicy, scraperIngress } from "./namespace";
import { restrictedContainerSecurityContext, restrictedPodSecurityContext, TMP_MOUNT, TMP_VOLUME } from "./private/pod-security";
import { LicenseProxySettings, LicenseProxySettingsInput, licenseProxySettingsSchema } from "./settings";
import { EncryptedStorageClass } from "./storage-class";

/** Online (with the license server's URL and addresses) or offline (a mounted license file). */
export type LicenseProxyMode =
  /** Leases from the vendor's license server; the proxy's only egress is to `serverCidrs` on 443. */
  | { readonly mode: "online"; readonly serverUrl: string; readonly serverCidrs: string[] }
  /** An offline license file from a Secret; the proxy has no egress at all. */
  | { readonly mode: "offline" };

/** Props of LicenseProxy: the image and the license mode are required. */
export interface LicenseProxyProps {
  /** Default `license-proxy`. */
  readonly name?: string;
  /** Default: the existing namespace `voice-selfhost`. */
  readonly namespace?: NamespaceRef | string;
  /** The inference image (the proxy is its second entry point), pinned by digest or immutable tag. */
  readonly image: string;
  readonly license: LicenseProxyMode;
  /** Replicas, volume size, resources; defaults: 2 replicas, 10Gi each. */
  readonly settings?: LicenseProxySettingsInput;
  /** Where the volumes come from. Default: a new encrypted gp3 class with the account's EBS key. */
  readonly storageClass?: EncryptedStorageClass;
  /** The namespace of the Prometheus allowed to scrape the proxies. Default `monitoring`. */
  readonly metricsScraperNamespace?: string;
}

/**
 * The license proxy: a StatefulSet, so each replica keeps its lease and usage spool on its own
 * encrypted EBS volume across restarts and rescheduling.
 *
 * Why more than one replica works: each replica holds its own lease (renewed with the same license
 * key) and its own spool. A usage record reaches exactly one replica (the Service picks one), is
 * spooled there once and carries a unique id, so two spools never double-count; the license server
 * deduplicates retried uploads by id. In offline mode every replica reads the same license file and
 * `license-proxy export-usage` must run in each pod (README). Volumes are retained when the set is
 * deleted or scaled down, so no spooled record is lost with them.
 *
 * Reachable only from inference pods (and the metrics scraper); egress only to the license server's
 * CIDRs on 443 in online mode, none in offline mode.
 */
export class LicenseProxy extends Construct {
  readonly name: string;
  readonly settings: LicenseProxySettings;
  readonly statefulSet: Manifest;
  /** The in-cluster URL inference servers use (`LICENSE_PROXY_URL`). */
  readonly url: string;

  constructor(scope: Construct, id: string, props: LicenseProxyProps) {
    super(scope, id);
    const where = this.node.path;
    this.name = props.name ?? "license-proxy";
    this.settings = parseProps(licenseProxySettingsSchema, props.settings ?? {}, `${where} settings`);
    checkImagePinned(props.image, `${where} image`);
    const license = props.license;
    if (license.mode === "online") {
      if (!/^https:\/\//.test(license.serverUrl)) throw new Error(`${where} license.serverUrl: expected an https:// URL, found "${license.serverUrl}"`);
      if (license.serverCidrs.length === 0) throw new Error(`${where} license.serverCidrs: expected the license server's CIDRs (the proxy's only egress)`);
      license.serverCidrs.forEach((c) => {
        if (parseCidr(c) === undefined) throw new Error(`${where} license.serverCidrs: expected IPv4 CIDRs, found "${c}"`);
      });
    }

    const ns = namespaceRef(props.namespace);
    const labels = objectLabels(this.name, "license-proxy");
    const selector = selectorLabels(this.name, "license-proxy");
    const storageClass = props.storageClass ?? new EncryptedStorageClass(this, "storage");
    this.url = `http://${this.name}.${ns.name}.svc.cluster.local:${LICENSE_PROXY_PORT}`;

    const sa: IServiceAccount = {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: LICENSE_PROXY_SERVICE_ACCOUNT, labels },
      automountServiceAccountToken: false,
    };
    namespaced(this, "service-account", ns, sa);

    const secretFile = (secret: (typeof SECRETS)[keyof typeof SECRETS]) => `${secret.mountPath}/${secret.key}`;
    const env: IIoK8sApiCoreV1EnvVar[] = [
      { name: PROXY_ENV.port, value: String(LICENSE_PROXY_PORT) },
      { name: PROXY_ENV.stateDir, value: PROXY_STATE_DIR },
      { name: PROXY_ENV.publicKeyFile, value: secretFile(SECRETS.publicKey) },
    ];
    const secrets: (typeof SECRETS)[keyof typeof SECRETS][] = [SECRETS.publicKey];
    if (license.mode === "online") {
      env.push({ name: PROXY_ENV.serverUrl, value: license.serverUrl }, { name: PROXY_ENV.keyFile, value: secretFile(SECRETS.licenseKey) });
      secrets.push(SECRETS.licenseKey);
    } else {
      env.push({ name: PROXY_ENV.licenseFile, value: secretFile(SECRETS.licenseFile) });
      secrets.push(SECRETS.licenseFile);
    }
    // Whole-directory Secret mounts (no subPath), so a renewed offline license reaches the running proxy.
    const volumes: IIoK8sApiCoreV1Volume[] = [TMP_VOLUME, ...secrets.map((sec) => ({ name: sec.name, secret: { secretName: sec.name, defaultMode: 0o440 } }))];
    const mounts: IIoK8sApiCoreV1VolumeMount[] = [
      TMP_MOUNT,
      { name: "state", mountPath: PROXY_STATE_DIR },
      ...secrets.map((sec) => ({ name: sec.name, mountPath: sec.mountPath, readOnly: true })),
    ];

    const headless = `${this.name}-headless`;
    const probe = (periodSeconds: number, failureThreshold: number) => ({
      httpGet: { path: LICENSE_PROXY_HEALTH, port: "http" },
      periodSeconds,
      failureThreshold,
      timeoutSeconds: 3,
    });
    const statefulSet: IStatefulSet = {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: this.name, labels },
      spec: {
        serviceName: headless,
        replicas: this.settings.replicas,
        podManagementPolicy: "Parallel",
        selector: { matchLabels: selector },
        updateStrategy: { type: "RollingUpdate" },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
        template: {
          metadata: {
            labels: { ...labels },
            annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(LICENSE_PROXY_PORT), "prometheus.io/path": METRICS_PATH },
          },
          spec: {
            serviceAccountName: LICENSE_PROXY_SERVICE_ACCOUNT,
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: restrictedPodSecurityContext(),
            // The spool fsyncs each batch before acknowledging; a short grace is enough to finish one.
            terminationGracePeriodSeconds: 30,
            affinity: {
              nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                  nodeSelectorTerms: [{ matchExpressions: [{ key: NODE_LABELS.role, operator: "In", values: ["system"] }] }],
                },
              },
            },
            // Replicas in different zones, strictly: a replica's volume can only attach in its zone, so a lost zone
            // strands the replica there, and only one in another zone keeps authorizing. minDomains keeps two replicas
            // apart even while one zone has no system node yet: the system pool has a node group per zone, so the
            // autoscaler adds one where the pending replica must go (and where a rescheduled replica's volume is).
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: "topology.kubernetes.io/zone",
                whenUnsatisfiable: "DoNotSchedule",
                ...(this.settings.replicas > 1 ? { minDomains: 2 } : {}),
                labelSelector: { matchLabels: selector },
              },
              { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: selector } },
            ],
            containers: [
              {
                name: "license-proxy",
                image: props.image,
                command: [...IMAGE_COMMANDS.licenseProxy],
                ports: [{ name: "http", containerPort: LICENSE_PROXY_PORT, protocol: "TCP" }],
                env,
                resources: {
                  requests: { cpu: this.settings.resources.requests.cpu, memory: this.settings.resources.requests.memory },
                  limits: { cpu: this.settings.resources.limits.cpu, memory: this.settings.resources.limits.memory },
                },
                startupProbe: probe(2, 30),
                readinessProbe: probe(5, 2),
                livenessProbe: probe(10, 3),
                securityContext: restrictedContainerSecurityContext(),
                volumeMounts: mounts,
              },
            ],
            volumes,
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: "state", labels: selector },
            spec: {
              accessModes: ["ReadWriteOnce"],
              storageClassName: storageClass.name,
              resources: { requests: { storage: this.settings.storageSize } },
            },
          },
        ],
      },
    };
    // Its claims name the class: create the class first.
    this.statefulSet = namespaced(this, "stateful-set", ns, statefulSet, [storageClass.storageClass]);

    const service = (name: string, headlessService: boolean): IService => ({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, labels },
      spec: {
        type: "ClusterIP",
        ...(headlessService ? { clusterIP: "None" } : {}),
        selector,
        ports: [{ name: "http", port: LICENSE_PROXY_PORT, targetPort: "http", protocol: "TCP" }],
      },
    });
    namespaced(this, "service", ns, service(this.name, false));
    namespaced(this, "headless-service", ns, service(headless, true));

    const pdb: IPodDisruptionBudget = {
      apiVersion: "policy/v1",
      kind: "PodDisruptionBudget",
      metadata: { name: this.name, labels },
      spec: { maxUnavailable: 1, selector: { matchLabels: selector }, unhealthyPodEvictionPolicy: "AlwaysAllow" },
    };
    namespaced(this, "pdb", ns, pdb);

    networkPolicy(this, ns, `${this.name}-ingress`, {
      podSelector: { matchLabels: selector },
      policyTypes: ["Ingress"],
      ingress: [
        { from: [{ podSelector: { matchLabels: { [COMPONENT_LABEL]: "inference" } } }], ports: [{ protocol: "TCP", port: LICENSE_PROXY_PORT }] },
        scraperIngress(props.metricsScraperNamespace, LICENSE_PROXY_PORT),
      ],
    });
    if (license.mode === "online") {
      networkPolicy(this, ns, `${this.name}-egress`, {
        podSelector: { matchLabels: selector },
        policyTypes: ["Egress"],
        egress: [{ to: license.serverCidrs.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ protocol: "TCP", port: 443 }] }],
      });
    }
  }
}
