'use client';

import { useEffect, useMemo, useRef, useState } from 'react';
import type uPlot from 'uplot';
import type { HandoverEvent, SessionSample } from '@handover/process-table';
import { type ChartMarker, type ChartSeries, type WorkerMoments, chartMarkers, chartSeries, latestValues, mergeMarkers, workerColour } from '@/lib/chart';
import { formatClock } from '@/lib/format';
import { SERIES_WINDOW_MS } from '@/hooks/use-session-series';
import { useElementWidth } from '@/hooks/use-element-width';
import { useNow } from '@/hooks/use-now';

const HEIGHT = 220;

/**
 * Live sessions per worker over the last minutes, drawn by uPlot (#10, item 5).
 *
 * Why uPlot: it is made for exactly this — live, append-mostly time series redrawn every second
 * — on a canvas, in about 50 KB with no dependencies, where Recharts and visx re-render SVG
 * through React on every update and ECharts weighs ~1 MB for features this chart does not use.
 * It gives the cursor, the series focus (a hovered line stands out, the others fade) and
 * stepped paths; this file adds the tooltip (every worker's count at the cursor, so a line
 * hidden under another is still read), the detach/ready markers (DOM over the plot, so they
 * can be read and tested) and a legend that toggles and highlights lines.
 *
 * Step lines (a count holds until it changes); an ended worker's line drops to 0 where it
 * stopped (lib/chart.ts `chartSeries`), and is dashed.
 */
