import { PolicyRule } from "../types";
import { awsRules } from "./aws";
import { gpuPoolRules } from "./gpu-pools";
import { networkRules } from "./network";
import { perimeterRules } from "./perimeter";
import { runtimeRules } from "./runtime";
import { terraformRules } from "./terraform";
import { workloadRules } from "./workloads";

/** Every rule, in report order. Ids are unique (checked by the engine's tests). */
export const RULES: readonly PolicyRule[] = [...terraformRules, ...networkRules, ...awsRules, ...perimeterRules, ...gpuPoolRules, ...workloadRules, ...runtimeRules];
