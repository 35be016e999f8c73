import type { ExitInfo } from '../worker-process';

/** How event texts write a duration: one decimal of a second. */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

export function describeExit({ code, signal, unknown }: ExitInfo): string {
  if (unknown) return 'exit status unknown: a re-adopted process is not our child';
  if (signal !== null) return `signal ${signal}`;
  if (code !== null) return `exit code ${code}`;
  return 'it could not be run';
}

export function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}

/** `1 session`, `2 sessions`, `0 sessions`: a count with its noun in the right number. */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** `was` or `were`, for `n` things. */
export function wasWere(n: number): string {
  return n === 1 ? 'was' : 'were';
}

/** Who the supervisor's own decisions are recorded as. */
export const SUPERVISOR = 'supervisor';
