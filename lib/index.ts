export * from './key-material';
export * from './imported-key-material';
export * from './external-key';
