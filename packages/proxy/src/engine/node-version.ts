/**
 * The proxy trusts llhttp (Node's HTTP parser) to refuse ambiguous framing; releases before
 * 20.19.2 / 22.x lack fixes for known request-smuggling cases (e.g. CVE-2025-23167, chunk
 * extensions and obs-fold leniencies), so a proxy on them would let through what this one
 * promises to refuse.
 */
export const SAFE_NODE = '20.19.2 (or 22.x and later)';

export function isSafeNodeVersion(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version.replace(/^v/, '').split('.').map((part) => Number.parseInt(part, 10));
  if (major >= 22) return true;
  if (major !== 20) return false;
  return minor > 19 || (minor === 19 && patch >= 2);
}

export function assertSafeNodeVersion(version: string = process.versions.node): void {
  if (isSafeNodeVersion(version)) return;
  throw new Error(
    `Node.js ${version} is too old for the Handover proxy: its HTTP parser lacks request-smuggling fixes. ` +
      `Install Node.js ${SAFE_NODE}.`,
  );
}