export function SessionsChart({
  samples,
  running,
  events = [],
  moments = [],
}: {
  samples: SessionSample[];
  running: ReadonlySet<string>;
  events?: readonly HandoverEvent[];
  /** Workers' ready and detach times (workers.markers and the live table). */
  moments?: readonly WorkerMoments[];
}) {
  const now = useNow();
  const [ref, width] = useElementWidth<HTMLDivElement>(640);
  const plotRef = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | null>(null);
  const markersRef = useRef<ChartMarker[]>([]);
  const [hidden, setHidden] = useState<ReadonlySet<string>>(new Set());
  // Right after a start there are only seconds of data: zoom in (2 to 10 minutes).
  const first = samples.length > 0 ? Date.parse(samples[0]!.at) : now;
  const windowMinutes = Math.min(SERIES_WINDOW_MS / 60_000, Math.max(2, Math.ceil((now - first) / 60_000)));
  const start = now - windowMinutes * 60_000;

  const series = useMemo(() => chartSeries(samples, running, now), [samples, running, now]);
  markersRef.current = useMemo(() => mergeMarkers(moments, chartMarkers(events, start), start), [moments, events, start]);
  const latest = latestValues(series);
  const ended = series.ids.filter((id) => !running.has(id));
  // The chart is rebuilt when its lines change (a worker appears or ends), else only fed data.
  const shape = series.ids.map((id) => `${id}${running.has(id) ? '' : '~'}`).join(',');

  useEffect(() => {
    let cancelled = false;
    let made: uPlot | null = null;
    void import('uplot').then(({ default: UPlot }) => {
      if (cancelled || plotRef.current === null) return;
      made = new UPlot(chartOptions(UPlot, series, running, width, markersRef), toAligned(series), plotRef.current);
      made.setScale('x', { min: start, max: now });
      chart.current = made;
    });
    return () => {
      cancelled = true;
      made?.destroy();
      chart.current = null;
    };
    // Rebuilt only when the set of lines changes; data, size and window follow below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape]);

  useEffect(() => {
    const u = chart.current;
    if (u === null) return;
    u.batch(() => {
      u.setData(toAligned(series), false);
      u.setScale('x', { min: start, max: now });
    });
  }, [series, start, now]);

  useEffect(() => {
    chart.current?.setSize({ width, height: HEIGHT });
  }, [width]);

  useEffect(() => {
    const u = chart.current;
    if (u === null) return;
    series.ids.forEach((id, i) => u.setSeries(i + 1, { show: !hidden.has(id) }));
  }, [hidden, series.ids, shape]);

  const summary = series.ids.map((id) => `${id}: ${latest.get(id) ?? 0}${running.has(id) ? '' : ' (ended)'}`).join(', ');
  const focus = (id: string | null) => {
    const u = chart.current;
    if (u === null) return;
    u.setSeries(id === null ? null : series.ids.indexOf(id) + 1, { focus: true });
  };

  return (
    <figure className="chart" data-testid="sessions-chart">
      <p className="chart-window muted small">last {windowMinutes} minutes</p>
      <div ref={ref} className="chart-canvas" role="img" aria-label={`Live sessions per worker over the last ${windowMinutes} minutes. Now: ${summary || 'no workers'}.`}>
        <div ref={plotRef} className="chart-plot" />
      </div>
      <p className="sr-only" data-testid="chart-summary">
        Now: {summary || 'no workers'}
      </p>
      <figcaption className="chart-legend" onMouseLeave={() => focus(null)}>
        {series.ids.length === 0 ? <span className="muted small">No samples yet.</span> : null}
        {series.ids.map((id) => (
          <button
            key={id}
            type="button"
            className={`legend-item${hidden.has(id) ? ' legend-off' : ''}`}
            aria-pressed={!hidden.has(id)}
            title={hidden.has(id) ? `Show ${id}` : `Hide ${id}`}
            onMouseEnter={() => focus(id)}
            onFocus={() => focus(id)}
            onClick={() =>
              setHidden((current) => {
                const next = new Set(current);
                if (next.has(id)) next.delete(id);
                else next.add(id);
                return next;
              })
            }
            data-testid={`chart-legend-${id}`}
          >
            <span className={`legend-swatch${running.has(id) ? '' : ' legend-swatch-ended'}`} style={{ borderColor: workerColour(id) }} aria-hidden="true" />
            {id}{' '}
            <span className="legend-value">{latest.get(id) ?? 0}</span>
            {ended.includes(id) ? <span className="muted"> (ended)</span> : null}
          </button>
        ))}
      </figcaption>
    </figure>
  );
}

function toAligned(series: ChartSeries): uPlot.AlignedData {
  return [series.xs, ...series.ys];
}

const MARKER_LABEL: Record<ChartMarker['what'], string> = {
  ready: 'ready',
  detached: 'detached',
  reattached: 'reattached',
  failed: 'failed',
  stopped: 'stopped',
};

function chartOptions(
  UPlot: typeof uPlot,
  series: ChartSeries,
  running: ReadonlySet<string>,
  width: number,
  markers: { current: ChartMarker[] },
): uPlot.Options {
  const stepped = UPlot.paths.stepped!({ align: 1 });
  return {
    width,
    height: HEIGHT,
    ms: 1,
    legend: { show: false },
    focus: { alpha: 0.25 },
    cursor: { focus: { prox: 30 }, points: { size: 7 }, drag: { x: false, y: false } },
    scales: {
      x: { time: true },
      y: { range: (_u, _min, max) => [0, Math.max(2, Math.ceil((max ?? 0) * 1.15))] },
    },
    axes: [
      {
        stroke: '#5b6474',
        grid: { stroke: '#eceef2' },
        ticks: { stroke: '#c9ced8' },
        space: 64,
        // Clock times, one line: HH:MM on the minute, HH:MM:SS between.
        values: (_u, splits) => splits.map((v) => (v % 60_000 === 0 ? formatClock(v).slice(0, 5) : formatClock(v))),
      },
      {
        stroke: '#5b6474',
        label: 'sessions',
        labelSize: 18,
        size: 40,
        grid: { stroke: '#eceef2' },
        ticks: { stroke: '#c9ced8' },
        incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000],
        values: (_u, splits) => splits.map((v) => String(v)),
      },
    ],
    series: [
      {},
      ...series.ids.map((id): uPlot.Series => {
        const live = running.has(id);
        return {
          label: id,
          stroke: workerColour(id),
          // Ended lines dashed and wider underneath; live ones drawn after (on top), thinner,
          // so two lines at the same count both stay visible.
          width: live ? 2.25 : 3.5,
          ...(live ? {} : { dash: [6, 4], alpha: 0.75 }),
          paths: stepped,
          points: { show: false },
          spanGaps: false,
        };
      }),
    ],
    plugins: [tooltipPlugin(series.ids, markers), markersPlugin(markers)],
  };
}

/** Every worker's count at the cursor, the time on top: reads lines hidden under another. */
function tooltipPlugin(ids: readonly string[], markers: { current: ChartMarker[] }): uPlot.Plugin {
  let tip: HTMLDivElement;
  return {
    hooks: {
      init: (u) => {
        tip = document.createElement('div');
        tip.className = 'chart-tooltip';
        tip.dataset.testid = 'chart-tooltip';
        tip.hidden = true;
        u.over.appendChild(tip);
        u.over.addEventListener('mouseleave', () => (tip.hidden = true));
      },
      setCursor: (u) => {
        const idx = u.cursor.idx;
        const left = u.cursor.left ?? -1;
        if (idx === null || idx === undefined || left < 0) {
          tip.hidden = true;
          return;
        }
        const x = u.data[0][idx]!;
        const rows = ids
          .map((id, i) => ({ id, v: u.data[i + 1]![idx] as number | null | undefined, shown: u.series[i + 1]!.show }))
          .filter((r) => r.v !== null && r.v !== undefined && r.shown)
          .sort((a, b) => b.v! - a.v! || a.id.localeCompare(b.id, 'en', { numeric: true }));
        tip.replaceChildren();
        const head = document.createElement('div');
        head.className = 'chart-tooltip-time';
        head.textContent = formatClock(x);
        tip.appendChild(head);
        for (const r of rows) {
          const line = document.createElement('div');
          const swatch = document.createElement('span');
          swatch.className = 'chart-tooltip-swatch';
          swatch.style.background = workerColour(r.id);
          line.append(swatch, `${r.id} `, Object.assign(document.createElement('strong'), { textContent: String(r.v) }));
          tip.appendChild(line);
        }
        if (rows.length === 0) tip.appendChild(Object.assign(document.createElement('div'), { textContent: 'no worker running' }));
        // Markers within a few pixels of the cursor: their labels may not fit on the plot.
        const at = u.posToVal(left, 'x');
        const near = Math.abs(u.posToVal(left + 6, 'x') - at);
        for (const m of markers.current) {
          if (Math.abs(m.t - at) > near) continue;
          tip.appendChild(Object.assign(document.createElement('div'), { className: 'chart-tooltip-marker', textContent: `${formatClock(m.t)} ${m.worker} ${MARKER_LABEL[m.what]}` }));
        }
        tip.hidden = false;
        const overWidth = u.over.clientWidth;
        const placeLeft = left > overWidth / 2;
        tip.style.left = placeLeft ? '' : `${left + 12}px`;
        tip.style.right = placeLeft ? `${overWidth - left + 12}px` : '';
        tip.style.top = `${Math.max(0, (u.cursor.top ?? 0) - 20)}px`;
      },
    },
  };
}

/** Vertical lines where a worker became ready, was detached, reattached or failed. */
function markersPlugin(markers: { current: ChartMarker[] }): uPlot.Plugin {
  let layer: HTMLDivElement;
  return {
    hooks: {
      init: (u) => {
        layer = document.createElement('div');
        layer.className = 'chart-markers';
        u.over.appendChild(layer);
      },
      draw: (u) => {
        const min = u.scales.x!.min ?? 0;
        const max = u.scales.x!.max ?? 0;
        layer.replaceChildren();
        // Two rows of labels; a label that would overlap the one before it in both rows is
        // left out (its line stays, and the tooltip names it).
        const rowEnds = [-Infinity, -Infinity];
        for (const m of markers.current) {
          if (m.t < min || m.t > max) continue;
          const left = u.valToPos(m.t, 'x');
          const el = document.createElement('div');
          el.className = `chart-marker chart-marker-${m.what}`;
          el.dataset.testid = 'chart-marker';
          el.style.left = `${left}px`;
          el.style.borderColor = workerColour(m.worker);
          const label = document.createElement('span');
          label.className = 'chart-marker-label';
          label.textContent = `${m.worker} ${MARKER_LABEL[m.what]}`;
          const width = label.textContent.length * 6.7 + 8;
          // Near the right edge the label goes to the left of its line.
          const flip = left + width > u.over.clientWidth;
          const from = flip ? left - width : left;
          const row = rowEnds.findIndex((end) => end < from);
          if (row === -1) label.classList.add('chart-marker-label-hidden');
          else {
            rowEnds[row] = from + width;
            if (row === 1) label.style.top = '1.1rem';
            if (flip) label.classList.add('chart-marker-label-flipped');
          }
          el.appendChild(label);
          layer.appendChild(el);
        }
      },
    },
  };
}
