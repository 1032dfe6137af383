export * from './key-material';
export * from './imported-key-material';
export * from './external-key';
export * from './custom-key-store';
export * from './adopted-custom-key-store';
export * from './external-replica-key';
export * from './key-material-expiry';
