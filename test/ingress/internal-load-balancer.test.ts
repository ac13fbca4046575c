import { InternalLoadBalancer, LoadBalancedService, TLS_POLICY } from "../../constructs/ingress";
import { KUBE_PROXY_HEALTH_PATH, TARGET_HEALTH_CHECK } from "../../constructs/shared";
import { INFERENCE_HEALTH_CHECK_NODE_PORTS, INFERENCE_NODE_PORT } from "../../constructs/private/names";

const HEALTH = INFERENCE_HEALTH_CHECK_NODE_PORTS.inference;
import { fakeNetwork, only, policyStatements, resources, synthJson, testStack } from "../support/synth";

const required = {
  network: fakeNetwork(),
  allowedClientCidrs: ["10.0.0.0/8", "172.16.0.0/12"],
  targets: { autoScalingGroupNames: ["asg-gpu-a", "asg-gpu-b"], nodeSecurityGroupId: "sg-nodes" },
  certificateArn: "arn:aws:acm:eu-west-1:111122223333:certificate/abc",
};

function synthLb(props: Partial<typeof required & { plainTcp: boolean; services: LoadBalancedService[] }> = {}) {
  const { stack } = testStack();
  new InternalLoadBalancer(stack, "lb", { ...required, ...props });
  return synthJson(stack);
}

describe("InternalLoadBalancer with only the required props", () => {
  const json = synthLb();

  test("an internal NLB in the private subnets, with its own security group and deletion protection", () => {
    expect(only(json, "aws_lb")).toMatchObject({
      internal: true,
      load_balancer_type: "network",
      subnets: required.network.privateSubnetIds,
      security_groups: [expect.stringContaining("aws_security_group.lb_sg")],
      enable_deletion_protection: true,
      access_logs: { enabled: true, prefix: "nlb", bucket: expect.stringContaining("aws_s3_bucket.") },
    });
  });

  test("clients only from the configured CIDRs on 443; the nodes admit the NodePort and kube-proxy's health-check port from the NLB only", () => {
    const ingress = Object.values(resources(json, "aws_vpc_security_group_ingress_rule")) as Record<string, any>[];
    const clients = ingress.filter((r) => r.cidr_ipv4);
    expect(clients.map((r) => [r.cidr_ipv4, r.from_port, r.to_port])).toEqual([
      ["10.0.0.0/8", 443, 443],
      ["172.16.0.0/12", 443, 443],
    ]);
    const lbGroup = expect.stringContaining("aws_security_group.lb_sg");
    const nodeRules = ingress.filter((r) => r.security_group_id === "sg-nodes");
    expect(nodeRules).toHaveLength(2);
    expect(nodeRules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ from_port: INFERENCE_NODE_PORT, to_port: INFERENCE_NODE_PORT, referenced_security_group_id: lbGroup }),
        expect.objectContaining({ from_port: HEALTH, to_port: HEALTH, referenced_security_group_id: lbGroup }),
      ]),
    );
    const egress = Object.values(resources(json, "aws_vpc_security_group_egress_rule")) as Record<string, any>[];
    expect(egress.map((r) => [r.referenced_security_group_id, r.from_port, r.to_port])).toEqual(
      expect.arrayContaining([
        ["sg-nodes", INFERENCE_NODE_PORT, INFERENCE_NODE_PORT],
        ["sg-nodes", HEALTH, HEALTH],
      ]),
    );
    expect(egress).toHaveLength(2);
    expect(JSON.stringify(json)).not.toContain("0.0.0.0/0");
  });

  test("TLS with the ACM certificate and a TLS 1.3 policy, re-encrypted to instance targets on the NodePort, health checks plain HTTP to kube-proxy", () => {
    expect(only(json, "aws_lb_listener")).toMatchObject({ protocol: "TLS", port: 443, certificate_arn: required.certificateArn, ssl_policy: TLS_POLICY });
    expect(only(json, "aws_lb_target_group")).toMatchObject({
      target_type: "instance",
      // A TLS target group: the NLB opens a TLS connection of its own to the pod (the audio never crosses the VPC in clear).
      protocol: "TLS",
      port: INFERENCE_NODE_PORT,
      preserve_client_ip: "true",
      // kube-proxy's answer for the Service on the node (shared/drain.ts), at the drain timing's interval and thresholds.
      health_check: {
        protocol: "HTTP",
        path: KUBE_PROXY_HEALTH_PATH,
        port: String(HEALTH),
        interval: TARGET_HEALTH_CHECK.intervalSeconds,
        unhealthy_threshold: TARGET_HEALTH_CHECK.unhealthyThreshold,
        healthy_threshold: TARGET_HEALTH_CHECK.healthyThreshold,
      },
      // Connections to a draining node are not reset: live sessions end with their pod.
      target_health_state: [{ enable_unhealthy_connection_termination: false }],
    });
    const attachments = Object.values(resources(json, "aws_autoscaling_attachment")).map((a) => a.autoscaling_group_name);
    expect(attachments).toEqual(["asg-gpu-a", "asg-gpu-b"]);
  });

  test("access logs land in a TLS-only, encrypted, versioned bucket the log delivery service may write", () => {
    expect(only(json, "aws_s3_bucket_public_access_block")).toMatchObject({ block_public_policy: true, restrict_public_buckets: true });
    expect(only(json, "aws_s3_bucket_versioning").versioning_configuration).toEqual({ status: "Enabled" });
    expect(only(json, "aws_s3_bucket_server_side_encryption_configuration").rule).toEqual([
      expect.objectContaining({ apply_server_side_encryption_by_default: expect.objectContaining({ sse_algorithm: "aws:kms" }) }),
    ]);
    const policy = policyStatements(json, only(json, "aws_s3_bucket_policy").policy);
    expect(policy.DenyInsecureTransport).toMatchObject({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } });
    expect(policy.LogDeliveryWrite).toMatchObject({
      Effect: "Allow",
      Principal: { Service: "delivery.logs.amazonaws.com" },
      Condition: { StringEquals: { "s3:x-amz-acl": "bucket-owner-full-control" } },
    });
    expect(policyStatements(json, only(json, "aws_kms_key_policy").policy).LogDeliveryEncrypts).toMatchObject({ Principal: { Service: "delivery.logs.amazonaws.com" } });
    expect(only(json, "aws_s3_bucket_lifecycle_configuration").rule).toEqual([expect.objectContaining({ expiration: [{ days: 365 }] })]);
  });
});

