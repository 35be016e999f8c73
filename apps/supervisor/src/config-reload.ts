import { ConfigError, type HandoverConfig, formatConfigWarning } from '@handover/config';
import { ControlError } from '@handover/control-api/server';
import { isRoutable } from '@handover/process-table';
import { configRejected, configReloaded } from './events';
import type { Runtime } from './runtime';
import { watchSessionProbe } from './session-probe';

/**
 * Re-reads the configuration before a sync or a detach-and-sync; a broken file is refused whole
 * and changes nothing. What takes a restart (a new pool, another session or route cookie) is
 * said in the event and left as it was.
 */
export async function applyConfig(rt: Runtime, reload: () => Promise<HandoverConfig>, actor: string): Promise<void> {
  let next: HandoverConfig;
  try {
    next = await reload();
  } catch (error) {
    const message = error instanceof ConfigError ? error.message : String(error);
    rt.record(configRejected(actor, message));
    throw new ControlError('PRECONDITION_FAILED', `The configuration was not applied and nothing changed: ${message}`);
  }
  const notes: string[] = (next.warnings ?? []).map(formatConfigWarning);
  // A copy: what is kept of a restart-only setting below must not change the file's view (drift.ts).
  for (const original of next.pools) {
    const config = structuredClone(original);
    const pool = rt.pools.get(config.name);
    if (pool === undefined) {
      notes.push(`pool ${config.name} is new: restart the supervisor to add it`);
      continue;
    }
    if (config.sessionCookie !== pool.config.sessionCookie) {
      notes.push(`${config.name}: a new session cookie takes a supervisor restart; still using ${pool.config.sessionCookie}`);
      config.sessionCookie = pool.config.sessionCookie;
    }
    if (config.routeCookie !== pool.config.routeCookie) {
      notes.push(`${config.name}: a new routeCookie takes a supervisor restart; still using ${pool.config.routeCookie ?? 'none'}`);
      config.routeCookie = pool.config.routeCookie;
    }
    pool.reconfigure(config);
    // A session probe added by this sync starts on the running workers too.
    for (const worker of pool.workers) if (isRoutable(worker.state)) watchSessionProbe(rt, pool, worker);
  }
  for (const name of rt.pools.keys()) {
    if (!next.pools.some((p) => p.name === name)) notes.push(`pool ${name} is gone from the file: it keeps running until the supervisor restarts`);
  }
  rt.record(configReloaded(actor, revisionsOf(rt), notes));
}

function revisionsOf(rt: Runtime): Record<string, string> {
  return Object.fromEntries([...rt.pools.values()].map((p) => [p.name, p.config.revision]));
}

/** What `applyConfig` would say of a configuration that takes a restart, without applying anything (a plan's notes). */
export function configNotes(rt: Runtime, next: HandoverConfig): string[] {
  const notes: string[] = [];
  for (const config of next.pools) {
    const pool = rt.pools.get(config.name);
    if (pool === undefined) notes.push(`pool ${config.name} is new: restart the supervisor to add it`);
    else {
      if (config.sessionCookie !== pool.config.sessionCookie) notes.push(`${config.name}: a new session cookie takes a supervisor restart; a sync keeps ${pool.config.sessionCookie}`);
      if (config.routeCookie !== pool.config.routeCookie) notes.push(`${config.name}: a new routeCookie takes a supervisor restart; a sync keeps ${pool.config.routeCookie ?? 'none'}`);
    }
  }
  for (const name of rt.pools.keys()) {
    if (!next.pools.some((p) => p.name === name)) notes.push(`pool ${name} is gone from the file: it keeps running until the supervisor restarts`);
  }
  return notes;
}

