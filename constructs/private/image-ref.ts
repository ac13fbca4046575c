/** Container image references (`registry/repository:tag@sha256:...`): the one parser the constructs, the policy rules and the mirror share. */

/** What an image reference is pinned by. */
export interface ImageReference {
  /** Everything before the tag and digest: registry and repository. */
  readonly name: string;
  readonly tag?: string;
  /** `sha256:<hex>`, when pinned by digest. */
  readonly digest?: string;
}

/**
 * Splits an image reference into name, tag and digest. Terraform references (`${...}`) may stand for
 * any part; a `:` or `/` inside one is not a separator.
 */
export function parseImageReference(image: string): ImageReference {
  const masked = image.replace(/\$\{[^}]*\}/g, (ref) => "x".repeat(ref.length));
  const at = masked.indexOf("@");
  const digest = at >= 0 ? image.slice(at + 1) : undefined;
  const base = at >= 0 ? image.slice(0, at) : image;
  const colon = masked.slice(0, base.length).lastIndexOf(":");
  if (colon > masked.slice(0, base.length).lastIndexOf("/")) return { name: base.slice(0, colon), tag: base.slice(colon + 1), digest };
  return { name: base, digest };
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** A mutable tag would let the cluster run an image nobody reviewed: require a digest or a tag other than latest. */
export function checkImagePinned(image: string, where: string): void {
  const { tag, digest } = parseImageReference(image);
  if (digest && DIGEST.test(digest)) return;
  if (!tag || !TAG.test(tag) || tag === "latest") throw new Error(`${where}: expected an image pinned by digest or immutable tag, found "${image}"`);
}
