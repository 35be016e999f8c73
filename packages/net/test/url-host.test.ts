import { describe, expect, it } from 'vitest';
import { bracketHost, urlHost } from '../src/index';

describe('urlHost and bracketHost', () => {
  // urlHost reaches a wildcard bind on loopback and brackets IPv6 literals; bracketHost only
  // brackets (an IPv6 literal once), leaving every other host, a wildcard too, as it is.
  it.each([
    // host, urlHost, bracketHost
    ['0.0.0.0', '127.0.0.1', '0.0.0.0'],
    ['', '127.0.0.1', ''],
    ['::', '[::1]', '[::]'],
    ['[::]', '[::1]', '[::]'],
    ['::1', '[::1]', '[::1]'],
    ['fe80::1', '[fe80::1]', '[fe80::1]'],
    ['[fe80::1]', '[fe80::1]', '[fe80::1]'],
    ['127.0.0.1', '127.0.0.1', '127.0.0.1'],
    ['localhost', 'localhost', 'localhost'],
    ['app.example', 'app.example', 'app.example'],
  ])('%j: urlHost %j, bracketHost %j', (host, url, bracketed) => {
    expect(urlHost(host)).toBe(url);
    expect(bracketHost(host)).toBe(bracketed);
  });
});
