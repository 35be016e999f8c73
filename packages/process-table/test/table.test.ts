import { describe, expect, it } from 'vitest';
import { ProcessTable, WorkerRow } from '../src/index';

function table() {
  const changes: string[] = [];
  const targets: Array<string | undefined> = [];
  const t = new ProcessTable<WorkerRow>({
    keepEnded: 2,
    onChange: (w) => changes.push(`${w.id}:${w.state}`),
    onTarget: (pool, target) => targets.push(target === undefined ? `${pool}:none` : target.id),
  });
  const web = t.addPool('web');
  const next = (port = 3000 + web.nextGeneration) => new WorkerRow('web', web.takeGeneration(), port, 'v1');
  return { t, web, next, changes, targets };
}

describe('ProcessTable', () => {
  it('keeps the routing target on the newest started worker through every change', () => {
    const { t, web, next, targets } = table();
    const a = next();
    t.add(a);
    expect(web.target).toBeUndefined();
    t.transition(a, 'started');
    expect(web.target).toBe(a);
    const b = next();
    t.add(b);
    expect(web.target).toBe(a); // still starting
    t.transition(b, 'started');
    expect(web.target).toBe(b);
    t.transition(a, 'detached');
    expect(web.target).toBe(b);
    t.transition(b, 'crashed');
    expect(web.target).toBeUndefined();
    t.transition(a, 'started'); // reattach
    expect(web.target).toBe(a);
    // Told on every change of the started set too (web@0 detached: web@1 is then the only one).
    expect(targets).toEqual(['web@0', 'web@1', 'web@1', 'web:none', 'web@0']);
  });

  it('keeps every started worker as a target for new sessions, in generation order', () => {
    const { t, web, next } = table();
    const [a, b, c] = [next(), next(), next()];
    for (const w of [a, b, c]) t.add(w);
    expect(web.targets).toEqual([]);
    t.transition(b, 'started');
    t.transition(a, 'started');
    expect(web.targets).toEqual([a, b]);
    t.transition(c, 'started');
    expect(web.targets).toEqual([a, b, c]);
    expect(web.target).toBe(c);
    t.transition(b, 'detached');
    expect(web.targets).toEqual([a, c]);
    t.transition(c, 'crashed');
    expect(web.targets).toEqual([a]);
    expect(web.target).toBe(a);
  });

  it('refuses an illegal change and leaves the row and the target as they were', () => {
    const { t, web, next, changes } = table();
    const a = next();
    t.add(a);
    t.transition(a, 'started');
    t.transition(a, 'stopping');
    t.transition(a, 'stopped');
    const before = changes.length;
    expect(() => t.transition(a, 'started')).toThrow(/web@0: stopped → started/);
    expect(a.state).toBe('stopped');
    expect(a.routable).toBe(false);
    expect(web.target).toBeUndefined();
    expect(changes.length).toBe(before);
  });

  it('counts attached workers (starting or started) and the ports live workers hold', () => {
    const { t, web, next } = table();
    const [a, b, c] = [next(), next(), next()];
    for (const w of [a, b, c]) t.add(w);
    t.transition(a, 'started');
    t.transition(a, 'detached');
    t.transition(b, 'started');
    t.transition(c, 'failed');
    expect(web.attachedCount()).toBe(1);
    expect([...web.takenPorts()].sort()).toEqual([a.port, b.port]);
    expect(web.startedNewestFirst().map((w) => w.id)).toEqual(['web@1']);
  });

  it('keeps rows in generation order whatever order they are added in, and generations only grow', () => {
    const t = new ProcessTable<WorkerRow>();
    const web = t.addPool('web');
    for (const generation of [4, 1, 7, 2]) t.add(new WorkerRow('web', generation, 3000 + generation, 'v1'));
    expect(web.workers.map((w) => w.generation)).toEqual([1, 2, 4, 7]);
    expect(web.nextGeneration).toBe(8);
    web.raiseGeneration(3);
    expect(web.takeGeneration()).toBe(8);
    expect(() => t.add(new WorkerRow('web', 4, 3004, 'v1'))).toThrow(/already/);
  });

  it('prunes the oldest ended rows beyond keepEnded when a row is added, and returns them', () => {
    const { t, web, next } = table();
    const started = [next(), next(), next(), next()];
    for (const w of started) t.add(w);
    for (const w of started) t.transition(w, 'failed');
    const live = next();
    const pruned = t.add(live);
    expect(pruned.map((w) => w.id)).toEqual(['web@0', 'web@1']);
    expect(web.workers.map((w) => w.id)).toEqual(['web@2', 'web@3', 'web@4']);
  });

  it('finds rows by id and lists them pool by pool', () => {
    const { t, next } = table();
    const api = t.addPool('api');
    const a = next();
    t.add(a);
    const x = new WorkerRow('api', api.takeGeneration(), 4000, 'v9');
    t.add(x);
    expect(t.find('web@0')).toBe(a);
    expect(t.find('api@0')).toBe(x);
    expect(t.find('api@1')).toBeUndefined();
    expect(t.find('nope@0')).toBeUndefined();
    expect(t.find('garbage')).toBeUndefined();
    expect(t.rows().map((w) => w.id)).toEqual(['web@0', 'api@0']);
    expect(t.aliveIds()).toEqual(['web@0', 'api@0']);
    expect(() => t.add(new WorkerRow('db', 0, 5000, 'v1'))).toThrow(/no pool db/);
  });

  it('restores a recorded state without a transition and retargets', () => {
    const { t, web, next, changes } = table();
    const a = next();
    t.add(a);
    t.restore(a, 'detached');
    expect(a.draining).toBe(true);
    expect(web.target).toBeUndefined();
    const b = next();
    t.add(b);
    t.restore(b, 'started');
    expect(web.target).toBe(b);
    expect(changes).toContain('web@1:started');
  });
});
