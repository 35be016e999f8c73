/**
 * Where to go after logging in: a path on this origin only. `//evil.example` and `/\evil`
 * are protocol-relative URLs to a browser, so they fall back to the dashboard.
 */
export function safeNextPath(value: unknown): string {
  if (typeof value !== 'string' || value === '') return '/';
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  if (/[\u0000-\u001f]/.test(value) || value.startsWith('/login')) return '/';
  return value;
}
