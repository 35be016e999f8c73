export { createProxy, PROXY_DEFAULTS } from './engine/index';
export type { ProxyOptions, ProxyServer, ProxyStats, Route, Upstream } from './types';
export { findCookie, findSessionId, pathSessionId } from './passes/find-session';
export { chooseUpstream, fallbackUpstream } from './passes/choose-upstream';
export { parseSessionReport, parseSetCookieEffect, accountResponse } from './passes/account-response';
export type { SessionReport, SetCookieEffect } from './passes/account-response';
export { isHopByHop, isInternal, connectionTokens } from './passes/header-names';
export { routeCookieValue, verifyRoute } from './passes/route-cookie';
export type { RouteCookie } from './passes/route-cookie';
