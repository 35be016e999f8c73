import type { SoakReport } from './soak';
import { type Summary, fmt, table } from './stats';

const ms = (s: Summary): string[] => [String(s.count), fmt(s.p50), fmt(s.p90), fmt(s.p99), fmt(s.max)];

/** The soak report as a human-readable text: what ran, the checks, the timings, the verdict. */
export function formatReport(report: SoakReport): string {
  const { options: o, requests: r, sessions: s, websockets: w, cycles: c, drains: d, end: e, latency: l, supervisorEvents: ev } = report;
  const out: string[] = [];
  out.push(
    `Soak: ${o.users} users, ${o.durationS} s of load, detach-and-sync every ${o.cycleEveryS} s, ` +
      `${Math.round(o.wsShare * 100)}% with a WebSocket, think ${o.thinkMs[0]}–${o.thinkMs[1]} ms, sessions ~${o.sessionMeanS} s, seed ${o.seed}`,
  );
  out.push('');
  const check = (value: number, zeroIsRight = true) => (zeroIsRight ? (value === 0 ? 'ok' : 'FAIL') : '');
  out.push(
    table(
      ['check', 'value', ''],
      [
        ['requests sent', String(r.sent), ''],
        ['requests answered', String(r.answered), ''],
        ['requests failed (5xx, reset, timeout, refused)', String(r.failed), check(r.failed)],
        ['  5xx / reset / timeout / refused / other', `${r.failures.status5xx} / ${r.failures.reset} / ${r.failures.timeout} / ${r.failures.refused} / ${r.failures.other}`, ''],
        ['unexpected answers (not 200)', String(r.failures.unexpectedStatus), check(r.failures.unexpectedStatus)],
        ['throughput (requests/s)', fmt(r.perSecond, 0), ''],
        ['logins / logouts', `${s.logins} / ${s.logouts}`, ''],
        ['logins that moved to a newer worker', String(s.movedToNewer), ''],
        ['responses from the wrong worker', String(s.wrongWorker), check(s.wrongWorker)],
        ['sessions whose state was lost', String(s.stateLost), check(s.stateLost)],
        ['new sessions on a detached worker', String(s.newSessionOnDetached), check(s.newSessionOnDetached)],
        ['responses with the wrong revision', String(s.wrongRevision), check(s.wrongRevision)],
        ['sessions left on the survivor after logoff', String(s.leftOnSurvivor), check(s.leftOnSurvivor)],
        ['WebSockets opened / failed to open', `${w.opened} / ${w.openFailed}`, check(w.openFailed)],
        ['WebSocket echoes / messages', `${w.echoed} / ${w.messages}`, check(w.messages - w.echoed)],
        ['WebSocket echoes from the wrong worker', String(w.wrongWorker), check(w.wrongWorker)],
        ['WebSockets closed by the server', String(w.unexpectedClose), check(w.unexpectedClose)],
        ['detach-and-sync cycles ok / failed', `${c.succeeded} / ${c.failed}`, check(c.failed)],
        ['fresh session not on the successor', String(c.probeMismatch), check(c.probeMismatch)],
        ['workers detached / drained and stopped', `${d.detached} / ${d.stopped}`, check(d.detached - d.stopped)],
        ['crashes / SIGKILLs / failed starts', `${ev.crashed} / ${ev.killed} / ${ev.failedStarts}`, check(ev.crashed + ev.killed + ev.failedStarts)],
        ['sessions lost (supervisor count)', String(ev.sessionsLost), check(ev.sessionsLost)],
        ['workers alive at the end', Object.entries(e.alive).map(([p, list]) => `${p}: ${list.length}`).join(', ') || 'none', e.converged ? 'ok' : 'FAIL'],
        ['converged after everyone logged off (ms)', fmt(e.convergeMs, 0), ''],
      ],
    ),
  );
  out.push('');
  out.push(
    table(
      ['timing (ms)', 'n', 'p50', 'p90', 'p99', 'max'],
      [
        ['detach-and-sync call → successor started', ...ms(c.switchMs)],
        ['detach-and-sync call → returned', ...ms(c.callMs)],
        ['drain: detached → stopped', ...ms(d.drainMs)],
        ['drain: last logoff answered → drained event', ...ms(d.lastLogoffToDrainedMs)],
        ['drain: drained event → process exited', ...ms(d.drainedToStoppedMs)],
        ['request latency, all', ...ms(l.all)],
        [`request latency, within ±${l.windowMs} ms of a switch`, ...ms(l.nearSwitch)],
        ['request latency, the rest', ...ms(l.rest)],
      ],
    ),
  );
  const samples = [...r.samples, ...s.samples, ...w.samples];
  if (samples.length > 0) {
    out.push('', 'first problems seen:', ...samples.map((line) => `  ${line}`));
  }
  out.push('');
  out.push(report.ok ? `PASS (${fmt(report.totalMs / 1000)} s)` : `FAIL:\n${report.problems.map((p) => `  - ${p}`).join('\n')}`);
  return out.join('\n');
}
