import type { Route, Upstream } from '../types';
import { recoverFromRouteCookie } from './route-cookie';

/**
 * Pass 2: where a request goes. A session bound to a routable worker stays there, even when that
 * worker is draining; anything else (no id, unknown id, dead owner) goes to the route's target,
 * so a stale cookie never yields a 502. One map lookup; undefined means "answer 503". An id the
 * table does not know at all may still carry a signed route cookie (see route-cookie.ts).
 */
export function chooseUpstream(route: Route, sessionId: string | undefined, raw: readonly string[]): Upstream | undefined {
  if (sessionId !== undefined) {
    const owner = route.sessions.lookup(sessionId);
    if (owner !== undefined) {
      if (owner.routable) return owner;
    } else if (route.routeCookie !== undefined) {
      const recovered = recoverFromRouteCookie(route, sessionId, raw);
      if (recovered !== undefined) return recovered;
    }
  }
  const target = route.target;
  return target !== undefined && target.routable ? target : undefined;
}

/** The worker to retry on when `failed` could not be reached: the target, if it is another one. */
export function fallbackUpstream(route: Route, failed: Upstream): Upstream | undefined {
  const target = route.target;
  return target !== undefined && target !== failed && target.routable ? target : undefined;
}
