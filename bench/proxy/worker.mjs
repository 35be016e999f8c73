// The minimal worker every configuration proxies to: a fixed small answer, a session cookie
// on /login so sticky routing has something to stick to, and /healthz for the supervisor.
import { createServer } from 'node:http';

const body = Buffer.from('hello from the bench worker\n');
const port = Number(process.env.PORT);
const server = createServer((req, res) => {
  if (req.url === '/login') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length, 'set-cookie': 'JSESSIONID=bench-session-1; Path=/' });
  } else {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  }
  res.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`bench worker on ${port}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
