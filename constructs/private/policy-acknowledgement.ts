import { IConstruct } from "constructs";

/**
 * Where a construct records, as construct metadata, that it may fail a policy rule and why. A leaf, so
 * constructs that declare an exception (the network's endpoints without policy support) load no policy
 * rules; `acknowledgePolicy` (constructs/policy) checks the rule id and the reason before recording, and
 * the policy check validates every recorded one again when it reads them.
 */
export const POLICY_ACKNOWLEDGEMENT_METADATA = "voice-selfhost:policy-acknowledgement";

/** Records that `scope` (and everything under it) may fail `rule`, with the reason the review report shows. */
export function recordPolicyAcknowledgement(scope: IConstruct, rule: string, reason: string): void {
  scope.node.addMetadata(POLICY_ACKNOWLEDGEMENT_METADATA, { rule, reason });
}
