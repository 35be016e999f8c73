export * from './control-token';
export * from './admin-credentials';
export { SecretError } from './secret-file';
export * from './route-key';
