/**
 * The GPU instance types node pools may use, with what the scheduler and the autoscaler need to know
 * about each (from the EC2 instance type pages). Only x86_64 types: the NVIDIA EKS AMIs we allow are x86_64.
 */
export interface GpuInstanceType {
  /** GPU model as it appears in node labels, e.g. `A10G`. */
  readonly gpuModel: string;
  readonly gpusPerNode: number;
  /** Memory of one GPU, GiB. */
  readonly gpuMemoryGiB: number;
  readonly vcpus: number;
  readonly memoryGiB: number;
}

type Size = [size: string, vcpus: number, memoryGiB: number, gpus: number];

function family(name: string, gpuModel: string, gpuMemoryGiB: number, sizes: Size[]): [string, GpuInstanceType][] {
  return sizes.map(([size, vcpus, memoryGiB, gpusPerNode]) => [`${name}.${size}`, { gpuModel, gpusPerNode, gpuMemoryGiB, vcpus, memoryGiB }]);
}

// g5, g6 and g6e share one size ladder: the single-GPU sizes grow in CPU and memory, 12x/24x/48x carry 4, 4 and 8 GPUs.
const ladder = (memoryPerVcpu: number): Size[] =>
  (
    [
      ["xlarge", 4, 1],
      ["2xlarge", 8, 1],
      ["4xlarge", 16, 1],
      ["8xlarge", 32, 1],
      ["12xlarge", 48, 4],
      ["16xlarge", 64, 1],
      ["24xlarge", 96, 4],
      ["48xlarge", 192, 8],
    ] as const
  ).map(([size, vcpus, gpus]) => [size, vcpus, vcpus * memoryPerVcpu, gpus]);

export const GPU_INSTANCE_TYPES: Readonly<Record<string, GpuInstanceType>> = Object.freeze(
  Object.fromEntries([
    ...family("g4dn", "T4", 16, [
      ["xlarge", 4, 16, 1],
      ["2xlarge", 8, 32, 1],
      ["4xlarge", 16, 64, 1],
      ["8xlarge", 32, 128, 1],
      ["12xlarge", 48, 192, 4],
      ["16xlarge", 64, 256, 1],
      ["metal", 96, 384, 8],
    ]),
    ...family("g5", "A10G", 24, ladder(4)),
    ...family("g6", "L4", 24, ladder(4)),
    ...family("g6e", "L40S", 48, ladder(8)),
    ...family("p4d", "A100", 40, [["24xlarge", 96, 1152, 8]]),
    ...family("p4de", "A100", 80, [["24xlarge", 96, 1152, 8]]),
    ...family("p5", "H100", 80, [["48xlarge", 192, 2048, 8]]),
    ...family("p5e", "H200", 141, [["48xlarge", 192, 2048, 8]]),
  ]),
);

/** The value of a GPU node's accelerator label (NODE_LABELS.accelerator), e.g. `nvidia-a10g`: the autoscaler needs it present; the model names the GPU. */
export function acceleratorLabel(gpu: GpuInstanceType): string {
  return `nvidia-${gpu.gpuModel.toLowerCase()}`;
}

/** Looks a type up; an unknown one fails with the closest supported names, so a typo is a one-line fix. */
export function gpuInstanceType(name: string, where: string): GpuInstanceType {
  const found = GPU_INSTANCE_TYPES[name];
  if (found) return found;
  throw new Error(`${where}: ${unknownGpuInstanceType(name)}`);
}

/** What is wrong with a type the table lacks, with the closest supported names. */
export function unknownGpuInstanceType(name: string): string {
  const known = Object.keys(GPU_INSTANCE_TYPES);
  const close = known
    .map((candidate) => ({ candidate, distance: editDistance(name.toLowerCase(), candidate) }))
    .filter(({ candidate, distance }) => distance <= 3 || candidate.split(".")[0] === name.toLowerCase().split(".")[0])
    .sort((a, b) => a.distance - b.distance)
    .slice(0, 5)
    .map(({ candidate }) => candidate);
  const families = [...new Set(known.map((k) => k.split(".")[0]))].join(", ");
  const hint = close.length > 0 ? `did you mean ${close.join(", ")}? ` : "";
  return `"${name}" is not a supported GPU instance type; ${hint}supported families: ${families} (constructs/cluster/gpu-instance-types.ts)`;
}

/** A type's shape as the autoscaler's node template sees it, for messages: `4 vCPU, 16 GiB, 1x L4`. */
export function describeShape(type: GpuInstanceType): string {
  return `${type.vcpus} vCPU, ${type.memoryGiB} GiB, ${type.gpusPerNode}x ${type.gpuModel}`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