describe("InternalLoadBalancer options and refusals", () => {
  test("plain TCP only when asked: no certificate, no TLS policy, no access log bucket", () => {
    const json = synthLb({ plainTcp: true, certificateArn: undefined, services: [{ name: "inference", port: 8080, nodePort: INFERENCE_NODE_PORT, healthCheckNodePort: HEALTH }] });
    const listener = only(json, "aws_lb_listener");
    expect(listener).toMatchObject({ protocol: "TCP", port: 8080 });
    expect(listener.ssl_policy).toBeUndefined();
    expect(only(json, "aws_lb_target_group").protocol).toBe("TCP");
    expect(resources(json, "aws_s3_bucket")).toEqual({});
    expect(only(json, "aws_lb").access_logs).toBeUndefined();
  });

  test("refuses no certificate, an open CIDR, and no targets", () => {
    const { stack } = testStack();
    expect(() => new InternalLoadBalancer(stack, "a", { ...required, certificateArn: undefined })).toThrow(/certificateArn: expected an ACM certificate ARN/);
    expect(() => new InternalLoadBalancer(stack, "b", { ...required, allowedClientCidrs: ["0.0.0.0/0"] })).toThrow(/allowedClientCidrs\[0\]: expected a CIDR narrower than 0\.0\.0\.0\/0: it would admit anyone/);
    expect(() => new InternalLoadBalancer(stack, "c", { ...required, targets: { ...required.targets, autoScalingGroupNames: [] } })).toThrow(
      /autoScalingGroupNames: expected at least one/,
    );
  });

  test("several Services: a listener, target group, health check and node rule each, every ASG attached to every group", () => {
    const services = [
      { name: "stt", port: 443, nodePort: 30080, healthCheckNodePort: 30090, unhealthyDrainingSeconds: 345 },
      { name: "tts", port: 8443, nodePort: 30081, healthCheckNodePort: 30091, unhealthyDrainingSeconds: 100 },
    ];
    const json = synthLb({ services });
    const groups = resources(json, "aws_lb_target_group") as Record<string, Record<string, any>>;
    const listeners = Object.values(resources(json, "aws_lb_listener")) as Record<string, any>[];
    expect(listeners.map((l) => l.port)).toEqual([443, 8443]);
    for (const { name, port, nodePort, healthCheckNodePort, unhealthyDrainingSeconds } of services) {
      const listener = listeners.find((l) => l.port === port)!;
      expect(listener).toMatchObject({ protocol: "TLS", ssl_policy: TLS_POLICY });
      const group = groups[/aws_lb_target_group\.([^.]+)\.arn/.exec(listener.default_action[0].target_group_arn)![1]];
      expect(group).toMatchObject({
        port: nodePort,
        tags: { "voice-selfhost:service": name },
        health_check: { path: KUBE_PROXY_HEALTH_PATH, port: String(healthCheckNodePort) },
        target_health_state: [{ enable_unhealthy_connection_termination: false, unhealthy_draining_interval: unhealthyDrainingSeconds }],
      });
      const attached = Object.values(resources(json, "aws_autoscaling_attachment")).filter((a) => String(a.lb_target_group_arn).includes(`${listener.default_action[0].target_group_arn.split(".")[1]}.`));
      expect(attached.map((a) => a.autoscaling_group_name)).toEqual(required.targets.autoScalingGroupNames);
    }
    const ingress = Object.values(resources(json, "aws_vpc_security_group_ingress_rule")) as Record<string, any>[];
    expect(ingress.filter((r) => r.security_group_id === "sg-nodes").map((r) => r.from_port).sort()).toEqual([30080, 30081, 30090, 30091]);
    expect(ingress.filter((r) => r.cidr_ipv4).map((r) => r.from_port)).toEqual([443, 443, 8443, 8443]);
    expect(Object.values(resources(json, "aws_vpc_security_group_egress_rule")).map((r) => r.from_port).sort()).toEqual([30080, 30081, 30090, 30091]);
  });

  test("refuses Services that would collide or fall outside the NodePort range", () => {
    const { stack } = testStack();
    const lb = (id: string, services: LoadBalancedService[]) => () => new InternalLoadBalancer(stack, id, { ...required, services });
    expect(lb("a", [])).toThrow(/services: expected at least one Service/);
    const svc = (name: string, port: number, nodePort: number, healthCheckNodePort = nodePort + 10): LoadBalancedService => ({ name, port, nodePort, healthCheckNodePort });
    expect(lb("b", [svc("stt", 443, 8080, 30090)])).toThrow(/services\[0\]\.nodePort: expected 30000-32767/);
    expect(lb("c", [svc("stt", 443, 30080), svc("tts", 443, 30081)])).toThrow(/services\[1\]\.port: 443 is used by another Service/);
    expect(lb("d", [svc("stt", 443, 30080), svc("tts", 8443, 30080, 30091)])).toThrow(/services\[1\]\.nodePort: 30080 is already a node port/);
    expect(lb("e", [svc("STT", 443, 30080)])).toThrow(/services\[0\]\.name: expected lowercase/);
    // kube-proxy's health-check port is a node port too: it may not be the Service's own, nor another's.
    expect(lb("f", [svc("stt", 443, 30080, 30080)])).toThrow(/services\[0\]\.healthCheckNodePort: 30080 is already a node port/);
    expect(lb("g", [svc("stt", 443, 30080, 30090), svc("tts", 8443, 30090, 30091)])).toThrow(/services\[1\]\.nodePort: 30090 is already a node port/);
    expect(lb("h", [svc("stt", 443, 30080, 80)])).toThrow(/services\[0\]\.healthCheckNodePort: expected 30000-32767/);
  });
});

