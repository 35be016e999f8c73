// The peer a Node user would reach for: the `http-proxy` package, sticky by the session cookie
// (one upstream here, but the cookie is parsed and looked up as a sticky proxy must).
import { createServer, Agent } from 'node:http';
import httpProxy from 'http-proxy';

const upstreamPort = Number(process.env.UPSTREAM_PORT);
const sticky = new Map([['bench-session-1', `http://127.0.0.1:${upstreamPort}`]]);
const fallback = `http://127.0.0.1:${upstreamPort}`;
const proxy = httpProxy.createProxyServer({ agent: new Agent({ keepAlive: true, maxSockets: 256 }), xfwd: true });
proxy.on('error', (_error, _req, res) => {
  res.writeHead?.(502);
  res.end();
});
createServer((req, res) => {
  const match = /(?:^|;\s*)JSESSIONID=([^;]*)/.exec(req.headers.cookie ?? '');
  proxy.web(req, res, { target: (match && sticky.get(match[1])) ?? fallback });
}).listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('http-proxy ready\n'));
