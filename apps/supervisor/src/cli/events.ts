/** `handover events`: the last events, a live stream of new ones (--follow), or the whole log to a file (--export). */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ControlClient } from '@handover/control-api';
import type { HandoverEvent } from '@handover/process-table';
import type { CommandContext } from './context';
import { UsageError } from './errors';
import { eventsTable, formatEventLine, plural } from './format';
import { EXIT_OK, type CliIO } from './io';

export async function events({ client, io, spec, options: values, target: { lines }, json, out, printJson }: CommandContext): Promise<number> {
  // --worker, --pool, --type (exact, or a prefix like worker.), --actor: checked by the supervisor.
  const filter = Object.fromEntries(
    (['worker', 'pool', 'type', 'actor'] as const).flatMap((key) => (values[key] === undefined ? [] : [[key, values[key]]])),
  ) as { worker?: string; pool?: string; type?: string; actor?: string };
  if (values.export !== undefined) {
    if (values.follow === true) throw new UsageError('events: --export and --follow do not go together', spec.usage);
    const file = path.resolve(io.cwd, values.export);
    const all: HandoverEvent[] = [];
    for (;;) {
      const page = await client.events.list.query({ afterId: all.at(-1)?.id ?? 0, limit: 1000, ...filter });
      all.push(...page);
      if (page.length < 1000) break;
    }
    await writeFile(file, all.map((e) => `${JSON.stringify(e)}\n`).join(''));
    out(`exported ${plural(all.length, 'event')} to ${file} (JSON lines)\n`);
    return EXIT_OK;
  }
  const events = await client.events.list.query({ limit: lines ?? 20, ...filter });
  if (values.follow !== true) {
    if (json) printJson(events);
    else out(`${eventsTable(events)}\n`);
    return EXIT_OK;
  }
  const print = (e: HandoverEvent) => out(json ? `${JSON.stringify(e)}\n` : `${formatEventLine(e)}\n`);
  events.forEach(print);
  await follow(client, events.at(-1)?.id ?? 0, print, io, filter);
  return EXIT_OK;
}

/** Streams live events after `afterId` until `io.signal` aborts or the stream fails. */
function follow(
  client: ControlClient,
  afterId: number,
  print: (e: HandoverEvent) => void,
  io: CliIO,
  filter: { worker?: string; pool?: string; type?: string; actor?: string },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (io.signal?.aborted === true) {
      resolve();
      return;
    }
    let reconnecting = false;
    const subscription = client.events.live.subscribe(
      { lastEventId: String(afterId), ...filter },
      {
        onData: (envelope) => {
          reconnecting = false;
          print(envelope.data);
        },
        onConnectionStateChange: (state) => {
          if (state.state === 'connecting' && state.error !== null && !reconnecting) {
            reconnecting = true;
            io.stderr.write('lost the connection to the supervisor; reconnecting…\n');
          }
        },
        onError: (error) => {
          cleanup();
          reject(error);
        },
        onComplete: () => {
          cleanup();
          resolve();
        },
      },
    );
    const onAbort = () => {
      cleanup();
      resolve();
    };
    function cleanup() {
      io.signal?.removeEventListener('abort', onAbort);
      subscription.unsubscribe();
    }
    io.signal?.addEventListener('abort', onAbort);
  });
}
