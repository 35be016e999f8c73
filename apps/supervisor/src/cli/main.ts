// The `handover` CLI entry point (bin/handover.mjs imports this through tsx).
import { runCli } from './run';

const stop = new AbortController();
// Ctrl-C ends `events --follow` cleanly; `start` installs its own handlers and exits itself.
const onSigint = () => stop.abort();
const command = process.argv.slice(2).find((a) => !a.startsWith('-'));
if (command !== 'start') process.once('SIGINT', onSigint);

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  signal: stop.signal,
});
process.off('SIGINT', onSigint);
// `start` reports its own failures through process.exitCode: never overwrite a failure with 0.
if (code !== 0) process.exitCode = code;
// After Ctrl-C on `events --follow`, do not wait for idle keep-alive sockets to time out.
if (stop.signal.aborted) process.exit();
