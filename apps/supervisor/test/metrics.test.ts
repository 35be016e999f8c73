/**
 * `GET /metrics` on the control port, scraped by a real Prometheus (Debian's `prometheus`) with
 * the control token, as an operator would configure it; a scrape with a wrong token fails.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { asyncResource, tempDir } from '../../../test-support/resources';
import { exitOf, startOnFreePort } from '../../../test-support/ports';
import { Client, REPO_ROOT, TestSupervisor, demoPool, waitFor } from './harness';

/** The PromQL of every panel of docs/grafana/handover-dashboard.json. */
function dashboardQueries(): string[] {
  const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, 'docs/grafana/handover-dashboard.json'), 'utf8')) as {
    panels: Array<{ targets: Array<{ expr: string }> }>;
  };
  return dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
}

const prometheusInstalled = (() => {
  try {
    execFileSync('prometheus', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** A Prometheus scraping the control port every 200 ms: one job with the token, one with a wrong one. */
async function startPrometheus(dir: string, controlPort: number, token: string) {
  const config = join(dir, 'prometheus.yml');
  const job = (name: string, credentials: string) => `
  - job_name: ${name}
    scrape_interval: 200ms
    scrape_timeout: 150ms
    authorization:
      type: Bearer
      credentials: ${credentials}
    static_configs:
      - targets: ['127.0.0.1:${controlPort}']`;
  await writeFile(config, `global:\n  scrape_interval: 200ms\nscrape_configs:${job('handover', token)}${job('wrong-token', 'not-the-token-0123456789')}\n`);
  const { child, port } = await startOnFreePort(
    'prometheus',
    (p) =>
      spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${p}`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    async (p) => (await fetch(`http://127.0.0.1:${p}/-/ready`).catch(() => undefined))?.ok === true,
    30_000,
  );
  const api = async (path: string): Promise<any> => {
    const answer = (await (await fetch(`http://127.0.0.1:${port}/api/v1/${path}`)).json()) as { status: string; error?: string; data: unknown };
    if (answer.status !== 'success') throw new Error(`Prometheus refused ${path}: ${answer.error}`);
    return answer.data;
  };
  return asyncResource(
    {
      query: async (expr: string): Promise<Sample[]> => (await api(`query?query=${encodeURIComponent(expr)}`)).result as Sample[],
      targets: async () => (await api('targets')).activeTargets as Array<{ labels: { job: string }; health: string; lastError: string }>,
    },
    async () => {
      const exited = exitOf(child);
      child.kill('SIGTERM');
      await exited;
    },
  );
}

describe('GET /metrics', () => {
  it('prometheus is installed (.ci/run installs it)', () => {
    expect(prometheusInstalled).toBe(true);
  });

  it('a real Prometheus scrapes per-worker sessions, states and proxy responses with the control token; a wrong token is refused', async () => {
    await using dir = await tempDir('handover-prometheus-');
    await using harness = await TestSupervisor.launch(demoPool('v1'));
    const alice = new Client(harness.proxyUrl);
    await alice.post('/login', JSON.stringify({ user: 'alice' }));
    await alice.get('/');
    await using prometheus = await startPrometheus(dir.path, harness.running.control.port, harness.running.token.value);

    await waitFor(
      async () => {
        const targets = await prometheus.targets();
        return targets.length === 2 && targets.every((t) => t.health !== 'unknown') ? targets : undefined;
      },
      20_000,
      'both targets scraped',
    ).then((targets) => {
      expect(targets.find((t) => t.labels.job === 'handover')?.health).toBe('up');
      const wrong = targets.find((t) => t.labels.job === 'wrong-token');
      expect(wrong?.health).toBe('down');
      expect(wrong?.lastError).toMatch(/401/);
    });

    const sessions = await waitFor(async () => {
      const result = await prometheus.query('handover_worker_sessions{worker="web@0"}');
      return result.length === 1 ? result[0] : undefined;
    }, 20_000, 'the session gauge');
    expect(Number(sessions!.value[1])).toBe(harness.worker('web@0').sessions);
    expect(sessions!.metric).toMatchObject({ pool: 'web', revision: 'v1' });

    const state = await prometheus.query('handover_worker_state{worker="web@0"} == 1');
    expect(state.map((s) => s.metric.state)).toEqual(['started']);
    const answered = await prometheus.query('sum(handover_proxy_responses_total)');
    expect(Number(answered[0]!.value[1])).toBeGreaterThanOrEqual(2);
    expect(await prometheus.query('handover_proxy_responses_total{class="5xx"} > 0')).toEqual([]);
    const heads = await prometheus.query('handover_proxy_response_head_seconds_count');
    expect(Number(heads[0]!.value[1])).toBeGreaterThanOrEqual(2);
    const memory = await prometheus.query('handover_process_resident_memory_bytes');
    expect(Number(memory[0]!.value[1])).toBeGreaterThan(0);

    // A detach-and-sync shows up as a drain started, and the new worker's row.
    await harness.writeConfig(demoPool('v2'));
    await harness.supervisor.detachAndSync('web@0', 'operator');
    const drains = await waitFor(async () => {
      const result = await prometheus.query('handover_drains_started_total{pool="web"} == 1');
      return result.length === 1 ? result : undefined;
    }, 20_000, 'the drain counted');
    expect(drains).toHaveLength(1);
    const detached = await waitFor(async () => {
      const result = await prometheus.query('handover_worker_state{state="detached"} == 1');
      return result.length === 1 ? result : undefined;
    }, 20_000, 'web@0 detached');
    expect(detached[0]!.metric.worker).toBe('web@0');

    // Every query of the Grafana dashboard in docs/ is valid PromQL over series that exist.
    const text = await (await fetch(`${harness.running.control.url}metrics`, { headers: { authorization: `Bearer ${harness.running.token.value}` } })).text();
    const exposed = new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]));
    for (const expr of dashboardQueries()) {
      for (const name of (expr.match(/\bhandover_[a-z_]+/g) ?? []).map((n) => n.replace(/_bucket$/, ''))) expect(exposed, `${name} in the dashboard`).toContain(name);
      await prometheus.query(expr.replaceAll('$pool', '.*').replaceAll('$__range', '5m'));
    }
  });

  it('answers 401 without the token, 405 to a POST, and never through the proxy', async () => {
    await using harness = await TestSupervisor.launch(demoPool('v1'));
    const url = `${harness.running.control.url}metrics`;
    const anonymous = await fetch(url);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const authorized = { authorization: `Bearer ${harness.running.token.value}` };
    expect((await fetch(url, { method: 'POST', headers: authorized })).status).toBe(405);
    const scraped = await fetch(url, { headers: authorized });
    expect(scraped.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await scraped.text()).toMatch(/^handover_worker_sessions\{pool="web",worker="web@0",revision="v1"\} 0$/m);
    // The proxy's port is the app's: /metrics there is whatever the app answers, never ours.
    expect(await (await fetch(`${harness.proxyUrl}/metrics`, { headers: authorized })).text()).not.toMatch(/handover_worker_sessions/);
  });
});
