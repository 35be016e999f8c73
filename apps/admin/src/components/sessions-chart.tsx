'use client';

import type { SessionSample } from '@handover/process-table';
import { niceTicks, seriesByWorker, stepPath, workerColour } from '@/lib/chart';
import { SERIES_WINDOW_MS } from '@/hooks/use-session-series';
import { useElementWidth } from '@/hooks/use-element-width';
import { useNow } from '@/hooks/use-now';

const HEIGHT = 220;
const MARGIN = { top: 12, right: 16, bottom: 30, left: 40 };

/**
 * Live sessions per worker over the last 10 minutes, hand-drawn in SVG: step lines (a count
 * holds until it changes), labelled axes, a legend by worker id. The numbers are also in the
 * table, so the chart is an image with a text summary for screen readers.
 */
export function SessionsChart({ samples, running }: { samples: SessionSample[]; running: ReadonlySet<string> }) {
  const now = useNow();
  const [ref, width] = useElementWidth<HTMLDivElement>(640);
  const series = seriesByWorker(samples);
  // Right after a start there are only seconds of data: zoom in (2 to 10 minutes) so the
  // lines are readable instead of a sliver at the right edge.
  const first = samples.length > 0 ? Date.parse(samples[0]!.at) : now;
  const windowMinutes = Math.min(SERIES_WINDOW_MS / 60_000, Math.max(2, Math.ceil((now - first) / 60_000)));
  const windowMs = windowMinutes * 60_000;
  const start = now - windowMs;
  let max = 0;
  for (const runs of series.values()) for (const run of runs) for (const p of run) if (p.t >= start && p.v > max) max = p.v;
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1] ?? 1;
  const innerW = Math.max(60, width - MARGIN.left - MARGIN.right);
  const innerH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (t: number) => MARGIN.left + ((Math.max(t, start) - start) / windowMs) * innerW;
  const y = (v: number) => MARGIN.top + innerH - (v / top) * innerH;
  // Minute ticks counted back from now; the left edge gets a label only if it is a full step away.
  const step = width < 480 ? Math.max(1, Math.ceil(windowMinutes / 2)) : windowMinutes <= 4 ? 1 : 2;
  const minuteTicks: number[] = [];
  for (let m = 0; m <= windowMinutes; m += step) minuteTicks.push(m);
  const ids = [...series.keys()].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const summary = ids
    .map((id) => {
      const runs = series.get(id)!;
      const last = runs[runs.length - 1]?.at(-1);
      return `${id}: ${last?.v ?? 0}`;
    })
    .join(', ');

  return (
    <figure className="chart" data-testid="sessions-chart">
      <p className="chart-window muted small">last {windowMinutes} minutes</p>
      <div ref={ref} className="chart-canvas">
        <svg
          width={width}
          height={HEIGHT}
          role="img"
          aria-label={`Live sessions per worker over the last ${windowMinutes} minutes. Now: ${summary || 'no workers'}.`}
        >
          {ticks.map((v) => (
            <g key={v}>
              <line x1={MARGIN.left} x2={MARGIN.left + innerW} y1={y(v)} y2={y(v)} className="chart-grid" />
              <text x={MARGIN.left - 8} y={y(v)} className="chart-tick" textAnchor="end" dominantBaseline="middle">
                {v}
              </text>
            </g>
          ))}
          {minuteTicks.map((m) => (
            <text key={m} x={x(now - m * 60_000)} y={HEIGHT - 10} className="chart-tick" textAnchor={m === windowMinutes ? 'start' : m === 0 ? 'end' : 'middle'}>
              {m === 0 ? 'now' : `−${m} min`}
            </text>
          ))}
          <text
            className="chart-axis-label"
            transform={`translate(12 ${MARGIN.top + innerH / 2}) rotate(-90)`}
            textAnchor="middle"
          >
            sessions
          </text>
          <line x1={MARGIN.left} x2={MARGIN.left + innerW} y1={y(0)} y2={y(0)} className="chart-axis" />
          {ids.map((id) =>
            series.get(id)!.map((run, index, runs) => {
              const isLast = index === runs.length - 1;
              const d = stepPath(
                run.filter((p, i) => p.t >= start || run[i + 1] === undefined || run[i + 1]!.t >= start),
                x,
                y,
                isLast && running.has(id) ? now : undefined,
              );
              return d === '' ? null : (
                <path key={`${id}-${index}`} d={d} fill="none" stroke={workerColour(id)} strokeWidth={2.25} strokeLinejoin="round" />
              );
            }),
          )}
        </svg>
      </div>
      <figcaption className="chart-legend">
        {ids.length === 0 ? <span className="muted small">No samples yet.</span> : null}
        {ids.map((id) => (
          <span key={id} className="legend-item">
            <span className="legend-swatch" style={{ background: workerColour(id) }} aria-hidden="true" />
            {id}
            {running.has(id) ? null : <span className="muted"> (ended)</span>}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
