/**
 * Socket helpers with one copy each, pure Node: listening (on a port, or on a socket a keeper
 * process bound and handed down) and the host part of a URL for a bind address.
 */
export { listenServer } from './listen';
export { bracketHost, urlHost } from './url-host';
