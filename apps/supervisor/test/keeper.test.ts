import { describe, expect, it } from 'vitest';
import { parseConfig } from '@handover/config';
import { inheritedSockets, keptAddresses } from '../src/keeper';

describe('keeper: what it hands to the supervisor', () => {
  it('parses HANDOVER_INHERITED_SOCKETS, skipping anything that is not host:port=fd with fd > 2', () => {
    const sockets = inheritedSockets({ HANDOVER_INHERITED_SOCKETS: '127.0.0.1:8080=4,::1:8081=5,bad,x=1,y=abc,=6' });
    expect([...sockets]).toEqual([
      ['127.0.0.1:8080', 4],
      ['::1:8081', 5],
    ]);
    expect(inheritedSockets({}).size).toBe(0);
    expect(inheritedSockets({ HANDOVER_INHERITED_SOCKETS: '' }).size).toBe(0);
  });

  it('holds the public port of every pool (the first pool on proxy.port) and the control port, never port 0', () => {
    const config = parseConfig(
      {
        proxy: { port: 8080, host: '0.0.0.0' },
        pools: [
          { name: 'web', command: 'x', basePort: 9000, sessionCookie: 'a' },
          { name: 'api', command: 'y', basePort: 9100, sessionCookie: 'b', proxyPort: 8081 },
        ],
      },
      { configPath: '/srv/handover.config.json', env: {} },
    );
    expect(keptAddresses(config)).toEqual([
      { host: '0.0.0.0', port: 8080 },
      { host: '0.0.0.0', port: 8081 },
      { host: '127.0.0.1', port: 8090 },
    ]);
    const zero = { ...config, proxy: { ...config.proxy, port: 0 }, control: { ...config.control, port: 0 }, pools: [config.pools[0]!] };
    expect(keptAddresses(zero)).toEqual([]);
  });
});
