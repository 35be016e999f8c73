/**
 * Test resources that clean up after themselves (the style of trpc's `serverResource`): a helper
 * that starts a server, a process or a temp directory returns it with `[Symbol.asyncDispose]`,
 * and the test holds it with `await using x = await startThing()`. It is disposed when the
 * block ends, passed or failed, in reverse order of declaration; no module-level cleanup lists.
 *
 * Shared by the workspaces' tests through a relative import (it is not a package).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type AsyncResource<T extends object> = T & AsyncDisposable;

/**
 * `value` with `[Symbol.asyncDispose]` calling `dispose` once (a second dispose is a no-op, so a
 * test may also close the thing itself).
 */
export function asyncResource<T extends object>(value: T, dispose: () => Promise<unknown> | unknown): AsyncResource<T> {
  let disposed: Promise<void> | undefined;
  return Object.assign(value, {
    [Symbol.asyncDispose]: (): Promise<void> => (disposed ??= Promise.resolve().then(async () => void (await dispose()))),
  });
}

/** A cleanup of its own: `await using _socket = disposer(() => socket.destroy())`. */
export function disposer(dispose: () => Promise<unknown> | unknown): AsyncDisposable {
  return asyncResource({}, dispose);
}

/**
 * Disposes `resources` in reverse order, all of them even when one fails (then its error is
 * thrown): the dispose of a helper that starts several things.
 */
export async function disposeAll(...resources: AsyncDisposable[]): Promise<void> {
  const errors: unknown[] = [];
  for (const resource of resources.reverse()) {
    try {
      await resource[Symbol.asyncDispose]();
    } catch (error) {
      errors.push(error);
    }
  }
  if (errors.length > 0) throw errors[0];
}

/** A fresh directory under the OS temp dir, removed with everything in it on dispose. */
export async function tempDir(prefix: string): Promise<AsyncResource<{ path: string }>> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return asyncResource({ path }, () => rm(path, { recursive: true, force: true }));
}
