export { createLeanProxy as createProxy } from './lean/engine';
export type { ProxyOptions, ProxyServer, Route, Upstream } from './types';
export { findCookie, findSessionId, pathSessionId } from './passes/find-session';
export { chooseUpstream, fallbackUpstream } from './passes/choose-upstream';
export { parseSessionReport, parseSetCookieEffect, accountResponse } from './passes/account-response';
export type { SessionReport, SetCookieEffect } from './passes/account-response';
export { forwardRequestHeaders, forwardResponseHeaders } from './passes/forward-headers';
export { isHopByHop, isInternal, connectionTokens } from './passes/header-names';
