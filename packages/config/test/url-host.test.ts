import { describe, expect, it } from 'vitest';
import { urlHost } from '../src/index';

describe('urlHost', () => {
  it('reaches a wildcard bind on loopback and brackets IPv6 literals', () => {
    expect(urlHost('0.0.0.0')).toBe('127.0.0.1');
    expect(urlHost('')).toBe('127.0.0.1');
    expect(urlHost('::')).toBe('[::1]');
    expect(urlHost('::1')).toBe('[::1]');
    expect(urlHost('[fe80::1]')).toBe('[fe80::1]');
    expect(urlHost('127.0.0.1')).toBe('127.0.0.1');
    expect(urlHost('app.example')).toBe('app.example');
  });
});
