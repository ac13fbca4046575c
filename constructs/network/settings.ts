/**
 * The network's settings schemas: the one definition of the fields PrivateNetwork takes and the
 * environment file composes (VPC CIDR, mode, NAT gateways, flow-log retention), with their defaults and checks.
 */
import { z } from "zod";
import { parseCidr } from "../private/cidr";
import { cidrSchema, retentionDaysSchema } from "../private/validate";

/** The VPC's CIDR, /16 to /22: each AZ's private subnet is a quarter of it, and pods take VPC addresses. */
export const vpcCidrSchema = cidrSchema.refine(
  (value) => {
    const cidr = parseCidr(value);
    return cidr === undefined || (cidr.prefix >= 16 && cidr.prefix <= 22);
  },
  { message: "expected a prefix between /16 and /22 (each AZ's private subnet is a quarter of the VPC, and pods take VPC addresses)" },
);

/** `connected`: private subnets egress through NAT. `airgapped`: no route out of the VPC at all. */
export const networkModeSchema = z.enum(["connected", "airgapped"]);

/** NAT gateways in connected mode: one per AZ (default, survives an AZ outage) or a single one (cheaper, for dev). */
export const natGatewaysSchema = z.enum(["perAz", "single"]).default("perAz");

/** VPC flow log retention in days; one of CloudWatch's periods. Default 365. */
export const flowLogRetentionDaysSchema = retentionDaysSchema.default(365);

/**
 * The data perimeter of the VPC endpoints: their policies admit principals and resources of this AWS
 * Organizations organisation (`o-...`), or of the network's own account when none is named.
 */
export const perimeterSchema = z
  .object({
    organizationId: z
      .string()
      .regex(/^o-[a-z0-9]{10,32}$/, "expected an AWS Organizations id like o-a1b2c3d4e5")
      .optional(),
  })
  .strict()
  .default({});

/** The data perimeter as props and the environment file take it. */
export type PerimeterInput = z.input<typeof perimeterSchema>;
