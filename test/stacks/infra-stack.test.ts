/** What every `<env>-infra` stack must hold once the cluster, registry, model bucket and load balancer are wired in. */
import * as path from "path";
import { Testing } from "cdktf";
import { loadEnvironments } from "../../app";
import { IMAGES } from "../../constructs/registry";
import { modelImagesOf } from "../../constructs/workloads/settings";
import { buildApp } from "../../main";
import { InfraStack } from "../../stacks/infra-stack";
import { stockStack } from "../support/stock-synth";
import { policyStatements, resources, Synthesized } from "../support/synth";

const environments = loadEnvironments(path.join(__dirname, "..", "..", "environments"));
const app = buildApp({ environments, outdir: Testing.app().outdir });
// Typed properties from the app; the JSON from the stock synth.
const stacks = environments.map((env) => {
  const stack = app.node.findChild(`${env.name}-infra`) as InfraStack;
  return { env, stack, json: stockStack<Synthesized>(`${env.name}-infra`) };
});

describe.each(stacks.map((s) => [s.env.name, s] as const))("%s-infra", (_name, { env, stack, json }) => {
  const all = <T = Record<string, any>>(type: string) => Object.values(resources(json, type)) as T[];

  test("one private EKS cluster with encrypted secrets and audit logs", () => {
    const clusters = all("aws_eks_cluster");
    expect(clusters).toHaveLength(1);
    expect(clusters[0].vpc_config).toMatchObject({ endpoint_private_access: true, endpoint_public_access: false });
    expect(clusters[0].encryption_config.resources).toEqual(["secrets"]);
    expect(clusters[0].enabled_cluster_log_types).toEqual(expect.arrayContaining(["api", "audit", "authenticator"]));
    expect(clusters[0].name).toBe(`voice-selfhost-${env.name}`);
  });

  test("GPU node groups with an NVIDIA AMI and the GPU taint, one per configured pool", () => {
    const gpu = all("aws_eks_node_group").filter((g) => g.taint);
    expect(gpu).toHaveLength(env.nodePools.gpu.length);
    for (const group of gpu) {
      expect(group.ami_type).toMatch(/^(AL2023_x86_64_NVIDIA|BOTTLEROCKET_x86_64_NVIDIA)$/);
      expect(group.taint).toEqual([{ key: "nvidia.com/gpu", value: "true", effect: "NO_SCHEDULE" }]);
    }
  });

  test("every launch template requires IMDSv2 and encrypts its volumes", () => {
    const templates = all("aws_launch_template");
    // Each GPU pool, the system pool's group in each zone, and the admin host's where the environment has one.
    expect(templates).toHaveLength(env.nodePools.gpu.length + env.availabilityZones.length + (env.cluster.adminHost.enabled ? 1 : 0));
    for (const lt of templates) {
      expect(lt.metadata_options).toMatchObject({ http_tokens: "required", http_put_response_hop_limit: 1 });
      for (const device of lt.block_device_mappings) expect(device.ebs).toMatchObject({ encrypted: "true", kms_key_id: expect.any(String) });
    }
  });

  test("ECR repositories are immutable, scanned and KMS-encrypted, one per image; no pull-through cache creates others", () => {
    const repos = all("aws_ecr_repository");
    // One per image, and one per model image the environment runs (source "registry").
    expect(repos).toHaveLength(Object.keys(IMAGES).length + Object.keys(modelImagesOf(env.workloads.models)).length);
    for (const repo of repos) {
      expect(repo).toMatchObject({ image_tag_mutability: "IMMUTABLE", image_scanning_configuration: { scan_on_push: true } });
      expect(repo.encryption_configuration[0].encryption_type).toBe("KMS");
      expect(repo.name.startsWith(`voice-selfhost/${env.name}/`)).toBe(true);
    }
    expect(all("aws_ecr_pull_through_cache_rule")).toEqual([]);
  });

  test("the load balancer is internal, TLS unless the environment says plain TCP, deletion-protected as configured", () => {
    const [lb] = all("aws_lb");
    expect(lb).toMatchObject({ internal: true, load_balancer_type: "network", enable_deletion_protection: env.deletionProtection });
    expect(all("aws_lb_listener")[0].protocol).toBe(env.ingress.plainTcp ? "TCP" : "TLS");
    // The inference services run on the system pool in every environment (no engine uses a GPU): one attachment per zone's group.
    expect(all("aws_autoscaling_attachment")).toHaveLength(env.availabilityZones.length);
  });

  test("the inference pods have no AWS identity; the model bucket is read only by the mirror role that builds model images", () => {
    expect(all("aws_eks_pod_identity_association").filter((a) => a.namespace === "voice-selfhost")).toEqual([]);
    const modelPolicy = all("aws_s3_bucket_policy").map((p) => String(p.policy)).find((p) => p.includes("ModelBuildersRead"));
    if (env.registry.mirrorRoleArn) expect(modelPolicy).toContain(env.registry.mirrorRoleArn);
    else expect(modelPolicy).toBeUndefined();
  });

  test("the trust and data perimeter: scoped Pod Identity trust, key administrators apart from users, endpoint policies, Inspector and the mirror past the pull deny", () => {
    const trusts = all("aws_iam_role")
      .map((role) => policyStatements(json, role.assume_role_policy).ServiceAssumesRole)
      .filter((st) => (st.Principal as { Service?: string }).Service === "pods.eks.amazonaws.com");
    // Roles bound by an association of their own, and those an add-on binds (the EBS CSI driver, the CloudWatch agent).
    const addonBound = all("aws_eks_addon").flatMap((a) => (a.pod_identity_association as { service_account: string }[] | undefined) ?? []);
    const associations = all("aws_eks_pod_identity_association");
    expect(addonBound.map((a) => a.service_account).sort()).toEqual(["cloudwatch-agent", "ebs-csi-controller-sa"]);
    expect(trusts).toHaveLength(associations.length + addonBound.length);
    for (const association of associations) {
      expect(trusts.map((st) => st.Condition)).toContainEqual({
        StringEquals: {
          "aws:RequestTag/eks-cluster-name": `voice-selfhost-${env.name}`,
          "aws:RequestTag/kubernetes-namespace": association.namespace,
          "aws:RequestTag/kubernetes-service-account": association.service_account,
        },
      });
    }

    const keyPolicies = all("aws_kms_key_policy").map((p) => policyStatements(json, p.policy));
    expect(keyPolicies).toHaveLength(all("aws_kms_key").length);
    for (const policy of keyPolicies) {
      expect(policy.AccountAdministers).toBeUndefined();
      expect(policy.AccountRecoversKeyPolicy.Action).toEqual(["kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:DescribeKey"]);
      expect(policy.KeyAdministrators.Principal).toEqual({ AWS: env.keys!.administrators });
      expect(policy.KeyUsers.Principal).toEqual({ AWS: env.keys!.users });
    }

    const scope = env.perimeter.organizationId ? { "aws:PrincipalOrgID": env.perimeter.organizationId, "aws:ResourceOrgID": env.perimeter.organizationId } : expect.objectContaining({ "aws:PrincipalAccount": expect.any(String) });
    const endpoints = all("aws_vpc_endpoint");
    const withPolicy = endpoints.filter((e) => e.policy !== undefined);
    expect(endpoints.length - withPolicy.length).toBe(3);
    for (const endpoint of withPolicy) {
      const policy = policyStatements(json, endpoint.policy);
      if (endpoint.vpc_endpoint_type === "Interface") expect(policy.OwnPrincipalsToOwnResources.Condition).toEqual({ StringEquals: scope });
      else expect(Object.keys(policy)).toEqual(env.mode === "connected" ? ["EcrImageLayers", "OwnPrincipalsToOwnResources"] : ["EcrImageLayers"]);
    }

    const repositoryPolicy = policyStatements(json, all("aws_ecr_repository_policy")[0].policy);
    expect(repositoryPolicy.DenyPullsByOthers.Condition!.ArnNotEquals["aws:PrincipalArn"]).toEqual([
      expect.stringContaining("aws_iam_role.cluster_node-role"),
      env.registry.mirrorRoleArn,
      expect.stringMatching(/:role\/aws-service-role\/inspector2\.amazonaws\.com\/AWSServiceRoleForAmazonInspector2$/),
    ]);
  });

  test("outputs and typed properties for the workloads stack", () => {
    expect(Object.keys(json.output ?? {})).toEqual(
      expect.arrayContaining([
        "cluster_name",
        "cluster_endpoint",
        "cluster_certificate_authority_data",
        "node_role_arn",
        "repository_urls",
        "target_group_arns",
        "model_bucket_name",
      ]),
    );
    expect(stack.registry.images.inferenceServer.tag).toMatch(/^\d+\.\d+\.\d+$/);
    expect(stack.loadBalancer.services).toEqual([expect.objectContaining({ name: "inference", port: env.ingress.port, nodePort: 30080, healthCheckNodePort: 30090 })]);
    expect(stack.cluster.gpuPoolSpecs.map((p) => p.name)).toEqual(env.nodePools.gpu.map((p) => p.name));
  });
});
