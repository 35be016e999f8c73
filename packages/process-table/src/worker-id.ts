export const POOL_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;
export const WORKER_ID_PATTERN = /^([a-z][a-z0-9-]{0,31})@(\d{1,9})$/;

export function workerId(pool: string, generation: number): string {
  return `${pool}@${generation}`;
}

export function parseWorkerId(id: string): { pool: string; generation: number } | null {
  const match = WORKER_ID_PATTERN.exec(id);
  if (match === null) return null;
  return { pool: match[1] as string, generation: Number(match[2]) };
}
