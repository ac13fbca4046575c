import { AWS_AZ_PATTERN } from "../../private/regions";

/** The region every AZ name belongs to (e.g. eu-west-1a -> eu-west-1); calls `fail` on a malformed name or a mix of regions. Internal. */
export function regionOfAzs(azs: readonly string[], fail: (message: string) => never, region?: string): string {
  const regions = azs.map((az) => AWS_AZ_PATTERN.exec(az)?.[1] ?? fail(`expected AZ names like eu-west-1a, found "${az}"`));
  const expected = region ?? regions[0];
  regions.forEach((r, i) => {
    if (r !== expected) fail(`expected every AZ in region ${expected}, found "${azs[i]}"`);
  });
  return expected;
}
