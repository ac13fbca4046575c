/** Attaches the policy to stacks so that `app.synth()` fails on any unacknowledged violation. */
import { TerraformStack } from "cdktf";
import { IConstruct } from "constructs";
import { POLICY_ACKNOWLEDGEMENT_METADATA, recordPolicyAcknowledgement } from "../private/policy-acknowledgement";
import { acknowledgementProblems, evaluate, formatViolation } from "./engine";
import { JsonObject, StackView } from "./stack-view";
import { Acknowledgement, PolicyOptions, PolicyReport } from "./types";

const configured = new WeakMap<TerraformStack, PolicyOptions>();

/**
 * Checks `stack` at synth: cdktf runs stack validations before writing the stack, so a violation
 * fails `app.synth()` (and `cdktf synth`) with one line per violation. Construct library users call
 * this on their own stacks; main.ts calls it on every environment stack.
 */
export function enforcePolicy(stack: TerraformStack, options: PolicyOptions = {}): void {
  const problems = acknowledgementProblems(options.acknowledgements ?? []);
  if (problems.length) throw new Error(`policy for stack ${stack.node.path}:\n  ${problems.join("\n  ")}`);
  if (configured.has(stack)) throw new Error(`policy for stack ${stack.node.path} is already enforced`);
  configured.set(stack, options);
  serializeOncePerSynthesis(stack);
  stack.node.addValidation({
    validate: () => {
      const report = checkStack(stack);
      if (report.violations.length === 0) return [];
      return [
        `${report.violations.length} policy violation(s); fix them or acknowledge each with a reason (policy.acknowledgements in the environment file):`,
        ...report.violations.map(formatViolation),
      ];
    },
  });
}

/**
 * cdktf's synthesizer runs the stack's validations and then serializes the stack; the policy check is
 * one of those validations and needs the same document, so without this every stack is serialized
 * (every token resolved) twice. Within one `synthesize` pass of this stack, the first `toTerraform()`
 * is kept and handed to the later call: nothing between the validations and the write may change the
 * stack. Outside a pass (tests, the review script) every call serializes afresh.
 */
function serializeOncePerSynthesis(stack: TerraformStack): void {
  const synthesizer = stack.synthesizer;
  const serialize = stack.toTerraform.bind(stack);
  let pass: { document?: ReturnType<TerraformStack["toTerraform"]> } | undefined;
  stack.toTerraform = () => (pass ? (pass.document ??= serialize()) : serialize());
  stack.synthesizer = {
    synthesize: (session) => {
      pass = {};
      try {
        synthesizer.synthesize(session);
      } finally {
        pass = undefined;
      }
    },
  };
}

/**
 * Declares in code that `scope` (and everything under it) may fail `rule`, with the reason. For
 * exceptions a construct cannot avoid, e.g. the device plugin's hostPath to the kubelet socket; the
 * review report lists it like any other acknowledgement.
 */
export function acknowledgePolicy(scope: IConstruct, rule: string, reason: string): void {
  const problems = acknowledgementProblems([{ rule, reason, resource: scope.node.path, source: "code" }]);
  if (problems.length) throw new Error(problems.join("\n"));
  recordPolicyAcknowledgement(scope, rule, reason);
}

/** Acknowledgements constructs under `stack` declared with acknowledgePolicy. */
export function codeAcknowledgements(stack: TerraformStack): Acknowledgement[] {
  return stack.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === POLICY_ACKNOWLEDGEMENT_METADATA)
      .map((m) => ({ ...(m.data as { rule: string; reason: string }), resource: c.node.path, source: "code" })),
  );
}

/**
 * Evaluates `stack` as it synthesizes, with its environment's and its constructs' acknowledgements.
 * A caller that already holds the synthesized stack as a view (the review) passes it, so it is not parsed again.
 */
export function checkStack(stack: TerraformStack, view: StackView = new StackView(stack.node.id, stack.toTerraform() as JsonObject)): PolicyReport {
  const options = configured.get(stack) ?? {};
  // Constructs that load no policy code record theirs unchecked (recordPolicyAcknowledgement): check them here.
  const inCode = codeAcknowledgements(stack);
  const problems = acknowledgementProblems(inCode);
  if (problems.length) throw new Error(`policy for stack ${stack.node.path}:\n  ${problems.join("\n  ")}`);
  const acknowledgements = [...(options.acknowledgements ?? []), ...inCode];
  return evaluate(view, { ...options, acknowledgements });
}
