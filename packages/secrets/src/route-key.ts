import path from 'node:path';
import { randomSecret, resolveSecretFile } from './secret-file';

/** The file in the data directory that holds the key the proxy signs its route cookies with. */
export const ROUTE_KEY_FILE = 'route-key';

/**
 * The route cookie key: generated once, kept in the data directory (0600) so a restarted
 * supervisor still accepts the cookies its predecessor handed out.
 */
export async function resolveRouteKey(options: { dataDir: string }): Promise<Buffer> {
  const { value } = await resolveSecretFile(
    {
      file: path.join(options.dataDir, ROUTE_KEY_FILE),
      what: 'the route cookie key',
      minLength: 32,
      regenerateHint: 'restart the supervisor (route cookies handed out before are then ignored, nothing else)',
    },
    randomSecret,
  );
  return Buffer.from(value, 'utf8');
}
