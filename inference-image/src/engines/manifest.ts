/**
 * The model manifest: written by the import command (src/model-import) next to the model's files,
 * checked by the server at start. It says which engine the files are for and each file's size and
 * SHA-256, so a model changed after import (a tampered or truncated file, a file swapped in, one for
 * another engine) is refused before anything loads it.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { EngineConfigError } from "./config";
import { MODEL_LAYOUTS, type SherpaEngine } from "./model-files";

export const MANIFEST_FILE = "model-manifest.json";
export const MANIFEST_FORMAT = "voice-selfhost.model-manifest/1";

const sherpaEngines = Object.keys(MODEL_LAYOUTS) as [SherpaEngine, ...SherpaEngine[]];

const fileEntry = z
  .object({
    path: z
      .string()
      .min(1)
      .refine((p) => !path.isAbsolute(p) && !p.split("/").includes("..") && !p.includes("\\"), "expected a path inside the model directory"),
    bytes: z.number().int().min(0),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex digits"),
  })
  .strict();

export const manifestSchema = z
  .object({
    format: z.literal(MANIFEST_FORMAT),
    engine: z.enum(sherpaEngines),
    /** A name for reports: the archive or folder it was imported from. */
    name: z.string().min(1),
    sampleRate: z.number().int().min(8000).max(96000),
    languages: z.array(z.string().min(1)).min(1),
    licence: z.object({ name: z.string().min(1), file: z.string().min(1).optional() }).strict(),
    source: z.object({ name: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/).optional() }).strict(),
    importedAt: z.string().datetime(),
    files: z.array(fileEntry).min(1),
  })
  .strict();

export type ModelManifest = z.infer<typeof manifestSchema>;
export type ManifestFile = z.infer<typeof fileEntry>;

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Every regular file under `dir`, as paths relative to it with "/" separators, sorted. */
export function listFiles(dir: string, under = ""): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(dir, under), { withFileTypes: true })) {
    const rel = under ? `${under}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}

/** Size and digest of each file, for a manifest. */
export async function describeFiles(dir: string, files: string[]): Promise<ManifestFile[]> {
  const out: ManifestFile[] = [];
  for (const rel of files) out.push({ path: rel, bytes: fs.statSync(path.join(dir, rel)).size, sha256: await sha256File(path.join(dir, rel)) });
  return out;
}

/** Read and validate a manifest file; errors name the file and the field. */
export function readManifest(file: string): ModelManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new EngineConfigError(`${file}: not a readable JSON manifest (${(err as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `field "${i.path.join(".") || "(root)"}": ${i.message}`);
    throw new EngineConfigError(`${file}: ${issues.join("; ")}`);
  }
  return parsed.data;
}

/**
 * Check the model in `dir` against its manifest: the engine, then every listed file's size and SHA-256,
 * and that each file the engine will load (`used`: files and directories, absolute) is listed. Throws an
 * EngineConfigError that names what differs; returns the manifest when all holds.
 */
export async function verifyManifest(engine: SherpaEngine, dir: string, used: string[], envName: string): Promise<ModelManifest> {
  const where = `${envName}=${dir}`;
  const file = path.join(dir, MANIFEST_FILE);
  if (!fs.existsSync(file)) {
    throw new EngineConfigError(
      `${where}: no ${MANIFEST_FILE}: import the model with the model-import command (it checks the files and writes the manifest), or set MODEL_MANIFEST=optional to load an unverified model`,
    );
  }
  const manifest = readManifest(file);
  if (manifest.engine !== engine) throw new EngineConfigError(`${where}: the manifest is for ${manifest.engine}, but the configured engine is ${engine}`);
  const listed = new Map(manifest.files.map((f) => [f.path, f]));
  const problems: string[] = [];
  for (const f of manifest.files) {
    const full = path.join(dir, f.path);
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(full);
    } catch {
      problems.push(`${f.path} is missing`);
      continue;
    }
    if (!stat.isFile()) problems.push(`${f.path} is not a regular file`);
    else if (stat.size !== f.bytes) problems.push(`${f.path} has ${stat.size} bytes, the manifest says ${f.bytes}`);
    else {
      const digest = await sha256File(full);
      if (digest !== f.sha256) problems.push(`${f.path} has SHA-256 ${digest}, the manifest says ${f.sha256}`);
    }
  }
  for (const u of used) {
    const rel = path.relative(dir, u).split(path.sep).join("/");
    const files = fs.statSync(u).isDirectory() ? listFiles(dir, rel) : [rel];
    for (const f of files) if (!listed.has(f)) problems.push(`${f} is not in the manifest`);
  }
  if (problems.length > 0) throw new EngineConfigError(`${where}: the model does not match its manifest (changed since import?): ${problems.join("; ")}`);
  return manifest;
}