describe("what the pods receive", () => {
  test("the client CIDRs, their addresses preserved, with the cluster's VPC carved out; over TLS, or TCP with plainTcp", () => {
    const { stack } = testStack();
    const lb = new InternalLoadBalancer(stack, "lb", { ...required, allowedClientCidrs: ["10.0.0.0/8", "172.16.0.0/12", "192.168.10.0/24"] });
    expect(lb.forwarding).toEqual({
      clients: [
        { cidr: "10.0.0.0/8", except: ["10.40.0.0/16"] },
        { cidr: "172.16.0.0/12", except: [] },
        { cidr: "192.168.10.0/24", except: [] },
      ],
      clusterNetworkCidrs: ["10.40.0.0/16"],
      targetProtocol: "TLS",
    });
    expect(only(synthJson(stack), "aws_lb_target_group").preserve_client_ip).toBe("true");
    const plain = new InternalLoadBalancer(stack, "plain", { ...required, plainTcp: true, certificateArn: undefined });
    expect(plain.forwarding.targetProtocol).toBe("TCP");
  });

  test("refuses a client CIDR inside the cluster's VPC: its addresses are nodes and pods, and a target calling itself through the NLB hairpins", () => {
    const { stack } = testStack();
    for (const [id, cidr] of [["a", "10.40.64.0/20"], ["b", "10.40.0.0/16"]]) {
      expect(() => new InternalLoadBalancer(stack, id, { ...required, allowedClientCidrs: ["192.168.0.0/24", cidr] })).toThrow(
        new RegExp(`allowedClientCidrs\\[1\\]: ${cidr.replace(/[./]/g, "\\$&")} lies within the cluster's network 10\\.40\\.0\\.0/16: .*name in-cluster callers`),
      );
    }
  });
});
