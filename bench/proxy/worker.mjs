// The minimal worker every configuration proxies to: a fixed small answer, a session cookie
// on /login so sticky routing has something to stick to, a new session on every /new (the
// new-session scenario: the proxy learns a binding per request), and /healthz for the supervisor.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

const body = Buffer.from('hello from the bench worker\n');
const port = Number(process.env.PORT);
const server = createServer((req, res) => {
  if (req.url === '/new') {
    // Random, as real ids are (sequential ones would flatter an index keyed by id).
    const id = randomBytes(18).toString('base64url');
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, 'set-cookie': `JSESSIONID=${id}; Path=/; HttpOnly` });
  } else if (req.url === '/login') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, 'set-cookie': 'JSESSIONID=bench-session-1; Path=/' });
  } else {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  }
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`bench worker on ${port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
