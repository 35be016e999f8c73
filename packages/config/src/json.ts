import { ConfigError } from './errors';

/**
 * JSON.parse with an error that says where: `line 7, column 3: trailing comma (JSON allows none)`.
 * JSON.parse's own messages differ between Node versions and only sometimes carry a position,
 * so on failure a small scanner walks the text to find the first offending character.
 */
export function parseJsonFile(text: string, file: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (err) {
    const found = locateJsonError(body);
    const where = found ? `line ${found.line}, column ${found.column}: ${found.message}` : (err as Error).message;
    throw new ConfigError(file, [{ path: '', message: `not valid JSON: ${where}` }], `Cannot parse ${file}:`);
  }
}

export interface JsonErrorLocation {
  line: number;
  column: number;
  message: string;
}

/** Finds the first syntax error in `text` (1-based line and column), or null when it is valid JSON. */
export function locateJsonError(text: string): JsonErrorLocation | null {
  let i = 0;

  const fail = (at: number, message: string): never => {
    throw { at, message };
  };
  const describe = (at: number): string => {
    if (at >= text.length) return 'unexpected end of file';
    const c = text[at]!;
    if (c === '/' && (text[at + 1] === '/' || text[at + 1] === '*')) return 'comments are not allowed in JSON';
    if (c === "'") return 'strings must use double quotes';
    return `unexpected ${JSON.stringify(c)}`;
  };
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return number();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    fail(i, `${describe(i)} (expected a value)`);
  };
  const object = () => {
    i++;
    ws();
    if (text[i] === '}') {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text[i] === '}') fail(i, 'trailing comma (JSON allows none)');
      if (text[i] !== '"') fail(i, `${describe(i)} (expected a property name in double quotes)`);
      string();
      ws();
      if (text[i] !== ':') fail(i, `${describe(i)} (expected ":")`);
      i++;
      value();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return;
      }
      fail(i, `${describe(i)} (expected "," or "}")`);
    }
  };
  const array = () => {
    i++;
    ws();
    if (text[i] === ']') {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text[i] === ']') fail(i, 'trailing comma (JSON allows none)');
      value();
      ws();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') {
        i++;
        return;
      }
      fail(i, `${describe(i)} (expected "," or "]")`);
    }
  };
  const string = () => {
    i++;
    for (;;) {
      if (i >= text.length) fail(i, 'unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail(i, c === 0x0a ? 'unterminated string (line break inside a string)' : 'control character inside a string');
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail(i, 'bad \\u escape');
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) fail(i, 'bad escape sequence');
        i += 2;
        continue;
      }
      i++;
    }
  };
  const number = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) fail(i, `${describe(i)} (bad number)`);
    i += m![0].length;
  };

  try {
    value();
    ws();
    if (i < text.length) fail(i, `${describe(i)} after the end of the JSON value`);
    return null;
  } catch (e) {
    if (typeof e !== 'object' || e === null || !('at' in e)) throw e;
    const { at, message } = e as { at: number; message: string };
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    const column = at - (before.lastIndexOf('\n') + 1) + 1;
    return { line, column, message };
  }
}
