"""moto_server plus what stock moto 5.1 lacks for voice-selfhost's infra stacks.

Run inside the emulator's root filesystem: python3 moto_extensions.py -H 127.0.0.1 -p PORT.
Every gap is one entry below, declared with the Terraform resource types it serves and why it is
needed; the server counts each entry's uses and serves them at /moto-api/voice-selfhost/workarounds,
so a run reports exactly which resources needed which workaround. An entry emulates an API moto
lacks or fixes a response moto gives in a shape the AWS provider rejects; each refuses what AWS
refuses, so a configuration error still fails the apply.
"""

import base64
import datetime
import json
import os
import re
import sys
import threading
import uuid
from collections import OrderedDict
from urllib.parse import unquote

from moto.core.responses import BaseResponse

WORKAROUNDS = OrderedDict()  # name -> {"resourceTypes", "why", "uses"}
ADDED = {}  # (service, action) -> (name, handler(response) -> (status, headers, body))
FIXED = {}  # (service, action) -> [(name, fixer(response, status, headers, body) -> (status, headers, body))]
_LOCK = threading.Lock()
_STORES = {}  # (account, region, kind) -> dict


def workaround(name, resource_types, why):
    WORKAROUNDS[name] = {"resourceTypes": list(resource_types), "why": why, "uses": 0}


def used(name):
    with _LOCK:
        WORKAROUNDS[name]["uses"] += 1


def adds(name, service, *actions):
    def register(handler):
        for action in actions:
            ADDED[(service, action)] = (name, handler)
        return handler

    return register


def fixes(name, service, *actions):
    def register(fixer):
        for action in actions:
            FIXED.setdefault((service, action), []).append((name, fixer))
        return fixer

    return register


def store(resp, kind):
    return _STORES.setdefault((resp.current_account, resp.region, kind), OrderedDict())


class AwsError(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def json_response(body, status=200):
    return status, {"Content-Type": "application/json"}, json.dumps(body)


def json_error(err):
    # rest-json and json protocols both read the error code from this header.
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": err.code}
    return err.status, headers, json.dumps({"__type": err.code, "message": err.message})


def epoch(value):
    """moto writes ISO-8601 strings where the AWS APIs (and the Go SDK) expect epoch seconds."""
    if isinstance(value, str):
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=datetime.timezone.utc).timestamp()
    return value


def now():
    return datetime.datetime.now(datetime.timezone.utc).timestamp()


def body_json(resp):
    return json.loads(resp.body or "{}")


def _call_action(self):
    key = (self.service_name, self._get_action())
    if key in ADDED:
        name, handler = ADDED[key]
        used(name)
        try:
            return handler(self)
        except AwsError as err:
            return json_error(err)
    status, headers, body = _moto_call_action(self)
    # Only successful answers are reshaped: moto's errors reach the provider as they are.
    for name, fixer in FIXED.get(key, []) if status == 200 else []:
        used(name)
        try:
            status, headers, body = fixer(self, status, headers, body)
        except AwsError as err:
            return json_error(err)
    return status, headers, body


_moto_call_action = BaseResponse.call_action
BaseResponse.call_action = _call_action


# ---------------------------------------------------------------- EC2


def _ec2(resp):
    from moto.ec2.models import ec2_backends

    return ec2_backends[resp.current_account][resp.region]


workaround(
    "ec2-security-group-rules",
    ["aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule"],
    "moto's DescribeSecurityGroups merges same-port rules into the first one (which then answers for both), and "
    "DescribeSecurityGroupRules drops the description of a rule that names a security group; both fixed",
)


def _patch_security_groups():
    import copy

    import moto.ec2.responses.security_groups as sg_responses
    from moto.ec2.models.security_groups import SecurityGroup

    moto_flattened = SecurityGroup._flattened_rules

    def flattened_rules(self, rules):
        # moto merges into the rule objects themselves; merge into copies, as a read must change nothing.
        copies = []
        for rule in rules:
            clone = copy.copy(rule)
            clone.ip_ranges, clone.source_groups, clone.prefix_list_ids = list(rule.ip_ranges), list(rule.source_groups), list(rule.prefix_list_ids)
            copies.append(clone)
        if any(len(r.ip_ranges) + len(r.source_groups) + len(r.prefix_list_ids) for r in rules):
            used("ec2-security-group-rules")
        return moto_flattened(self, copies)

    SecurityGroup._flattened_rules = flattened_rules
    # A rule naming a security group (or prefix list) keeps its description in that entry.
    template = sg_responses.DESCRIBE_SECURITY_GROUP_RULES_RESPONSE
    marker = "{% if rule.prefix_list_ids | length > 0 %}<prefixListId>"
    assert template.count(marker) == 1, "moto's DescribeSecurityGroupRules template changed: review this fix"
    sg_responses.DESCRIBE_SECURITY_GROUP_RULES_RESPONSE = template.replace(
        marker,
        "{% set named = (rule.source_groups or rule.prefix_list_ids)[0] if (rule.source_groups or rule.prefix_list_ids) else {} %}"
        "{% if named.get('Description') %}<description>{{ named['Description'] }}</description>{% endif %}" + marker,
    )


_patch_security_groups()


workaround(
    "ec2-deletes",
    ["aws_nat_gateway", "aws_vpc", "aws_instance"],
    "moto keeps a deleted NAT gateway's network interface, a deleted VPC's default network ACL and the network interface "
    "an instance was launched with (it reads the request's DeleteOnTermination=true as false); all removed, as AWS removes them",
)


@fixes("ec2-deletes", "ec2", "RunInstances")
def delete_launch_interfaces_on_termination(resp, status, headers, body):
    ec2 = _ec2(resp)
    if str(resp._get_param("NetworkInterface.1.DeleteOnTermination", "true")).lower() == "true" and not resp._get_param("NetworkInterface.1.NetworkInterfaceId"):
        for instance_id in re.findall(r"<instanceId>(i-[0-9a-f]+)</instanceId>", body if isinstance(body, str) else body.decode("utf-8")):
            for nic in ec2.get_instance(instance_id).nics.values():
                nic.delete_on_termination = True
    return status, headers, body


