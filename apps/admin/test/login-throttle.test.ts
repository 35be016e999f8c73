import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '@handover/secrets';
import { LoginGuard, LoginThrottle } from '../src/server/login-throttle';
import type { LoginAttemptResult } from '../src/server/login-throttle';
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

/**
 * A password check held open until `open()`: every attempt started before it is in flight at
 * once, like parallel logins all waiting on scrypt.
 */
function gatedCheck(answer: boolean | (() => boolean)) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let evaluated = 0;
  return {
    verify: async () => {
      evaluated++;
      await gate;
      return typeof answer === 'function' ? answer() : answer;
    },
    open: () => open(),
    evaluated: () => evaluated,
  };
}

const outcomes = (results: LoginAttemptResult[]) => results.map((r) => r.outcome);
const count = (results: LoginAttemptResult[], outcome: LoginAttemptResult['outcome']) =>
  results.filter((r) => r.outcome === outcome).length;

describe('concurrent login attempts', () => {
  it('20 parallel wrong passwords: 5 are checked, 15 refused, and the lockout holds', async () => {
    const guard = new LoginGuard();
    const check = gatedCheck(false);
    const attempts = Array.from({ length: 20 }, () => guard.attempt('user:admin', check.verify));
    check.open();
    const results = await Promise.all(attempts);
    expect(check.evaluated()).toBe(5);
    expect(count(results, 'wrong')).toBe(5);
    expect(count(results, 'locked')).toBe(15);
    // the 5th failure started the 30 s lockout
    expect(results.filter((r) => r.outcome === 'wrong').map((r) => (r as { lockoutMs: number }).lockoutMs).sort()).toEqual([
      0, 0, 0, 0, 30_000,
    ]);
    const after = await guard.attempt('user:admin', check.verify);
    expect(after).toMatchObject({ outcome: 'locked', scope: 'key' });
    expect(check.evaluated()).toBe(5);
  });

  it('after a lockout runs out, parallel attempts get one check, whose failure doubles the lockout', async () => {
    const guard = new LoginGuard();
    let now = 0;
    for (let i = 0; i < 5; i++) await guard.attempt('user:admin', async () => false, () => now);
    now = 30_000;
    const check = gatedCheck(false);
    const attempts = [1, 2, 3].map(() => guard.attempt('user:admin', check.verify, () => now));
    check.open();
    const results = await Promise.all(attempts);
    expect(check.evaluated()).toBe(1);
    expect(results).toContainEqual({ outcome: 'wrong', lockoutMs: 60_000 });
    expect(count(results, 'locked')).toBe(2);
  });

  it('with real scrypt checks too (the password is wrong every time)', async () => {
    const verifier = { kind: 'scrypt' as const, hash: await hashPassword('the right password') };
    const guard = new LoginGuard();
    let evaluated = 0;
    const verify = async () => {
      evaluated++;
      return verifyPassword(verifier, 'a wrong guess');
    };
    const results = await Promise.all(Array.from({ length: 20 }, () => guard.attempt('user:admin', verify)));
    expect(evaluated).toBe(5);
    expect(count(results, 'locked')).toBe(15);
  });

  it('the global cap holds against parallel attempts spread over many user names', async () => {
    const guard = new LoginGuard({ cap: { maxFailures: 3, windowMs: 60_000 } });
    const check = gatedCheck(false);
    const attempts = Array.from({ length: 10 }, (_, i) => guard.attempt(`user:guess-${i}`, check.verify));
    check.open();
    const results = await Promise.all(attempts);
    expect(check.evaluated()).toBe(3);
    expect(results.filter((r) => r.outcome === 'locked' && r.scope === 'global')).toHaveLength(7);
  });

  it('a right password among parallel attempts logs in and clears the key; an attempt that throws is not counted', async () => {
    const guard = new LoginGuard();
    let calls = 0;
    // the 3rd of 5 parallel attempts is the right password
    const check = gatedCheck(() => ++calls === 3);
    const attempts = Array.from({ length: 5 }, () => guard.attempt('user:admin', check.verify));
    check.open();
    expect(outcomes(await Promise.all(attempts)).sort()).toEqual(['ok', 'wrong', 'wrong', 'wrong', 'wrong']);
    // the success cleared the two failures before it; the two after it count, nothing else
    expect(guard.throttle.failures('user:admin')).toBe(2);
    expect(guard.check('user:admin')).toEqual({ allowed: true });

    const fresh = new LoginGuard({ throttle: { freeAttempts: 1 } });
    await expect(fresh.attempt('user:admin', async () => Promise.reject(new Error('credentials unreadable')))).rejects.toThrow(
      'credentials unreadable',
    );
    // not counted: the one free attempt is still there
    expect(await fresh.attempt('user:admin', async () => false)).toEqual({ outcome: 'wrong', lockoutMs: 30_000 });
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
