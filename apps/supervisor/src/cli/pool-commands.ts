/** The commands that read or change workers and pools: status, detach, reattach, sync, logs. */
import type { CommandContext } from './context';
import { drainingSummary, formatDrain, formatLogLine, formatStatus, formatSyncPlan, formatSyncResult, plural, readySummary } from './format';
import { EXIT_FAILURE, EXIT_OK } from './io';

export async function status({ client, json, out, printJson, now }: CommandContext): Promise<number> {
  const [workers, pools] = await Promise.all([client.workers.list.query(), client.pools.list.query()]);
  if (json) printJson({ workers, pools });
  else out(formatStatus(workers, pools, now()));
  return EXIT_OK;
}

export async function detach({ client, io, options: values, target: { worker }, json, out, printJson }: CommandContext): Promise<number> {
  if (values.sync === true) {
    if (!json) {
      out(`starting a successor for ${worker} (re-reading the configuration) and waiting for its health check…\n`);
    }
    const result = await client.workers.detachAndSync.mutate({ worker: worker! });
    if (json) printJson(result);
    else {
      out(`${readySummary(result.started)}; new sessions go to ${result.started.id}\n`);
      out(`${drainingSummary(result.detached)}\n`);
    }
    return EXIT_OK;
  }
  const detached = await client.workers.detach.mutate({ worker: worker! });
  if (json) {
    printJson(detached);
    return EXIT_OK;
  }
  out(`${drainingSummary(detached)}\n`);
  const workers = await client.workers.list.query();
  const attached = workers.filter((w) => w.pool === detached.pool && w.attached);
  if (attached.length === 0) {
    io.stderr.write(
      `warning: pool ${detached.pool} has no attached worker now, so new sessions have nowhere to go: ` +
        `run \`handover sync ${detached.pool}\` to start one, or \`handover reattach ${detached.id}\` to undo\n`,
    );
  }
  return EXIT_OK;
}

export async function reattach({ client, target: { worker }, json, out, printJson }: CommandContext): Promise<number> {
  const info = await client.workers.reattach.mutate({ worker: worker! });
  if (json) printJson(info);
  else out(`${info.id} reattached: it takes new sessions again (revision ${info.revision})\n`);
  return EXIT_OK;
}

export async function sync({ client, options: values, target: { pool }, json, out, printJson }: CommandContext): Promise<number> {
  if (values['dry-run'] === true) {
    const plan = await client.pools.plan.query(pool === undefined ? undefined : { pool });
    if (json) printJson(plan);
    else out(formatSyncPlan(plan));
    return plan.configError === null ? EXIT_OK : EXIT_FAILURE;
  }
  if (!json) out(`syncing ${pool === undefined ? 'every pool' : `pool ${pool}`} (re-reading the configuration)…\n`);
  const result = await client.pools.sync.mutate(pool === undefined ? undefined : { pool });
  if (json) printJson(result);
  else out(formatSyncResult(result));
  return result.pools.some((p) => p.error !== null) ? EXIT_FAILURE : EXIT_OK;
}

/** `handover drain <worker>`: what it still holds and when it should be gone; `--stop-now` ends it. */
export async function drain({ client, options: values, target: { worker, lines }, json, out, printJson, now }: CommandContext): Promise<number> {
  const info = await client.workers.drain.query({ worker: worker!, limit: lines ?? 20 });
  if (values['stop-now'] !== true) {
    if (json) printJson(info);
    else out(formatDrain(info, now()));
    return EXIT_OK;
  }
  const stopped = await client.workers.stopNow.mutate({ worker: worker! });
  if (json) printJson({ drain: info, stopped });
  else {
    const left = [plural(info.sessions, 'session'), plural(info.inFlight, 'request'), plural(info.webSockets, 'WebSocket')];
    out(`${stopped.id} ${stopped.state}; it still held ${left.join(', ')}${info.sessions > 0 ? ` (${info.sessions === 1 ? 'that session is' : 'those sessions are'} lost)` : ''}\n`);
  }
  return EXIT_OK;
}

export async function logs({ client, target: { worker, lines }, json, out, printJson }: CommandContext): Promise<number> {
  const logLines = await client.workers.logs.query({ worker: worker!, lines: lines ?? 200 });
  if (json) printJson(logLines);
  else out(logLines.map((l) => `${formatLogLine(l)}\n`).join(''));
  return EXIT_OK;
}
