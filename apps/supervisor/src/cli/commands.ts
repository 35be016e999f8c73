/** The commands the CLI knows: usage, summary, the arguments and options each takes; the help text. */
export type OptionName = 'json' | 'sync' | 'dry-run' | 'stop-now' | 'lines' | 'follow' | 'keep-workers' | 'export' | 'worker' | 'pool' | 'type' | 'actor' | 'listen' | 'node' | 'stats' | 'fleet';

export interface CommandSpec {
  usage: string;
  summary: string;
  /** Allowed positional arguments: [min, max]. */
  args: [number, number];
  options: ReadonlyArray<OptionName>;
}

export const COMMANDS: Record<string, CommandSpec> = {
  start: {
    usage: 'start [--config FILE]',
    summary: 'run the supervisor, the proxy and the workers (until Ctrl-C); re-adopts workers a previous supervisor left running',
    args: [0, 0],
    options: [],
  },
  stop: {
    usage: 'stop [--keep-workers] [--json]',
    summary: 'stop the supervisor and every worker; --keep-workers leaves the workers running for the next start to re-adopt',
    args: [0, 0],
    options: ['keep-workers', 'json'],
  },
  status: { usage: 'status [--json]', summary: 'workers and pools', args: [0, 0], options: ['json'] },
  detach: {
    usage: 'detach <worker> [--sync] [--json]',
    summary: 'stop giving new sessions to a worker; --sync first starts its successor on the configured revision',
    args: [1, 1],
    options: ['sync', 'json'],
  },
  sync: {
    usage: 'sync [pool] [--dry-run] [--json]',
    summary:
      're-read the configuration; replace attached workers on another revision or command (each detached once its successor is ready) and start workers where a pool has fewer attached than wanted; --dry-run only says what it would do',
    args: [0, 1],
    options: ['dry-run', 'json'],
  },
  drain: {
    usage: 'drain <worker> [-n N] [--stop-now] [--json]',
    summary:
      "what a detached worker still holds (its sessions, ids shortened, when each expires), its deadline and expected end; --stop-now stops it now (what is left is lost)",
    args: [1, 1],
    options: ['lines', 'stop-now', 'json'],
  },
  reattach: { usage: 'reattach <worker> [--json]', summary: 'let a detached worker take new sessions again (rollback)', args: [1, 1], options: ['json'] },
  logs: { usage: 'logs <worker> [-n N] [--json]', summary: "a worker's last output lines (default 200)", args: [1, 1], options: ['lines', 'json'] },
  events: {
    usage: 'events [-n N] [--follow] [--json] [--export FILE] [--worker W] [--pool P] [--type T] [--actor A]',
    summary:
      'the event log: state changes and who did what (default last 20); --follow streams new ones; --export writes the whole log to FILE as JSON lines; ' +
      '--worker, --pool, --type (worker.stopped, or a prefix: worker.) and --actor keep only the events that match',
    args: [0, 0],
    options: ['lines', 'follow', 'json', 'export', 'worker', 'pool', 'type', 'actor'],
  },
  node: {
    usage: 'node <drain|ready|status> [--json]',
    summary:
      'this node in a fleet behind HAProxy: drain (the front sends it no new clients, its own keep coming; says when nothing is left), ready (takes new clients again), status',
    args: [1, 1],
    options: ['json'],
  },
  fleet: {
    usage: 'fleet <status|sync> [--fleet FILE] [--json]',
    summary:
      'every node of the fleet file (default ./handover.fleet.json or $HANDOVER_FLEET): status, or sync = a rolling detach-and-sync, node after node, stopping at the first failure',
    args: [1, 1],
    options: ['fleet', 'json'],
  },
  'haproxy-config': {
    usage: 'haproxy-config --listen HOST:PORT --node NAME=HOST:PORT[@CONTROLHOST:PORT] … [--stats HOST:PORT]',
    summary: 'print a haproxy.cfg for HAProxy in front of one Handover per node (node cookie, redispatch, drain by /node-health); no supervisor needed',
    args: [0, 0],
    options: ['listen', 'node', 'stats'],
  },
  help: { usage: 'help [command]', summary: 'this help', args: [0, 1], options: [] },
};

export function helpText(): string {
  const width = Math.max(...Object.values(COMMANDS).map((c) => c.usage.length));
  return [
    'Usage: handover <command> [options]',
    '',
    'Commands:',
    ...Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  --config FILE   the configuration (default: $HANDOVER_CONFIG, else ./handover.config.json)',
    '  -h, --help      show this help',
    '',
    'The CLI finds the running supervisor through the same configuration: control.host and',
    'control.port, and the token in HANDOVER_CONTROL_TOKEN or <dataDir>/control-token.',
    '',
  ].join('\n');
}
