/**
 * What a worker (the user's application) learns from its environment: its port, its name, pool
 * and revision, the machine's ordinary variables and its pool's `env` — never Handover's own
 * settings and secrets (control token, console key and password, anything HANDOVER_*). A real
 * supervisor spawns a real worker that prints the names it got.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '@handover/config';
import { EventLog } from '../src/event-log';
import { Supervisor } from '../src/supervisor';
import { disposer, tempDir } from '../../../test-support/resources';
import { waitFor } from './wait';

const FIXTURE = join(import.meta.dirname, 'fixtures', 'env-app.mjs');

describe('the environment of a worker', () => {
  it('is scrubbed of every HANDOVER_* variable but those Handover sets for it; the pool env is kept', async () => {
    await using tmp = await tempDir('handover-env-');
    const dir = tmp.path;
    const env = {
      PATH: process.env.PATH,
      APP_SETTING: 'kept',
      HANDOVER_CONTROL_TOKEN: 'control-token-0123456789abcdef',
      HANDOVER_SESSION_SECRET: 'console-session-key-0123456789abcdef0123',
      HANDOVER_ADMIN_USER: 'admin',
      HANDOVER_ADMIN_PASSWORD: 'secret-password',
      HANDOVER_DATA_DIR: dir,
      HANDOVER_SOME_FUTURE_SECRET: 'x',
      // A keeper's handover to its supervisor, should one ever be left in the environment.
      HANDOVER_INHERITED_SOCKETS: '127.0.0.1:8080=4',
    };
    const config = parseConfig(
      {
        dataDir: join(dir, 'data'),
        pools: [
          {
            name: 'web',
            command: `node ${JSON.stringify(FIXTURE)}`,
            basePort: 20_000 + Math.floor(Math.random() * 5_000),
            sessionCookie: 'sid',
            revision: 'v7',
            // Set on purpose by the operator for this pool: theirs to give.
            env: { HANDOVER_APP_FLAG: 'explicit', APP_MODE: 'test' },
            healthCheck: { timeoutSeconds: 20, intervalMs: 50 },
            stop: { graceSeconds: 5 },
          },
        ],
      },
      { configPath: join(dir, 'handover.config.json'), env: {}, ephemeralPorts: null },
    );
    const events = new EventLog(':memory:');
    const supervisor = new Supervisor({ config, events, env });
    await using _supervisor = disposer(async () => {
      await supervisor.shutdown();
      events.close();
    });
    await supervisor.start();
    const line = await waitFor(() => supervisor.logs('web@0', 50).find((l) => l.text.startsWith('env '))?.text, 20_000, 'the env line');
    expect(line.slice('env '.length).split(',')).toEqual([
      'APP_MODE',
      'APP_SETTING',
      'HANDOVER_APP_FLAG',
      'HANDOVER_POOL',
      'HANDOVER_REVISION',
      'HANDOVER_WORKER',
      'PORT',
    ]);
  });
});
