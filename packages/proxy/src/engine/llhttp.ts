/**
 * Node's own HTTP/1.1 parser (llhttp, the one behind node:http, in strict mode) used directly.
 * `node:_http_common` exports the `HTTPParser` binding without any deprecation warning (unlike
 * `process.binding`). Callbacks are indexed properties; `execute` returns the bytes parsed or an
 * Error with `code` (HPE_*), and stops after a head with an upgrade.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface ParseError extends Error {
  code: string;
  bytesParsed: number;
}

export interface Parser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | ParseError;
  finish(): ParseError | undefined;
  close(): void;
  /** Reads straight from a stream handle (no JS stream, no Buffer per read); kOnExecute gets each result. */
  consume(handle: object): void;
  unconsume(): void;
  /** A copy of the bytes of the read being handled (only inside kOnExecute). */
  getCurrentBuffer(): Buffer;
  [callback: number]: unknown;
}

interface HTTPParserClass {
  new (): Parser;
  REQUEST: number;
  RESPONSE: number;
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
  kLenientNone: number;
}

const common = require('node:_http_common') as { HTTPParser: HTTPParserClass; methods: string[] };

export const HTTPParser = common.HTTPParser;
export const REQUEST = HTTPParser.REQUEST;
export const RESPONSE = HTTPParser.RESPONSE;
export const kOnMessageBegin = HTTPParser.kOnMessageBegin;
export const kOnHeaders = HTTPParser.kOnHeaders;
export const kOnHeadersComplete = HTTPParser.kOnHeadersComplete;
export const kOnBody = HTTPParser.kOnBody;
export const kOnMessageComplete = HTTPParser.kOnMessageComplete;
export const kOnExecute = HTTPParser.kOnExecute;
/** Strict parsing: CL+TE, duplicate CL, obs-fold, bare LF, bad chunks… are all errors. */
export const STRICT = HTTPParser.kLenientNone;
/** The async-hooks resource the binding wants; one shared object (no per-connection resource). */
export const PARSER_RESOURCE = Object.freeze({ type: 'HANDOVER_PROXY' });

/**
 * Method names by llhttp's method index (what onHeadersComplete gives). `methods` is not indexed
 * that way past SOURCE (QUERY is 34 there, 46 in llhttp: the fuzzer saw QUERY forwarded as GET),
 * and node:http's own index table is not exported; so each name is parsed once here and the index
 * llhttp reports is recorded. An index not in the table is a method node:http does not serve.
 */
export const METHODS: readonly (string | undefined)[] = methodTable(common.methods);

function methodTable(names: readonly string[]): (string | undefined)[] {
  const table: (string | undefined)[] = [];
  const parser = new HTTPParser();
  let seen = -1;
  parser[HTTPParser.kOnHeadersComplete] = (_major: number, _minor: number, _headers: unknown, method: number) => {
    seen = method;
    return 1;
  };
  for (const name of names) {
    parser.initialize(REQUEST, PARSER_RESOURCE, 0, STRICT);
    seen = -1;
    parser.execute(Buffer.from(`${name} / HTTP/1.1\r\nHost: x\r\n\r\n`, 'latin1'));
    if (seen >= 0) table[seen] = name;
  }
  parser.close();
  return table;
}
