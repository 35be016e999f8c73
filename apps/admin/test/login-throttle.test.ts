import { describe, expect, it } from 'vitest';
import { LoginThrottle } from '../src/server/login-throttle';
import { safeNextPath } from '../src/app/login/safe-next';

describe('login throttle', () => {
  it('allows 4 failures, locks out for 30 s at the 5th, doubling after that', () => {
    const throttle = new LoginThrottle();
    const key = '127.0.0.1|admin';
    let now = 1_000_000;
    for (let i = 0; i < 4; i++) {
      expect(throttle.check(key, now)).toEqual({ allowed: true });
      expect(throttle.fail(key, now)).toBe(0);
    }
    expect(throttle.fail(key, now)).toBe(30_000);
    expect(throttle.check(key, now + 29_999)).toEqual({ allowed: false, retryAfterMs: 1 });
    now += 30_000;
    expect(throttle.check(key, now)).toEqual({ allowed: true });
    expect(throttle.fail(key, now)).toBe(60_000);
    now += 60_000;
    expect(throttle.fail(key, now)).toBe(120_000);
  });

  it('caps the lockout and keeps keys apart', () => {
    const throttle = new LoginThrottle({ freeAttempts: 1, firstLockoutMs: 1000, maxLockoutMs: 5000 });
    for (let i = 0; i < 10; i++) throttle.fail('a', 0);
    expect(throttle.check('a', 0)).toEqual({ allowed: false, retryAfterMs: 5000 });
    expect(throttle.check('b', 0)).toEqual({ allowed: true });
  });

  it('forgets a key after a success', () => {
    const throttle = new LoginThrottle({ freeAttempts: 1 });
    throttle.fail('a', 0);
    throttle.succeed('a');
    expect(throttle.failures('a', 0)).toBe(0);
    expect(throttle.fail('a', 0)).toBe(30_000); // back to the start of the schedule
  });

  it('forgets old failures and bounds its memory', () => {
    const throttle = new LoginThrottle({ forgetAfterMs: 1000, maxKeys: 3 });
    throttle.fail('old', 0);
    expect(throttle.failures('old', 2000)).toBe(0);
    for (const key of ['k1', 'k2', 'k3', 'k4']) throttle.fail(key, 0);
    expect(throttle.failures('k1', 0)).toBe(0);
    expect(throttle.failures('k4', 0)).toBe(1);
  });
});

describe('safeNextPath', () => {
  it('keeps paths on this origin only', () => {
    expect(safeNextPath('/')).toBe('/');
    expect(safeNextPath('/?x=1')).toBe('/?x=1');
    expect(safeNextPath('//evil.example/')).toBe('/');
    expect(safeNextPath('/\\evil.example')).toBe('/');
    expect(safeNextPath('https://evil.example/')).toBe('/');
    expect(safeNextPath('/login')).toBe('/');
    expect(safeNextPath(null)).toBe('/');
  });
});
