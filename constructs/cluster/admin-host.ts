import { EksAccessEntry } from "@cdktf/provider-aws/lib/eks-access-entry";
import { EksAccessPolicyAssociation } from "@cdktf/provider-aws/lib/eks-access-policy-association";
import { IamInstanceProfile } from "@cdktf/provider-aws/lib/iam-instance-profile";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";
import { IamRolePolicyAttachment } from "@cdktf/provider-aws/lib/iam-role-policy-attachment";
import { Instance } from "@cdktf/provider-aws/lib/instance";
import { LaunchTemplate } from "@cdktf/provider-aws/lib/launch-template";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";
import { Construct } from "constructs";
import { NetworkRefs } from "../network/types";
import { managedPolicyArn, policyDocument, trustPolicy } from "../shared/arn";
import { EncryptionKey } from "../shared/encryption-key";
import { recordPolicyAcknowledgement } from "../private/policy-acknowledgement";
import { rolePrefix } from "./private/pools";

/** The Amazon Linux 2023 AMI, resolved by EC2 at launch from AWS's public parameter (no data source, so plans need no credentials). */
export const ADMIN_HOST_IMAGE = "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";

/** Props of AdminHost. */
export interface AdminHostProps {
  /** The cluster it reaches: its literal name, its name and ARN as references, and its security group. */
  readonly cluster: { readonly name: string; readonly clusterName: string; readonly arn: string; readonly clusterSecurityGroupId: string };
  /** Its private subnets (the host goes in the first) and the VPC CIDR, where the API and the SSM endpoints answer. */
  readonly network: Pick<NetworkRefs, "vpcId" | "vpcCidr" | "privateSubnetIds">;
  /** Default t3.small. */
  readonly instanceType?: string;
  readonly tags?: Record<string, string>;
}

/**
 * A small EC2 instance in a private subnet that operators reach through AWS Systems Manager Session
 * Manager, over the VPC's ssm, ssmmessages and ec2messages endpoints: no inbound port, no public
 * address, no internet. Its purpose is a path to the private Kubernetes API from a network that has
 * no other route to it (an air-gapped VPC): an SSM port-forwarding session
 * (`AWS-StartPortForwardingSessionToRemoteHost`) through it to the cluster endpoint on 443 lets
 * Terraform and kubectl run where the operator is, as the operator's own admin role.
 *
 * What it holds: IMDSv2 only (hop limit 1), an encrypted root volume, a role with
 * AmazonSSMManagedInstanceCore and `eks:DescribeCluster` on this cluster only, and an access entry
 * with the read-only AmazonEKSViewPolicy (no Secrets), so a session on the host itself can look but
 * never change anything. Its security group sends only HTTPS into the VPC (the SSM endpoints and
 * the API); the cluster security group admits it on 443.
 */
export class AdminHost extends Construct {
  readonly instance: Instance;
  readonly role: IamRole;
  readonly securityGroup: SecurityGroup;
  /** For `aws ssm start-session --target <instanceId>`. */
  readonly instanceId: string;
  /**
   * Encrypts its root volume, and nothing else: whoever runs Terraform launches the instance, and EBS
   * creates the volume's data key as that caller, so the key administrators use this key through EC2
   * (letAdministratorsLaunchVolumes). A key of its own keeps that use off the keys that protect data.
   */
  readonly encryptionKey: EncryptionKey;

  constructor(scope: Construct, id: string, props: AdminHostProps) {
    super(scope, id);
    const { cluster, network } = props;
    const tags = { ...props.tags, Name: `${cluster.name}-admin-host` };
    this.encryptionKey = new EncryptionKey(this, "key", { description: `Root volume of the admin host of EKS cluster ${cluster.name}`, tags });
    this.encryptionKey.letAdministratorsLaunchVolumes();
    recordPolicyAcknowledgement(
      this.encryptionKey,
      "VS-KMS-002",
      "the key administrators launch the admin host, and EBS creates its root volume's data key as the caller; they use this key through EC2 only, and it encrypts the admin host's OS volume alone",
    );

    this.role = new IamRole(this, "role", {
      namePrefix: rolePrefix(cluster.name, "admin-host"),
      description: `Session Manager admin host of EKS cluster ${cluster.name}`,
      assumeRolePolicy: trustPolicy("ec2.amazonaws.com"),
      tags,
    });
    new IamRolePolicyAttachment(this, "ssm-core", { role: this.role.name, policyArn: managedPolicyArn(this.role.arn, "AmazonSSMManagedInstanceCore") });
    new IamRolePolicy(this, "describe-cluster", {
      role: this.role.id,
      name: "describe-this-cluster",
      policy: policyDocument([{ Sid: "DescribeThisCluster", Effect: "Allow", Action: "eks:DescribeCluster", Resource: cluster.arn }]),
    });
    const profile = new IamInstanceProfile(this, "profile", { namePrefix: rolePrefix(cluster.name, "admin-host"), role: this.role.name, tags });

    const entry = new EksAccessEntry(this, "access", { clusterName: cluster.clusterName, principalArn: this.role.arn, type: "STANDARD", tags });
    new EksAccessPolicyAssociation(this, "view", {
      clusterName: cluster.clusterName,
      principalArn: entry.principalArn,
      policyArn: `arn:${this.encryptionKey.partition}:eks::aws:cluster-access-policy/AmazonEKSViewPolicy`,
      accessScope: { type: "cluster" },
    });

    this.securityGroup = new SecurityGroup(this, "sg", {
      vpcId: network.vpcId,
      namePrefix: `${cluster.name}-admin-host-`,
      description: "Admin host: no inbound; HTTPS to the VPC only (SSM endpoints, the Kubernetes API)",
      tags,
    });
    new VpcSecurityGroupEgressRule(this, "https-to-vpc", {
      securityGroupId: this.securityGroup.id,
      description: "SSM endpoints and the private Kubernetes API",
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      cidrIpv4: network.vpcCidr,
    });
    new VpcSecurityGroupIngressRule(this, "api-from-host", {
      securityGroupId: cluster.clusterSecurityGroupId,
      description: "Kubernetes API from the Session Manager admin host",
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      referencedSecurityGroupId: this.securityGroup.id,
    });

    const launchTemplate = new LaunchTemplate(this, "launch-template", {
      namePrefix: `${cluster.name}-admin-host-`,
      description: `Session Manager admin host of EKS cluster ${cluster.name}`,
      imageId: ADMIN_HOST_IMAGE,
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1, instanceMetadataTags: "disabled" },
      blockDeviceMappings: [
        { deviceName: "/dev/xvda", ebs: { volumeSize: 20, volumeType: "gp3", encrypted: "true", kmsKeyId: this.encryptionKey.arn, deleteOnTermination: "true" } },
      ],
      tagSpecifications: ["instance", "volume", "network-interface"].map((resourceType) => ({ resourceType, tags })),
      tags,
      dependsOn: [this.encryptionKey.policy],
    });
    this.instance = new Instance(this, "instance", {
      instanceType: props.instanceType ?? "t3.small",
      launchTemplate: { id: launchTemplate.id, version: `${launchTemplate.latestVersion}` },
      subnetId: network.privateSubnetIds[0],
      vpcSecurityGroupIds: [this.securityGroup.id],
      iamInstanceProfile: profile.name,
      associatePublicIpAddress: false,
      // The same as the launch template's, on the instance itself too, where the policy rules and the review read them.
      metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
      tags,
    });
    this.instanceId = this.instance.id;
  }
}