@fixes("ec2-deletes", "ec2", "DeleteNatGateway")
def delete_nat_gateway_interface(resp, status, headers, body):
    gateway = _ec2(resp).nat_gateways.get(resp._get_param("NatGatewayId"))
    if gateway is not None and gateway._eni.id in _ec2(resp).enis:
        _ec2(resp).delete_network_interface(gateway._eni.id)
    return status, headers, body


@fixes("ec2-deletes", "ec2", "DeleteVpc")
def delete_vpc_default_acl(resp, status, headers, body):
    ec2 = _ec2(resp)
    vpc_id = resp._get_param("VpcId")
    if vpc_id not in ec2.vpcs:
        for acl in [a for a in ec2.network_acls.values() if a.vpc_id == vpc_id]:
            del ec2.network_acls[acl.id]
    return status, headers, body


workaround(
    "ec2-instance-launch-template",
    ["aws_instance"],
    "moto does not tag an instance launched from a launch template with aws:ec2launchtemplate:id and :version, as EC2 does; "
    "the provider reads the instance's launch template from those tags and would plan to replace it; added",
)


workaround(
    "ec2-instance-metadata-options",
    ["aws_instance"],
    "moto keeps no instance metadata options (IMDSv2, hop limit): the provider would plan to set them again on every run; "
    "those of the request or its launch template are kept and reported, as EC2 does",
)
_METADATA_OPTIONS = {}  # instance id -> {"httpTokens": ..., ...}
_METADATA_DEFAULTS = {"httpTokens": "optional", "httpPutResponseHopLimit": "1", "httpEndpoint": "enabled", "httpProtocolIpv6": "disabled", "instanceMetadataTags": "disabled"}


@fixes("ec2-instance-launch-template", "ec2", "RunInstances")
def tag_instance_launch_template(resp, status, headers, body):
    ec2 = _ec2(resp)
    instance_ids = re.findall(r"<instanceId>(i-[0-9a-f]+)</instanceId>", body if isinstance(body, str) else body.decode("utf-8"))
    template_id = resp._get_param("LaunchTemplate.LaunchTemplateId")
    template_name = resp._get_param("LaunchTemplate.LaunchTemplateName")
    options = dict(_METADATA_DEFAULTS)
    if template_id or template_name:
        template = ec2.describe_launch_templates(template_ids=[template_id] if template_id else None, template_names=[template_name] if template_name else None)[0]
        version = template.get_version(resp._get_param("LaunchTemplate.Version") or "$Default")
        for instance_id in instance_ids:
            ec2.tags[instance_id].update({"aws:ec2launchtemplate:id": template.id, "aws:ec2launchtemplate:version": str(version.number)})
        options.update({k[0].lower() + k[1:]: str(v) for k, v in (version.data.get("MetadataOptions") or {}).items()})
    options.update({k: str(resp._get_param(f"MetadataOptions.{k[0].upper()}{k[1:]}")) for k in _METADATA_DEFAULTS if resp._get_param(f"MetadataOptions.{k[0].upper()}{k[1:]}") is not None})
    used("ec2-instance-metadata-options")
    for instance_id in instance_ids:
        _METADATA_OPTIONS[instance_id] = options
    return status, headers, body


@fixes("ec2-instance-metadata-options", "ec2", "DescribeInstances")
def describe_instance_metadata_options(resp, status, headers, body):
    def with_options(match):
        options = _METADATA_OPTIONS.get(match.group(2))
        if not options:
            return match.group(0)
        return match.group(0) + "<metadataOptions><state>applied</state>" + "".join(f"<{k}>{v}</{k}>" for k, v in options.items()) + "</metadataOptions>"

    return status, headers, re.sub(r"(<instanceId>(i-[0-9a-f]+)</instanceId>)", with_options, body if isinstance(body, str) else body.decode("utf-8"))


workaround(
    "ec2-instance-security-groups",
    ["aws_instance"],
    "an instance launched with a network interface specification (as the provider sends when associate_public_ip_address is set) "
    "gets its security groups on that interface only in moto, and reports none of its own; EC2 reports the primary interface's",
)


def _patch_instance_groups():
    from moto.ec2.models.instances import Instance

    moto_groups = Instance.dynamic_group_list

    def dynamic_group_list(self):
        groups = moto_groups.fget(self)
        primary = self.nics.get(0)
        if not groups and primary is not None and primary.group_set:
            used("ec2-instance-security-groups")
            return list(primary.group_set)
        return groups

    Instance.dynamic_group_list = property(dynamic_group_list)


_patch_instance_groups()


workaround(
    "ec2-launch-template-tags",
    ["aws_launch_template"],
    "moto copies the launch template's own tags into its launch data as a 'launch-template' tag specification, which AWS does not allow there; removed",
)


def _patch_launch_templates():
    from moto.ec2.models.launch_templates import LaunchTemplateVersion

    moto_init = LaunchTemplateVersion.__init__

    def init(self, template, number, data, description):
        for key in ("TagSpecification", "TagSpecifications"):
            specs = data.get(key)
            if isinstance(specs, list) and any(s.get("ResourceType") == "launch-template" for s in specs):
                used("ec2-launch-template-tags")
                data[key] = [s for s in specs if s.get("ResourceType") != "launch-template"]
        moto_init(self, template, number, data, description)

    LaunchTemplateVersion.__init__ = init


_patch_launch_templates()


# ---------------------------------------------------------------- IAM

workaround(
    "iam-policy-boolean-conditions",
    ["aws_iam_role_policy"],
    "moto 5.1's policy check refuses a JSON boolean as a condition value (\"Bool\": {\"kms:GrantIsForAWSResource\": true}), "
    "which IAM accepts (moto fixed it upstream after 5.1); booleans are checked as the strings IAM reads them as",
)


def _patch_policy_conditions():
    from moto.iam.policy_validation import IAMPolicyDocumentValidator

    moto_check = IAMPolicyDocumentValidator._validate_condition_syntax

    def as_strings(value):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list):
            return [as_strings(v) for v in value]
        return value

    def validate_condition_syntax(statement):
        condition = statement.get("Condition") if isinstance(statement, dict) else None
        if isinstance(condition, dict) and any(
            isinstance(v, dict) and any(isinstance(x, bool) or (isinstance(x, list) and any(isinstance(y, bool) for y in x)) for x in v.values())
            for v in condition.values()
        ):
            used("iam-policy-boolean-conditions")
            statement = {**statement, "Condition": {k: {ck: as_strings(cv) for ck, cv in v.items()} if isinstance(v, dict) else v for k, v in condition.items()}}
        moto_check(statement)

    IAMPolicyDocumentValidator._validate_condition_syntax = staticmethod(validate_condition_syntax)


