import { Lazy, TerraformStack } from "cdktf";
// cdktf's own logical-id function (what TerraformStack.allocateLogicalId uses); not re-exported from the package root.
import { makeUniqueId } from "cdktf/lib/private/unique";
import { IConstruct } from "constructs";

const forgotten = new WeakMap<TerraformStack, string[]>();

/**
 * Writes a `removed` block (Terraform >= 1.7) with `destroy = false`: Terraform drops `address` from
 * its state without deleting the real object. For a resource the configuration stops managing while
 * the object must stay (e.g. a tag another service owns). cdktf has no construct for it, so the
 * stack's blocks are collected into one top-level `removed` list.
 */
export function forgetWithoutDestroying(scope: IConstruct, address: string): void {
  const stack = TerraformStack.of(scope);
  let addresses = forgotten.get(stack);
  if (!addresses) {
    const list: string[] = [];
    addresses = list;
    forgotten.set(stack, list);
    stack.addOverride("removed", Lazy.anyValue({ produce: () => list.map((from) => ({ from, lifecycle: { destroy: false } })) }));
  }
  if (!addresses.includes(address)) addresses.push(address);
}

/** The logical id a child `id` of `scope` had (or would have): for moved and removed blocks naming resources no construct holds any more. */
export function legacyLogicalId(scope: IConstruct, id: string): string {
  const scopes = scope.node.scopes;
  const below = scopes.slice(scopes.indexOf(TerraformStack.of(scope)) + 1).map((c) => c.node.id);
  return makeUniqueId([...below, id]);
}
