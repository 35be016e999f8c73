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
  return newSessionTarget(route, undefined);
}

/** Turns among instances with as few sessions as each other (shared by every route: only the spread matters). */
let turn = 0;

/**
 * Where a new session goes: the target, or with several attached instances the routable one with
 * the fewest live sessions, ties broken in turn (so a burst of new visitors, whose sessions are
 * not bound yet, spreads evenly). O(instances), only for requests without a live session.
 */
function newSessionTarget(route: Route, except: Upstream | undefined): Upstream | undefined {
  const targets = route.targets;
  if (targets === undefined || targets.length < 2) {
    const target = route.target;
    return target !== undefined && target !== except && target.routable ? target : undefined;
  }
  const n = targets.length;
  const start = (turn = turn >= n - 1 ? 0 : turn + 1);
  let best: Upstream | undefined;
  let fewest = Number.POSITIVE_INFINITY;
  for (let k = 0; k < n; k++) {
    const candidate = targets[(start + k) % n] as Upstream;
    if (candidate === except || !candidate.routable) continue;
    const sessions = candidate.lease.sessions;
    if (sessions < fewest) {
      best = candidate;
      fewest = sessions;
    }
  }
  return best;
}

/** The worker to retry on when `failed` could not be reached: another target, if there is one. */
export function fallbackUpstream(route: Route, failed: Upstream): Upstream | undefined {
  return newSessionTarget(route, failed);
}