_patch_policy_conditions()


# ---------------------------------------------------------------- ECR

workaround(
    "ecr-pull-through-cache-rules",
    ["aws_ecr_pull_through_cache_rule"],
    "moto has no pull-through cache rule API; emulated with ECR's checks of the upstream registry and its credential",
)
# Upstreams ECR accepts (ECR user guide, "Sync an upstream registry"), and whether they need a Secrets Manager credential.
PULL_THROUGH_UPSTREAMS = {
    "public.ecr.aws": False,
    "registry.k8s.io": False,
    "quay.io": False,
    "registry-1.docker.io": True,
    "ghcr.io": True,
    "registry.gitlab.com": True,
}


def _pull_through_rule(resp):
    rule = store(resp, "pull-through").get(resp._get_param("ecrRepositoryPrefix"))
    if rule is None:
        raise AwsError(400, "PullThroughCacheRuleNotFoundException", "The pull-through cache rule does not exist")
    return rule


@adds("ecr-pull-through-cache-rules", "ecr", "CreatePullThroughCacheRule")
def create_pull_through_cache_rule(resp):
    prefix = resp._get_param("ecrRepositoryPrefix")
    upstream = resp._get_param("upstreamRegistryUrl")
    credential = resp._get_param("credentialArn")
    if not re.fullmatch(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*", prefix or "") or not 2 <= len(prefix) <= 30:
        raise AwsError(400, "InvalidParameterException", f"Invalid parameter at 'ecrRepositoryPrefix': '{prefix}'")
    if upstream not in PULL_THROUGH_UPSTREAMS and not re.fullmatch(r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com", upstream or ""):
        raise AwsError(400, "UnsupportedUpstreamRegistryException", f"The upstream registry {upstream} is not supported")
    if PULL_THROUGH_UPSTREAMS.get(upstream) and not credential:
        raise AwsError(400, "InvalidParameterException", f"The upstream registry {upstream} requires a credentialArn")
    rules = store(resp, "pull-through")
    if prefix in rules:
        raise AwsError(400, "PullThroughCacheRuleAlreadyExistsException", f"A pull-through cache rule with prefix {prefix} already exists")
    rule = {
        "ecrRepositoryPrefix": prefix,
        "upstreamRegistryUrl": upstream,
        "createdAt": now(),
        "registryId": resp.current_account,
        "upstreamRegistry": "ecr-public" if upstream == "public.ecr.aws" else "k8s" if upstream == "registry.k8s.io" else "quay" if upstream == "quay.io" else "other",
    }
    if credential:
        rule["credentialArn"] = credential
    rules[prefix] = rule
    return json_response(rule)


@adds("ecr-pull-through-cache-rules", "ecr", "DescribePullThroughCacheRules")
def describe_pull_through_cache_rules(resp):
    wanted = resp._get_param("ecrRepositoryPrefixes")
    rules = store(resp, "pull-through")
    if wanted:
        missing = [p for p in wanted if p not in rules]
        if missing:
            raise AwsError(400, "PullThroughCacheRuleNotFoundException", f"The pull-through cache rule {missing[0]} does not exist")
        found = [rules[p] for p in wanted]
    else:
        found = list(rules.values())
    return json_response({"pullThroughCacheRules": found})


@adds("ecr-pull-through-cache-rules", "ecr", "DeletePullThroughCacheRule")
def delete_pull_through_cache_rule(resp):
    rule = _pull_through_rule(resp)
    del store(resp, "pull-through")[rule["ecrRepositoryPrefix"]]
    return json_response(rule)


workaround(
    "ecr-lifecycle-timestamp",
    ["aws_ecr_lifecycle_policy"],
    "moto sends lastEvaluatedAt as a string; the AWS SDK expects epoch seconds",
)


@fixes("ecr-lifecycle-timestamp", "ecr", "GetLifecyclePolicy", "DeleteLifecyclePolicy")
def ecr_lifecycle_timestamp(resp, status, headers, body):
    data = json.loads(body)
    if "lastEvaluatedAt" in data:
        data["lastEvaluatedAt"] = epoch(data["lastEvaluatedAt"])
    return status, headers, json.dumps(data)


# ---------------------------------------------------------------- ELBv2

workaround(
    "elbv2-capacity-reservation",
    ["aws_lb"],
    "moto has no DescribeCapacityReservation (it answers 500); emulated as a load balancer with no reserved capacity",
)


@adds("elbv2-capacity-reservation", "elbv2", "DescribeCapacityReservation")
def describe_capacity_reservation(resp):
    from moto.elbv2.models import elbv2_backends

    arn = resp._get_param("LoadBalancerArn")
    if arn not in elbv2_backends[resp.current_account][resp.region].load_balancers:
        return 400, {}, _elb_error("LoadBalancerNotFound", f"Load balancer '{arn}' not found")
    return 200, {}, (
        '<DescribeCapacityReservationResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">'
        "<DescribeCapacityReservationResult><CapacityReservationState/></DescribeCapacityReservationResult>"
        f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
        "</DescribeCapacityReservationResponse>"
    )


def _elb_error(code, message):
    return (
        '<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/">'
        f"<Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )


workaround(
    "elbv2-target-group-protocol-version",
    ["aws_lb_target_group"],
    "moto reports a protocol version (HTTP1, or None) for TCP and TLS target groups, which AWS gives only to HTTP and HTTPS ones (the provider then warns of an invalid attribute combination); left out",
)


@fixes("elbv2-target-group-protocol-version", "elbv2", "CreateTargetGroup", "DescribeTargetGroups")
def target_group_protocol_version(resp, status, headers, body):
    body = re.sub(
        r"(<Protocol>(?!HTTPS?<)\w+</Protocol>)\s*<ProtocolVersion>[^<]*</ProtocolVersion>",
        r"\1",
        body if isinstance(body, str) else body.decode("utf-8"),
    )
    return status, headers, body


# ---------------------------------------------------------------- S3

workaround(
    "s3-lifecycle-minimum-object-size",
    ["aws_s3_bucket_lifecycle_configuration"],
    "moto drops the x-amz-transition-default-minimum-object-size header the provider waits to read back; stored and echoed",
)
_MIN_SIZE_HEADER = "x-amz-transition-default-minimum-object-size"
_MIN_SIZES = {}  # bucket -> value


def _patch_s3():
    from moto.s3.responses import S3Response

    moto_put = S3Response._bucket_response_put
    moto_get_lifecycle = S3Response.get_bucket_lifecycle

    def bucket_response_put(self, *args, **kwargs):
        result = moto_put(self, *args, **kwargs)
        if "lifecycle" in self.querystring:
            used("s3-lifecycle-minimum-object-size")
            # AWS's default for configurations written since 2024-09 (S3 user guide, "Transitioning objects").
            _MIN_SIZES[self.bucket_name] = self.headers.get(_MIN_SIZE_HEADER) or "all_storage_classes_128K"
            if isinstance(result, str):
                return 200, {_MIN_SIZE_HEADER: _MIN_SIZES[self.bucket_name]}, result
        return result

    def get_bucket_lifecycle(self):
        result = moto_get_lifecycle(self)
        if isinstance(result, str) and self.bucket_name in _MIN_SIZES:
            used("s3-lifecycle-minimum-object-size")
            return 200, {_MIN_SIZE_HEADER: _MIN_SIZES[self.bucket_name]}, result
        return result

    S3Response._bucket_response_put = bucket_response_put
    S3Response.get_bucket_lifecycle = get_bucket_lifecycle


_patch_s3()


# ---------------------------------------------------------------- EKS

EKS_PATHS = {
    "{0}/clusters/(?P<name>[^/]+)/addons$": "addons",
    "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)$": "addons",
    "{0}/clusters/(?P<name>[^/]+)/addons/(?P<addonName>[^/]+)/update$": "addons",
    "{0}/clusters/(?P<name>[^/]+)/pod-identity-associations$": "pod identity",
    "{0}/clusters/(?P<name>[^/]+)/pod-identity-associations/(?P<associationId>[^/]+)$": "pod identity",
    "{0}/clusters/(?P<name>[^/]+)/access-entries$": "access entries",
    "{0}/clusters/(?P<name>[^/]+)/access-entries/(?P<principalArn>.+)$": "access entries",
}


def _register_eks_paths():
    import moto.eks.urls as eks_urls

    for path in EKS_PATHS:
        eks_urls.url_paths[path] = eks_urls.response.dispatch


_register_eks_paths()


def _path_part(resp, pattern):
    """A label of the request path: the Go SDK escapes '/' inside a label (%2F) and the server decodes it."""
    match = re.search(pattern, unquote(resp.raw_path))
    return match.group(1) if match else None


def _eks_cluster(resp, name=None):
    from moto.eks.models import eks_backends

    name = name or _path_part(resp, r"/clusters/([^/]+)")
    cluster = eks_backends[resp.current_account][resp.region].clusters.get(name)
    if cluster is None:
        raise AwsError(404, "ResourceNotFoundException", f"No cluster found for name: {name}.")
    return cluster


def _describe(key, find):
    """A Describe* handler: the one object `find` locates, under `key`."""
    return lambda resp: json_response({key: find(resp)})


def _eks_arn(resp, kind, *parts):
    return f"arn:aws:eks:{resp.region}:{resp.current_account}:{kind}/" + "/".join(parts)


def _require_role_arn(value, field):
    if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", value or ""):
        raise AwsError(400, "InvalidParameterException", f"{field} is not a valid IAM role ARN: {value}")


# --- add-ons

workaround(
    "eks-addons",
    ["aws_eks_addon"],
    "moto has no EKS add-on API; emulated: known add-on names only, pod identity associations made as EKS makes them",
)
# Add-ons EKS publishes (EKS user guide, "Amazon EKS add-ons" and "Community add-ons"): the version
# reported when none is pinned, and the namespace EKS installs it in (where its pod identity
# associations go).
EKS_ADDONS = {
    "vpc-cni": ("v1.19.2-eksbuild.1", "kube-system"),
    "kube-proxy": ("v1.31.3-eksbuild.2", "kube-system"),
    "coredns": ("v1.11.4-eksbuild.2", "kube-system"),
    "eks-pod-identity-agent": ("v1.3.4-eksbuild.1", "kube-system"),
    "aws-ebs-csi-driver": ("v1.38.1-eksbuild.2", "kube-system"),
    "aws-efs-csi-driver": ("v2.1.4-eksbuild.1", "kube-system"),
    "snapshot-controller": ("v8.1.0-eksbuild.2", "kube-system"),
    "amazon-cloudwatch-observability": ("v3.0.0-eksbuild.1", "amazon-cloudwatch"),
    "aws-guardduty-agent": ("v1.8.1-eksbuild.2", "amazon-guardduty"),
    "aws-mountpoint-s3-csi-driver": ("v1.11.0-eksbuild.1", "kube-system"),
    "eks-node-monitoring-agent": ("v1.0.1-eksbuild.2", "kube-system"),
    # A community add-on (the version of constructs/cluster/versions.ts).
    "metrics-server": ("v0.9.0-eksbuild.6", "kube-system"),
}


def _addon_key(cluster_name, addon_name):
    return f"{cluster_name}/{addon_name}"


def _addon(resp):
    cluster = _eks_cluster(resp)
    name = _path_part(resp, r"/addons/([^/]+)")
    addon = store(resp, "addons").get(_addon_key(cluster.name, name))
    if addon is None:
        raise AwsError(404, "ResourceNotFoundException", f"No addon: {name} found in cluster: {cluster.name}")
    return addon


@adds("eks-addons", "eks", "CreateAddon")
def create_addon(resp):
    cluster = _eks_cluster(resp)
    body = body_json(resp)
    name = body.get("addonName")
    if name not in EKS_ADDONS:
        raise AwsError(400, "InvalidParameterException", f"Addon {name} specified is not supported")
    addons = store(resp, "addons")
    if _addon_key(cluster.name, name) in addons:
        raise AwsError(409, "ResourceInUseException", f"Addon already exists with name: {name} and cluster name: {cluster.name}")
    if body.get("serviceAccountRoleArn"):
        _require_role_arn(body["serviceAccountRoleArn"], "serviceAccountRoleArn")
    associations = []
    for assoc in body.get("podIdentityAssociations") or []:
        _require_role_arn(assoc.get("roleArn"), "podIdentityAssociations.roleArn")
        # EKS makes the association in the add-on's namespace, owned by the add-on.
        created = _create_pod_identity(resp, cluster, EKS_ADDONS[name][1], assoc.get("serviceAccount"), assoc["roleArn"], {}, owner=_eks_arn(resp, "addon", cluster.name, name))
        associations.append(created["associationArn"])
    created_at = now()
    addon = {
        "addonName": name,
        "clusterName": cluster.name,
        "status": "ACTIVE",
        "addonVersion": body.get("addonVersion") or EKS_ADDONS[name][0],
        "health": {"issues": []},
        "addonArn": _eks_arn(resp, "addon", cluster.name, name, str(uuid.uuid4())),
        "createdAt": created_at,
        "modifiedAt": created_at,
        "tags": body.get("tags") or {},
        "podIdentityAssociations": associations,
        "owner": "aws",
        "publisher": "eks",
    }
    for optional in ("serviceAccountRoleArn", "configurationValues"):
        if body.get(optional):
            addon[optional] = body[optional]
    addons[_addon_key(cluster.name, name)] = addon
    return json_response({"addon": addon})


adds("eks-addons", "eks", "DescribeAddon")(_describe("addon", _addon))


@adds("eks-addons", "eks", "ListAddons")
def list_addons(resp):
    cluster = _eks_cluster(resp)
    names = [a["addonName"] for a in store(resp, "addons").values() if a["clusterName"] == cluster.name]
    return json_response({"addons": names})


@adds("eks-addons", "eks", "DeleteAddon")
def delete_addon(resp):
    addon = _addon(resp)
    # Without ?preserve=true EKS removes what the add-on owns, its pod identity associations included.
    for arn in addon["podIdentityAssociations"]:
        store(resp, "pod-identity").pop(arn.rsplit("/", 1)[-1], None)
    del store(resp, "addons")[_addon_key(addon["clusterName"], addon["addonName"])]
    return json_response({"addon": addon})


# --- pod identity associations

workaround(
    "eks-pod-identity-associations",
    ["aws_eks_pod_identity_association", "aws_eks_addon"],
    "moto has no EKS Pod Identity API; emulated with EKS's uniqueness check per namespace and service account",
)


def _create_pod_identity(resp, cluster, namespace, service_account, role_arn, tags, owner=None):
    associations = store(resp, "pod-identity")
    for existing in associations.values():
        if (existing["clusterName"], existing["namespace"], existing["serviceAccount"]) == (cluster.name, namespace, service_account):
            raise AwsError(409, "ResourceInUseException", f"Association already exists: {existing['associationArn']}")
    association_id = "a-" + uuid.uuid4().hex[:17]
    created_at = now()
    association = {
        "clusterName": cluster.name,
        "namespace": namespace,
        "serviceAccount": service_account,
        "roleArn": role_arn,
        "associationArn": _eks_arn(resp, "podidentityassociation", cluster.name, association_id),
        "associationId": association_id,
        "tags": tags,
        "createdAt": created_at,
        "modifiedAt": created_at,
        "disableSessionTags": False,
    }
    if owner:
        association["ownerArn"] = owner
    associations[association_id] = association
    return association


def _pod_identity(resp):
    cluster = _eks_cluster(resp)
    association_id = _path_part(resp, r"/pod-identity-associations/([^/]+)")
    association = store(resp, "pod-identity").get(association_id)
    if association is None or association["clusterName"] != cluster.name:
        raise AwsError(404, "ResourceNotFoundException", f"Association {association_id} not found")
    return association


@adds("eks-pod-identity-associations", "eks", "CreatePodIdentityAssociation")
def create_pod_identity_association(resp):
    cluster = _eks_cluster(resp)
    body = body_json(resp)
    for field in ("namespace", "serviceAccount", "roleArn"):
        if not body.get(field):
            raise AwsError(400, "InvalidParameterException", f"{field} is required")
    _require_role_arn(body["roleArn"], "roleArn")
    created = _create_pod_identity(resp, cluster, body["namespace"], body["serviceAccount"], body["roleArn"], body.get("tags") or {})
    return json_response({"association": created})


adds("eks-pod-identity-associations", "eks", "DescribePodIdentityAssociation")(_describe("association", _pod_identity))


@adds("eks-pod-identity-associations", "eks", "ListPodIdentityAssociations")
def list_pod_identity_associations(resp):
    cluster = _eks_cluster(resp)
    summaries = [
        {k: a[k] for k in ("clusterName", "namespace", "serviceAccount", "associationArn", "associationId") if k in a}
        for a in store(resp, "pod-identity").values()
        if a["clusterName"] == cluster.name
    ]
    return json_response({"associations": summaries})


@adds("eks-pod-identity-associations", "eks", "DeletePodIdentityAssociation")
def delete_pod_identity_association(resp):
    association = _pod_identity(resp)
    if association.get("ownerArn"):
        raise AwsError(400, "InvalidRequestException", f"Association is owned by {association['ownerArn']}: delete it through its owner")
    del store(resp, "pod-identity")[association["associationId"]]
    return json_response({"association": association})


# --- access entries and access policies

workaround(
    "eks-access-entries",
    ["aws_eks_access_entry", "aws_eks_access_policy_association"],
    "moto has no EKS access entry API; emulated with EKS's checks: API authentication mode, principal ARN, the published access policies",
)
# EKS's access policies (EKS user guide, "Review access policy permissions").
EKS_ACCESS_POLICIES = {
    "AmazonEKSAdminPolicy",
    "AmazonEKSAdminViewPolicy",
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSViewPolicy",
    "AmazonEKSAutoNodePolicy",
    "AmazonEKSBlockStoragePolicy",
    "AmazonEKSComputePolicy",
    "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingPolicy",
    "AmazonEKSHybridPolicy",
}


def _access_entry_parts(resp):
    """principalArn and, for access-policy paths, the policy ARN (both may hold '/')."""
    path = unquote(resp.raw_path)
    match = re.search(r"/access-entries/(arn:.+?)(?:/access-policies(?:/(arn:.+))?)?$", path)
    if not match:
        raise AwsError(400, "InvalidParameterException", f"Invalid principalArn in {path}")
    return match.group(1), match.group(2)


def _access_entry(resp):
    cluster = _eks_cluster(resp)
    principal, _ = _access_entry_parts(resp)
    entry = store(resp, "access-entries").get(f"{cluster.name} {principal}")
    if entry is None:
        raise AwsError(404, "ResourceNotFoundException", f"The specified access entry resource is not found: {principal}")
    return entry


@adds("eks-access-entries", "eks", "CreateAccessEntry")
def create_access_entry(resp):
    cluster = _eks_cluster(resp)
    body = body_json(resp)
    mode = (CLUSTER_EXTRAS.get(cluster.arn, {}).get("accessConfig") or {}).get("authenticationMode", "CONFIG_MAP")
    if mode == "CONFIG_MAP":
        raise AwsError(400, "InvalidRequestException", "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.")
    principal = body.get("principalArn") or ""
    if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+", principal):
        raise AwsError(400, "InvalidParameterException", f"The principalArn parameter format is not valid: {principal}")
    entry_type = body.get("type") or "STANDARD"
    if entry_type not in ("STANDARD", "EC2_LINUX", "EC2_WINDOWS", "FARGATE_LINUX", "EC2", "HYBRID_LINUX"):
        raise AwsError(400, "InvalidParameterException", f"Invalid type {entry_type}")
    entries = store(resp, "access-entries")
    key = f"{cluster.name} {principal}"
    if key in entries:
        raise AwsError(409, "ResourceInUseException", f"The specified access entry resource is already in use on this cluster: {principal}")
    created_at = now()
    name = principal.rsplit("/", 1)[-1]
    entry = {
        "clusterName": cluster.name,
        "principalArn": principal,
        "kubernetesGroups": body.get("kubernetesGroups") or [],
        "accessEntryArn": _eks_arn(resp, "access-entry", cluster.name, principal.split(":")[5].split("/")[0], principal.split(":")[4], name, str(uuid.uuid4())),
        "createdAt": created_at,
        "modifiedAt": created_at,
        "tags": body.get("tags") or {},
        "username": body.get("username") or (f"arn:aws:sts::{principal.split(':')[4]}:assumed-role/{name}/{{{{SessionName}}}}" if ":role/" in principal else principal),
        "type": entry_type,
        "policies": OrderedDict(),
    }
    entries[key] = entry
    return json_response({"accessEntry": _public_entry(entry)})


def _public_entry(entry):
    return {k: v for k, v in entry.items() if k != "policies"}


adds("eks-access-entries", "eks", "DescribeAccessEntry")(_describe("accessEntry", lambda resp: _public_entry(_access_entry(resp))))


@adds("eks-access-entries", "eks", "ListAccessEntries")
def list_access_entries(resp):
    cluster = _eks_cluster(resp)
    return json_response({"accessEntries": [e["principalArn"] for e in store(resp, "access-entries").values() if e["clusterName"] == cluster.name]})


@adds("eks-access-entries", "eks", "DeleteAccessEntry")
def delete_access_entry(resp):
    entry = _access_entry(resp)
    del store(resp, "access-entries")[f"{entry['clusterName']} {entry['principalArn']}"]
    return json_response({})


@adds("eks-access-entries", "eks", "AssociateAccessPolicy")
def associate_access_policy(resp):
    entry = _access_entry(resp)
    body = body_json(resp)
    policy_arn = body.get("policyArn") or ""
    match = re.fullmatch(r"arn:aws[a-z-]*:eks::aws:cluster-access-policy/(\w+)", policy_arn)
    if not match or match.group(1) not in EKS_ACCESS_POLICIES:
        raise AwsError(400, "InvalidParameterException", f"The policyArn is not a valid EKS access policy: {policy_arn}")
    scope = body.get("accessScope") or {}
    if scope.get("type") not in ("cluster", "namespace") or (scope.get("type") == "namespace") != bool(scope.get("namespaces")):
        raise AwsError(400, "InvalidParameterException", f"Invalid accessScope {json.dumps(scope)}: type cluster, or type namespace with namespaces")
    at = now()
    previous = entry["policies"].get(policy_arn)
    entry["policies"][policy_arn] = {
        "policyArn": policy_arn,
        "accessScope": {"type": scope["type"], "namespaces": scope.get("namespaces") or []},
        "associatedAt": previous["associatedAt"] if previous else at,
        "modifiedAt": at,
    }
    return json_response({"clusterName": entry["clusterName"], "principalArn": entry["principalArn"], "associatedAccessPolicy": entry["policies"][policy_arn]})


@adds("eks-access-entries", "eks", "ListAssociatedAccessPolicies")
def list_associated_access_policies(resp):
    entry = _access_entry(resp)
    return json_response({"clusterName": entry["clusterName"], "principalArn": entry["principalArn"], "associatedAccessPolicies": list(entry["policies"].values())})


@adds("eks-access-entries", "eks", "DisassociateAccessPolicy")
def disassociate_access_policy(resp):
    entry = _access_entry(resp)
    _, policy_arn = _access_entry_parts(resp)
    if policy_arn not in entry["policies"]:
        raise AwsError(404, "ResourceNotFoundException", f"The access policy {policy_arn} is not associated with {entry['principalArn']}")
    del entry["policies"][policy_arn]
    return json_response({})


# --- clusters

workaround(
    "eks-cluster-shape",
    ["aws_eks_cluster"],
    "moto sends createdAt as a string, drops accessConfig and upgradePolicy, reports no vpcId, and its certificate authority data is random text, not a base64 PEM certificate; fixed in its answers",
)
workaround(
    "eks-cluster-security-group",
    ["aws_eks_cluster", "aws_vpc_security_group_ingress_rule"],
    "moto creates no cluster security group; made in moto's EC2 (in the cluster's VPC, as EKS makes it) and deleted with the cluster",
)
CLUSTER_EXTRAS = {}  # cluster ARN -> what moto drops and what EKS adds


@fixes("eks-cluster-shape", "eks", "CreateCluster")
def create_cluster_extras(resp, status, headers, body):
    cluster = json.loads(body)["cluster"]
    request = body_json(resp)
    ec2 = _ec2(resp)
    subnet_ids = (request.get("resourcesVpcConfig") or {}).get("subnetIds") or []
    vpc_ids = {ec2.get_subnet(s).vpc_id for s in subnet_ids}
    if len(vpc_ids) != 1:
        raise AwsError(400, "InvalidParameterException", f"Subnets {subnet_ids} must all be in one VPC")
    vpc_id = vpc_ids.pop()
    used("eks-cluster-security-group")
    group = ec2.create_security_group(
        name=f"eks-cluster-sg-{cluster['name']}-{uuid.uuid4().hex[:10]}",
        description="EKS created security group applied to ENI that is attached to EKS Control Plane master nodes, as well as any managed workloads.",
        vpc_id=vpc_id,
        tags={f"kubernetes.io/cluster/{cluster['name']}": "owned", "aws:eks:cluster-name": cluster["name"]},
    )
    # EKS's own rule: members of the cluster security group reach each other on every port.
    ec2.authorize_security_group_ingress(group.id, "-1", None, None, [], source_groups=[{"GroupId": group.id, "UserId": resp.current_account}], vpc_id=vpc_id)
    CLUSTER_EXTRAS[cluster["arn"]] = {
        "accessConfig": {
            "authenticationMode": "CONFIG_MAP",
            "bootstrapClusterCreatorAdminPermissions": True,
            **(request.get("accessConfig") or {}),
        },
        "upgradePolicy": request.get("upgradePolicy") or {"supportType": "EXTENDED"},
        "vpcId": vpc_id,
        "clusterSecurityGroupId": group.id,
    }
    return status, headers, json.dumps({"cluster": _cluster_shape(cluster)})


def _cluster_shape(cluster):
    extras = CLUSTER_EXTRAS.get(cluster["arn"], {})
    cluster["createdAt"] = epoch(cluster.get("createdAt"))
    vpc = dict(cluster.get("resourcesVpcConfig") or {})
    vpc.setdefault("securityGroupIds", [])
    vpc.setdefault("endpointPublicAccess", True)
    vpc.setdefault("endpointPrivateAccess", False)
    vpc.setdefault("publicAccessCidrs", ["0.0.0.0/0"])
    if "vpcId" in extras:
        vpc["vpcId"] = extras["vpcId"]
        vpc["clusterSecurityGroupId"] = extras["clusterSecurityGroupId"]
    cluster["resourcesVpcConfig"] = vpc
    for key in ("accessConfig", "upgradePolicy"):
        if key in extras:
            cluster[key] = extras[key]
    # moto's is random text; EKS sends the cluster CA as base64 PEM, which the workloads stack decodes.
    cluster["certificateAuthority"] = {"data": _cluster_ca()}
    return cluster


_CA = []


def _cluster_ca():
    """A self-signed CA certificate (one per emulator), base64 PEM as EKS sends it."""
    if not _CA:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
        start = datetime.datetime.now(datetime.timezone.utc)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        _CA.append(base64.b64encode(certificate.public_bytes(serialization.Encoding.PEM)).decode())
    return _CA[0]


def _reshaped(key, shape, on_delete=None):
    """A fixer that passes moto's answer about one `key` object through `shape` (and, for a delete, `on_delete` first)."""

    def fixer(resp, status, headers, body):
        item = json.loads(body)[key]
        if on_delete:
            on_delete(resp, item)
        return status, headers, json.dumps({key: shape(item)})

    return fixer


def _delete_cluster_security_group(resp, cluster):
    extras = CLUSTER_EXTRAS.pop(cluster["arn"], {})
    if "clusterSecurityGroupId" in extras:
        used("eks-cluster-security-group")
        _ec2(resp).delete_security_group(group_id=extras["clusterSecurityGroupId"])


fixes("eks-cluster-shape", "eks", "DescribeCluster")(_reshaped("cluster", _cluster_shape))
fixes("eks-cluster-shape", "eks", "DeleteCluster")(_reshaped("cluster", _cluster_shape, _delete_cluster_security_group))


# --- managed node groups

workaround(
    "eks-nodegroup-shape",
    ["aws_eks_node_group"],
    "moto sends timestamps and diskSize as strings and invents remote access (an SSH key) and a 1.19 version; fixed in its answers",
)
workaround(
    "eks-nodegroup-autoscaling-group",
    ["aws_eks_node_group", "aws_autoscaling_group_tag", "aws_autoscaling_attachment"],
    "moto makes no Auto Scaling group behind a node group; made in moto's Auto Scaling (from the node group's launch template, subnets and sizes) and deleted with it",
)
NODEGROUP_EXTRAS = {}  # node group ARN -> {"remoteAccess": bool}


def _autoscaling(resp):
    from moto.autoscaling.models import autoscaling_backends

    return autoscaling_backends[resp.current_account][resp.region]


@fixes("eks-nodegroup-shape", "eks", "CreateNodegroup")
def create_nodegroup_extras(resp, status, headers, body):
    nodegroup = json.loads(body)["nodegroup"]
    request = body_json(resp)
    from moto.eks.models import eks_backends

    model = eks_backends[resp.current_account][resp.region].clusters[nodegroup["clusterName"]].nodegroups[nodegroup["nodegroupName"]]
    if not request.get("version"):
        model.version = _eks_cluster(resp, nodegroup["clusterName"]).version
    if not request.get("remoteAccess"):
        model.remote_access = None
        model.resources.pop("remoteAccessSecurityGroup", None)
    model.disk_size = request.get("diskSize") if not request.get("launchTemplate") else None
    # The Auto Scaling group EKS would make: named as EKS names it, its instances from the node group's launch template.
    used("eks-nodegroup-autoscaling-group")
    asg_name = f"eks-{nodegroup['nodegroupName']}-{model.uuid}"
    model.resources["autoScalingGroups"] = [{"name": asg_name}]
    template = request.get("launchTemplate") or {}
    scaling = request.get("scalingConfig") or {}
    _autoscaling(resp).create_auto_scaling_group(
        name=asg_name,
        availability_zones=[],
        desired_capacity=0,
        max_size=scaling.get("maxSize"),
        min_size=0,
        launch_config_name=None,
        launch_template={"launch_template_id": model.launch_template["id"], "version": str(template.get("version") or "$Default")} if template else {},
        vpc_zone_identifier=",".join(request.get("subnets") or []),
        default_cooldown=None,
        health_check_period=None,
        health_check_type="EC2",
        load_balancers=[],
        target_group_arns=[],
        placement_group=None,
        termination_policies=[],
        tags=[{"ResourceId": asg_name, "ResourceType": "auto-scaling-group", "Key": f"eks:nodegroup-name", "Value": nodegroup["nodegroupName"], "PropagateAtLaunch": "true"}],
    )
    return status, headers, json.dumps({"nodegroup": _nodegroup_shape(dict(model))})


def _nodegroup_shape(nodegroup):
    for key in ("createdAt", "modifiedAt"):
        nodegroup[key] = epoch(nodegroup.get(key))
    if nodegroup.get("diskSize") in (None, ""):
        nodegroup.pop("diskSize", None)
    else:
        nodegroup["diskSize"] = int(nodegroup["diskSize"])
    if not nodegroup.get("remoteAccess"):
        nodegroup.pop("remoteAccess", None)
    nodegroup.setdefault("updateConfig", {"maxUnavailable": 1})
    return nodegroup


def _delete_nodegroup_autoscaling_groups(resp, nodegroup):
    for group in (nodegroup.get("resources") or {}).get("autoScalingGroups") or []:
        used("eks-nodegroup-autoscaling-group")
        _autoscaling(resp).delete_auto_scaling_group(group["name"])


fixes("eks-nodegroup-shape", "eks", "DescribeNodegroup")(_reshaped("nodegroup", _nodegroup_shape))
fixes("eks-nodegroup-shape", "eks", "DeleteNodegroup")(_reshaped("nodegroup", _nodegroup_shape, _delete_nodegroup_autoscaling_groups))


# ---------------------------------------------------------------- fixtures and the report

def seed_certificates():
    """The certificates an environment names but does not create (it references an operator's certificate)."""
    from moto.acm.models import CertBundle, acm_backends

    for arn in filter(None, os.environ.get("EMULATOR_CERTIFICATE_ARNS", "").split(",")):
        _, _, _, region, account, _ = arn.split(":", 5)
        backend = acm_backends[account][region]
        bundle = CertBundle.generate_cert("emulator.voice-selfhost.example", account_id=account, region=region)
        bundle.arn = arn
        backend._certificates[arn] = bundle


def _report(request, full_url, headers):
    return 200, {"Content-Type": "application/json"}, json.dumps({"workarounds": WORKAROUNDS})


_GONE = {"deleted", "deleting", "terminated", "PendingDeletion", "shutting-down"}


def _live(items):
    return [i for i in items if str(getattr(i, "state", getattr(i, "_state", ""))) not in _GONE]


def inventory(account, region):
    """Every resource of the services the stacks use, in one account and region (and the global ones)."""
    from moto.acm.models import acm_backends
    from moto.autoscaling.models import autoscaling_backends
    from moto.ec2.models import ec2_backends
    from moto.ecr.models import ecr_backends
    from moto.eks.models import eks_backends
    from moto.elbv2.models import elbv2_backends
    from moto.iam.models import iam_backends
    from moto.kms.models import kms_backends
    from moto.logs.models import logs_backends
    from moto.s3.models import s3_backends

    ec2 = ec2_backends[account][region]
    found = {
        "ec2:vpc": list(ec2.vpcs),
        "ec2:subnet": [s.id for zone in ec2.subnets.values() for s in zone.values()],
        "ec2:security-group": [g.id for groups in ec2.groups.values() for g in groups.values()],
        "ec2:route-table": list(ec2.route_tables),
        "ec2:network-acl": list(ec2.network_acls),
        "ec2:internet-gateway": list(ec2.internet_gateways),
        "ec2:nat-gateway": [n.id for n in _live(ec2.nat_gateways.values())],
        "ec2:elastic-ip": [a.allocation_id or a.public_ip for a in ec2.addresses],
        "ec2:vpc-endpoint": [e.id for e in _live(ec2.vpc_end_points.values())],
        "ec2:flow-log": list(ec2.flow_logs),
        "ec2:launch-template": list(ec2.launch_templates),
        "ec2:network-interface": list(ec2.enis),
        "ec2:instance": [i.id for r in ec2.reservations.values() for i in r.instances if i.state_code != 48],
        "ec2:volume": list(ec2.volumes),
        "eks:cluster": list(eks_backends[account][region].clusters),
        "iam:role": list(iam_backends[account]["global"].roles),
        "iam:policy": [arn for arn in iam_backends[account]["global"].managed_policies if ":aws:policy/" not in arn],
        "iam:instance-profile": list(iam_backends[account]["global"].instance_profiles),
        "kms:key": [k.id for k in kms_backends[account][region].keys.values() if k.key_state != "PendingDeletion"],
        "logs:log-group": list(logs_backends[account][region].groups),
        "ecr:repository": list(ecr_backends[account][region].repositories),
        "s3:bucket": list(s3_backends[account]["aws"].buckets),
        "elbv2:load-balancer": list(elbv2_backends[account][region].load_balancers),
        "elbv2:target-group": list(elbv2_backends[account][region].target_groups),
        "autoscaling:group": list(autoscaling_backends[account][region].autoscaling_groups),
        "acm:certificate": list(acm_backends[account][region]._certificates),
    }
    for (store_account, store_region, kind), items in _STORES.items():
        if (store_account, store_region) == (account, region):
            found[f"emulated:{kind}"] = list(items)
    return sorted(f"{kind} {item}" for kind, items in found.items() for item in items)


def _inventory(request, full_url, headers):
    from urllib.parse import parse_qs, urlparse

    query = parse_qs(urlparse(full_url).query)
    account = query.get("account", [os.environ.get("MOTO_ACCOUNT_ID", "123456789012")])[0]
    return 200, {"Content-Type": "application/json"}, json.dumps({"resources": inventory(account, query["region"][0])})


def _register_report():
    import moto.moto_api._internal.urls as api_urls

    api_urls.url_paths["{0}/moto-api/voice-selfhost/workarounds"] = _report
    api_urls.url_paths["{0}/moto-api/voice-selfhost/inventory"] = _inventory


_register_report()


if __name__ == "__main__":
    from moto.server import main

    seed_certificates()
    main(sys.argv[1:])
