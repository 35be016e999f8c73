export * from './types';
export * from './state-machine';
export * from './worker-id';
export * from './crash-policy';
export * from './drain';
