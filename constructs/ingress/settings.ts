/**
 * The load balancer's settings schemas: who may connect and how the listener terminates, one
 * definition the environment file composes and InternalLoadBalancer parses its props with.
 */
import { z } from "zod";
import { parseCidr } from "../private/cidr";
import { cidrSchema } from "../private/validate";

/** The only sources admitted on the listener ports: at least one, none as wide as 0.0.0.0/0. */
export const allowedClientCidrsSchema = z
  .array(cidrSchema)
  .min(1, "expected at least one client CIDR")
  .superRefine((cidrs, ctx) => {
    cidrs.forEach((c, i) => {
      if (parseCidr(c)?.prefix === 0) ctx.addIssue({ code: "custom", path: [i], message: "expected a CIDR narrower than 0.0.0.0/0: it would admit anyone; name the client networks" });
    });
  });

/** TLS with an ACM certificate, or plain TCP for environments that ask for it. */
export const listenerSettingsShape = {
  /** ACM certificate for the TLS listener. Required unless plainTcp is set. */
  certificateArn: z.string().regex(/^arn:aws[a-z-]*:acm:/, "expected an ACM certificate ARN").optional(),
  /** Plain TCP instead of TLS (no certificate, no access logs): only for environments that say so explicitly (e.g. dev). */
  plainTcp: z.boolean().default(false),
};

/** A TLS listener needs its certificate. */
export function checkListener(settings: { certificateArn?: string; plainTcp: boolean }, ctx: z.RefinementCtx): void {
  if (!settings.plainTcp && !settings.certificateArn) {
    ctx.addIssue({ code: "custom", path: ["certificateArn"], message: "expected an ACM certificate ARN for the TLS listener (or plainTcp: true, for dev only)" });
  }
}

/** The region an ACM certificate ARN names (`arn:aws:acm:<region>:<account>:certificate/<id>`); undefined when it names none. */
export function certificateRegion(arn: string): string | undefined {
  return /^arn:aws[a-z-]*:acm:([a-z0-9-]+):/.exec(arn)?.[1];
}

/** A load balancer can use ACM certificates of its own region only: one from another region fails at apply, after the load balancer exists. */
export function checkCertificateRegion(arn: string | undefined, region: string, fail: (message: string) => void): void {
  const found = arn ? certificateRegion(arn) : undefined;
  if (arn && found !== region) {
    fail(`expected an ACM certificate in ${region}, the load balancer's region (a listener takes certificates of its own region only), found one in ${found ?? "no region"}: request or import the certificate in ${region}`);
  }
}

/** The listener settings InternalLoadBalancer takes. */
export const listenerSettingsSchema = z.object(listenerSettingsShape).superRefine(checkListener);
