import { parseArgs } from 'node:util';
import { DEFAULT_OPTIONS, type SoakOptions } from './soak';

export const USAGE = `usage: npm run soak -- [options]
  --users N          concurrent simulated users (default ${DEFAULT_OPTIONS.users})
  --duration S       seconds of load (default ${DEFAULT_OPTIONS.durationS})
  --cycle-every S    seconds between detach-and-sync cycles (default ${DEFAULT_OPTIONS.cycleEveryS})
  --ws-share F       share of users holding a WebSocket, 0..1 (default ${DEFAULT_OPTIONS.wsShare})
  --think MIN-MAX    think time between a user's requests, ms (default ${DEFAULT_OPTIONS.thinkMs.join('-')})
  --session-mean S   mean time a user stays logged on, s (default ${DEFAULT_OPTIONS.sessionMeanS})
  --drain-timeout S  how long old workers get to stop once everyone logged off (default ${DEFAULT_OPTIONS.drainTimeoutS})
  --seed N           PRNG seed (default ${DEFAULT_OPTIONS.seed})
  --json             print the full report as JSON on stdout (progress still goes to stderr)
  --quiet            no progress lines`;

export function parseSoakArgs(argv: string[]): { options: Partial<SoakOptions>; json: boolean; quiet: boolean; help: boolean } {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      users: { type: 'string' },
      duration: { type: 'string' },
      'cycle-every': { type: 'string' },
      'ws-share': { type: 'string' },
      think: { type: 'string' },
      'session-mean': { type: 'string' },
      'drain-timeout': { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const num = (name: string, value: string | undefined, min: number, max: number, integer = false): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
  const options: Partial<SoakOptions> = {};
  const set = <K extends keyof SoakOptions>(key: K, value: SoakOptions[K] | undefined) => {
    if (value !== undefined) options[key] = value;
  };
  set('users', num('users', values.users, 1, 5000, true));
  set('durationS', num('duration', values.duration, 1, 3600));
  set('cycleEveryS', num('cycle-every', values['cycle-every'], 0.2, 3600));
  set('wsShare', num('ws-share', values['ws-share'], 0, 1));
  set('sessionMeanS', num('session-mean', values['session-mean'], 0.1, 3600));
  set('drainTimeoutS', num('drain-timeout', values['drain-timeout'], 1, 3600));
  set('seed', num('seed', values.seed, 0, 2 ** 32 - 1, true));
  if (values.think !== undefined) {
    const match = /^(\d+)-(\d+)$/.exec(values.think);
    if (!match || Number(match[1]) > Number(match[2])) throw new Error(`--think must look like 50-150 (ms, min-max), got ${JSON.stringify(values.think)}`);
    options.thinkMs = [Number(match[1]), Number(match[2])];
  }
  return { options, json: values.json ?? false, quiet: values.quiet ?? false, help: values.help ?? false };
}

