import 'server-only';
import { type HandoverConfig, urlHost } from '@handover/config';
import { readControlToken } from '@handover/secrets';
import { type EnvironmentOptions, handoverConfig, loadHandoverConfig } from './environment';

/** Where the supervisor's control API is and the bearer token it wants. */
export interface ControlTarget {
  /** e.g. `http://127.0.0.1:8090/` (procedures are under `trpc/`). */
  url: string;
  token: string;
}

export interface ControlConnection {
  /** Throws ControlUnavailableError when the config or the token cannot be read. */
  target(): Promise<ControlTarget>;
  /** The supervisor refused the token (it was restarted with a new one): read it again. */
  forgetToken(): void;
  /** For messages: where the supervisor should be (best effort; null when unknown). */
  describe(): Promise<string | null>;
}

/** The control API cannot be reached at all: no config, no token (no supervisor yet). */
export class ControlUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ControlUnavailableError';
  }
}

function controlUrl(config: HandoverConfig): string {
  return `http://${urlHost(config.control.host)}:${config.control.port}/`;
}

/**
 * The connection to the supervisor, built from the same configuration it uses. The token is
 * read lazily on the first request (the supervisor may create it after the console starts),
 * kept once found, and read again after the supervisor answers 401.
 */
export function createControlConnection(options: EnvironmentOptions & { config?: () => Promise<HandoverConfig> } = {}): ControlConnection {
  const env = options.env ?? process.env;
  const getConfig = options.config ?? (options.cwd !== undefined || options.env !== undefined ? () => loadHandoverConfig(options) : handoverConfig);
  let token: string | null = null;

  const config = async (): Promise<HandoverConfig> => {
    try {
      return await getConfig();
    } catch (error) {
      throw new ControlUnavailableError(`the console cannot read the Handover configuration: ${(error as Error).message}`);
    }
  };

  return {
    async target() {
      const current = await config();
      if (token === null) {
        try {
          token = (await readControlToken({ dataDir: current.dataDir, env })).token;
        } catch (error) {
          throw new ControlUnavailableError(
            `the supervisor is not running (no control token yet): ${(error as Error).message}`,
          );
        }
      }
      return { url: controlUrl(current), token };
    },
    forgetToken() {
      token = null;
    },
    async describe() {
      try {
        return controlUrl(await config());
      } catch {
        return null;
      }
    },
  };
}

let shared: ControlConnection | null = null;

/** The connection of this console process. */
export function controlConnection(): ControlConnection {
  shared ??= createControlConnection();
  return shared;
}

/**
 * A request to the supervisor with its token, sent again once with a fresh one when the answer
 * is 401: the supervisor may have been restarted with a new generated token.
 */
export async function fetchWithToken(connection: ControlConnection, send: (target: ControlTarget) => Promise<Response>): Promise<Response> {
  const first = await send(await connection.target());
  if (first.status !== 401) return first;
  await first.body?.cancel();
  connection.forgetToken();
  return send(await connection.target());
}
