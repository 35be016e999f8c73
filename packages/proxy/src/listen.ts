// One copy, in @handover/net (the control API listens the same way).
export { listenServer } from '@handover/net';
