/**
 * The zero-downtime soak, from the command line:
 *   npm run soak -- [--users N] [--duration S] [--cycle-every S] [--ws-share F] [--json] …
 * Exits 0 only when every check holds (no failed request, no wrong worker, no lost state,
 * every old worker drained and stopped, one worker left).
 */
import { USAGE, parseSoakArgs } from './cli-args';
import { formatReport } from './report';
import { runSoak } from './soak';

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseSoakArgs>;
  try {
    parsed = parseSoakArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (parsed.help) {
    console.log(USAGE);
    return;
  }
  const log = parsed.quiet ? undefined : (line: string) => console.error(`[soak] ${line}`);
  const report = await runSoak({ ...parsed.options, log });
  if (parsed.json) console.log(JSON.stringify(report, null, 2));
  else console.log(formatReport(report));
  process.exitCode = report.ok ? 0 : 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
