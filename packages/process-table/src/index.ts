export * from './types';
export * from './state-machine';
export * from './worker-id';
export * from './worker-row';
export * from './process-table';
export * from './crash-policy';
export * from './lease';
