import { Lazy } from "cdktf";
import { setTokenStackTraces, STACK_TRACES_ENV, stackTracesWanted } from "../../constructs/private/stack-traces";

afterAll(() => setTokenStackTraces(stackTracesWanted()));

test("tokens carry no creation stack while traces are off, and a full one when turned back on", () => {
  expect(setTokenStackTraces(false)).toBe(false);
  const lazyOff = Lazy.anyValue({ produce: () => 1 }) as unknown as { creationStack: string[] };
  expect(lazyOff.creationStack).toEqual([]);
  expect(setTokenStackTraces(true)).toBe(true);
  const lazyOn = Lazy.anyValue({ produce: () => 1 }) as unknown as { creationStack: string[] };
  expect(lazyOn.creationStack.length).toBeGreaterThan(0);
  expect(lazyOn.creationStack.join("\n")).toContain("stack-traces.test");
});

test(`${STACK_TRACES_ENV}=1 keeps them; anything else leaves them off`, () => {
  expect(stackTracesWanted({ [STACK_TRACES_ENV]: "1" })).toBe(true);
  expect(stackTracesWanted({ [STACK_TRACES_ENV]: "0" })).toBe(false);
  expect(stackTracesWanted({})).toBe(false);
});
