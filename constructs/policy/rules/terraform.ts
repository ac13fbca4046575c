/** Rules about the Terraform configuration itself: what `terraform init` refuses before it looks at any provider. */
import { TfResource } from "../stack-view";
import { ANY_RESOURCE, PolicyRule } from "../types";

/**
 * What Terraform accepts in `depends_on`: a bare reference to a resource, data source or module
 * (`kubernetes_manifest.x`, `data.aws_region.r`, `module.m`), never a `${...}` interpolation.
 */
const DEPENDS_ON_ENTRY = /^(data\.)?[A-Za-z_][\w-]*\.[A-Za-z_][\w-]*$|^module\.[A-Za-z_][\w-]*$/;

export const terraformRules: PolicyRule[] = [
  {
    id: "VS-TF-001",
    title: "depends_on lists resources, not expressions",
    rationale:
      "Terraform reads depends_on as static references; a `${...}` string there is an \"Invalid expression\" and `terraform init` refuses the whole stack before it installs a provider.",
    fix: "Pass the construct itself in dependsOn (cdktf writes its address), never its `fqn` or any other token string.",
    appliesTo: [ANY_RESOURCE],
    check: (resource: TfResource) => {
      const entries = resource.values.depends_on;
      if (entries === undefined) return [];
      if (!Array.isArray(entries)) return [`depends_on is ${JSON.stringify(entries)}, not a list`];
      return entries.filter((e) => typeof e !== "string" || !DEPENDS_ON_ENTRY.test(e)).map((e) => `depends_on entry ${JSON.stringify(e)} is not a resource address`);
    },
  },
];
