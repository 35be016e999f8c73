/**
 * The files docs/production.md tells operators to install: the systemd units must be accepted
 * by systemd itself, point at what this repository really builds and runs, and keep the stop
 * order (SIGTERM to the keeper alone).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './harness';

const UNITS = join(REPO_ROOT, 'deploy/systemd');
const unit = (name: string) => readFileSync(join(UNITS, name), 'utf8');
/** `Key=value` of a unit file (the last one wins, as in systemd). */
const setting = (text: string, key: string) => [...text.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].at(-1)?.[1];

describe('deploy/systemd', () => {
  it('systemd-analyze verify accepts both units', () => {
    const out = execFileSync('systemd-analyze', ['verify', join(UNITS, 'handover.service'), join(UNITS, 'handover-console.service')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toBe('');
  });

  it('handover.service runs the CLI this repository ships, and stops through the keeper alone', () => {
    const text = unit('handover.service');
    const exec = setting(text, 'ExecStart')!.split(' ');
    expect(exec[1]).toBe('/opt/handover/apps/supervisor/bin/handover.mjs');
    expect(existsSync(join(REPO_ROOT, exec[1]!.replace('/opt/handover/', '')))).toBe(true);
    expect(exec.slice(2, 3)).toEqual(['start']);
    expect(setting(text, 'KillMode')).toBe('process');
    expect(setting(text, 'KillSignal')).toBe('SIGTERM');
  });

  it('handover-console.service runs the console’s start script and trusts only the terminator in front', () => {
    const text = unit('handover-console.service');
    const script = setting(text, 'ExecStart')!.split(' ')[1]!;
    expect(existsSync(join(REPO_ROOT, script.replace('/opt/handover/', '')))).toBe(true);
    expect(setting(text, 'Environment')).toMatch(/HANDOVER_ADMIN_TRUST_PROXY=1/);
  });
});
