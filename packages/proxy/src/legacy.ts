/** The previous engine (node:http server + http.request with a keep-alive Agent), kept for A/B runs. */
export { createLegacyProxy } from './proxy';
