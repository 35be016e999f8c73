/**
 * A small, strict, incremental HTTP/1.1 parser of our own, used by the echo worker (requests the
 * proxy forwards) and by the fuzz client (responses the proxy relays). It deliberately does not
 * use llhttp or node:http: the point is to see exactly the bytes the proxy wrote, so anything a
 * lenient parser would normalise (bare CR/LF, obs-fold, CL+TE, duplicate CL, bad chunks) is an
 * error here and therefore a finding.
 */
export type Header = [name: string, value: string];

export interface Message {
  method: string;
  target: string;
  version: string;
  status: number;
  reason: string;
  headers: Header[];
  trailers: Header[];
  framing: 'none' | 'length' | 'chunked' | 'close';
  bodyParts: Buffer[];
  bodyLength: number;
  complete: boolean;
}

export interface WireEvents {
  /** The head is parsed; the body (if any) follows. */
  onHead?(msg: Message): void;
  onBody?(msg: Message): void;
  onMessage(msg: Message): void;
  onError(reason: string): void;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALUE = /^[\t \x21-\x7e\x80-\xff]*$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) (HTTP\/1\.[01])$/;
const STATUS_LINE = /^(HTTP\/1\.[01]) ([1-9]\d\d) ([\t \x21-\x7e\x80-\xff]*)$/;
const CHUNK_LINE = /^([0-9A-Fa-f]{1,8})((?:;[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:=(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"[^"\\\r\n]*"))?)*)$/;
const MAX_HEAD = 64 * 1024;

export function headerValues(headers: readonly Header[], lowerName: string): string[] {
  return headers.filter(([n]) => n.toLowerCase() === lowerName).map(([, v]) => v);
}

export function bodyOf(msg: Message): Buffer {
  return Buffer.concat(msg.bodyParts);
}

export class WireParser {
  private buf: Buffer = Buffer.alloc(0);
  private state: 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'done' | 'failed' = 'head';
  private msg: Message | undefined;
  private remaining = 0;
  failed: string | undefined;

  constructor(
    private readonly kind: 'request' | 'response',
    private readonly events: WireEvents,
    /** Responses: whether this final response has no body (it answers a HEAD). */
    private readonly bodylessNext: (msg: Message) => boolean = () => false,
  ) {}

  /** No message under way and nothing buffered. */
  get idle(): boolean {
    return this.state === 'head' && this.buf.length === 0;
  }

  get current(): Message | undefined {
    return this.msg;
  }

  /** Stops parsing (a 101 switched protocols); returns the bytes not parsed. */
  stop(): Buffer {
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    this.state = 'done';
    return rest;
  }

  feed(chunk: Buffer): void {
    if (this.state === 'done' || this.state === 'failed') return;
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.step());
  }

  /** The peer closed: completes a close-framed body; a message cut short is an error. */
  end(): void {
    if (this.state === 'body' && this.msg?.framing === 'close') {
      this.complete();
      return;
    }
    if (this.state !== 'head' || this.buf.length > 0) {
      if (this.state !== 'done' && this.state !== 'failed') this.fail(`connection closed mid-message (${this.state})`);
    }
  }

  private fail(reason: string): false {
    this.state = 'failed';
    this.failed = reason;
    this.events.onError(reason);
    return false;
  }

  /** One CRLF-terminated line at the start of the buffer, or undefined (need more), or false (error). */
  private line(): string | undefined | false {
    const lf = this.buf.indexOf(10);
    const cr = this.buf.indexOf(13);
    if (lf === -1) {
      if (cr !== -1 && cr < this.buf.length - 1) return this.fail('bare CR');
      if (this.buf.length > MAX_HEAD) return this.fail('line too long');
      return undefined;
    }
    if (lf === 0 || this.buf[lf - 1] !== 13) return this.fail('bare LF');
    if (cr !== lf - 1) return this.fail('bare CR');
    const text = this.buf.toString('latin1', 0, lf - 1);
    this.buf = this.buf.subarray(lf + 1);
    return text;
  }

  private step(): boolean {
    switch (this.state) {
      case 'head':
        return this.head();
      case 'body': {
        if (this.buf.length === 0) return false;
        const msg = this.msg as Message;
        const take = msg.framing === 'close' ? this.buf.length : Math.min(this.remaining, this.buf.length);
        this.body(this.buf.subarray(0, take));
        this.buf = this.buf.subarray(take);
        if (msg.framing === 'length' && (this.remaining -= take) === 0) this.complete();
        return this.state !== 'body' || this.buf.length > 0;
      }
      case 'chunk-size': {
        const text = this.line();
        if (typeof text !== 'string') return false;
        const match = CHUNK_LINE.exec(text);
        if (match === null) return this.fail(`bad chunk size line ${JSON.stringify(text)}`);
        this.remaining = parseInt(match[1] as string, 16);
        this.state = this.remaining === 0 ? 'trailers' : 'chunk-data';
        return true;
      }
      case 'chunk-data': {
        if (this.buf.length === 0) return false;
        const take = Math.min(this.remaining, this.buf.length);
        this.body(this.buf.subarray(0, take));
        this.buf = this.buf.subarray(take);
        if ((this.remaining -= take) === 0) this.state = 'chunk-end';
        return true;
      }
      case 'chunk-end': {
        if (this.buf.length < 2) return false;
        if (this.buf[0] !== 13 || this.buf[1] !== 10) return this.fail('chunk data not followed by CRLF');
        this.buf = this.buf.subarray(2);
        this.state = 'chunk-size';
        return true;
      }
      case 'trailers': {
        const text = this.line();
        if (typeof text !== 'string') return false;
        if (text === '') {
          this.complete();
          return true;
        }
        const field = this.field(text);
        if (field === false) return false;
        (this.msg as Message).trailers.push(field);
        return true;
      }
      default:
        return false;
    }
  }

  private field(text: string): Header | false {
    if (text[0] === ' ' || text[0] === '\t') return this.fail('obs-fold');
    const colon = text.indexOf(':');
    const name = colon === -1 ? '' : text.slice(0, colon);
    if (!TOKEN.test(name)) return this.fail(`bad header name ${JSON.stringify(text.slice(0, 40))}`);
    const value = text.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!VALUE.test(value)) return this.fail(`bad header value in ${name}`);
    return [name, value];
  }

  private head(): boolean {
    const end = this.buf.indexOf('\r\n\r\n', 0, 'latin1');
    if (end === -1) {
      // Still validate what came so far, so a bare LF fails at once rather than at EOF.
      const lf = this.buf.indexOf(10);
      if (lf !== -1 && (lf === 0 || this.buf[lf - 1] !== 13)) return this.fail('bare LF');
      if (this.buf.length > MAX_HEAD) return this.fail('head too large');
      return false;
    }
    const block = this.buf.subarray(0, end + 2);
    const rest = this.buf.subarray(end + 4);
    const lines: string[] = [];
    this.buf = block;
    for (;;) {
      const text = this.line();
      if (text === false) return false;
      if (text === undefined) break;
      lines.push(text);
    }
    this.buf = rest;
    const first = lines.shift() ?? '';
    const msg: Message = {
      method: '', target: '', version: '', status: 0, reason: '', headers: [], trailers: [],
      framing: 'none', bodyParts: [], bodyLength: 0, complete: false,
    };
    if (this.kind === 'request') {
      const m = REQUEST_LINE.exec(first);
      if (m === null) return this.fail(`bad request line ${JSON.stringify(first.slice(0, 80))}`);
      [, msg.method, msg.target, msg.version] = m as unknown as [string, string, string, string];
    } else {
      const m = STATUS_LINE.exec(first);
      if (m === null) return this.fail(`bad status line ${JSON.stringify(first.slice(0, 80))}`);
      msg.version = m[1] as string;
      msg.status = Number(m[2]);
      msg.reason = m[3] as string;
    }
    for (const text of lines) {
      const field = this.field(text);
      if (field === false) return false;
      msg.headers.push(field);
    }
    return this.frame(msg);
  }

  private frame(msg: Message): boolean {
    const te = headerValues(msg.headers, 'transfer-encoding');
    const cl = headerValues(msg.headers, 'content-length');
    if (te.length > 1) return this.fail('several Transfer-Encoding lines');
    if (cl.length > 1) return this.fail('several Content-Length lines');
    if (te.length > 0 && cl.length > 0) return this.fail('Content-Length with Transfer-Encoding');
    if (cl.length === 1 && !/^\d{1,15}$/.test(cl[0] as string)) return this.fail(`bad Content-Length ${JSON.stringify(cl[0])}`);
    this.msg = msg;
    const informational = this.kind === 'response' && msg.status < 200;
    const bodyless = this.kind === 'response' && (informational || msg.status === 204 || msg.status === 304 || this.bodylessNext(msg));
    if (bodyless) msg.framing = 'none';
    else if (te.length === 1) {
      const codings = (te[0] as string).toLowerCase().split(',').map((s) => s.trim());
      if (codings[codings.length - 1] === 'chunked') msg.framing = 'chunked';
      else if (this.kind === 'request') return this.fail(`request Transfer-Encoding not ending in chunked: ${te[0]}`);
      else msg.framing = 'close';
    } else if (cl.length === 1) msg.framing = Number(cl[0]) === 0 ? 'none' : 'length';
    else msg.framing = this.kind === 'request' ? 'none' : 'close';
    this.events.onHead?.(msg);
    if (this.state !== 'head') return false; // stopped or failed from onHead
    if (msg.framing === 'none') this.complete();
    else if (msg.framing === 'chunked') this.state = 'chunk-size';
    else {
      this.remaining = Number(cl[0] ?? 0);
      this.state = 'body';
    }
    return true;
  }

  private body(part: Buffer): void {
    const msg = this.msg as Message;
    msg.bodyParts.push(Buffer.from(part));
    msg.bodyLength += part.length;
    this.events.onBody?.(msg);
  }

  private complete(): void {
    const msg = this.msg as Message;
    msg.complete = true;
    this.msg = undefined;
    this.state = 'head';
    this.events.onMessage(msg);
  }
}
