// Public surface of the AWS provider.

export type { AwsClientOptions } from './clients.ts';
export { awsProviderFactory, createAwsPorts, createAwsProvider, sdkClientConfig } from './clients.ts';
export { type AwsProviderConfig, awsConfigFromSpec } from './config.ts';
export { eksAdapter } from './eks-adapter.ts';
export { iamAdapter } from './iam-adapter.ts';
export { roleName, secretName } from './naming.ts';
export type { EksPort, IamPort, SecretsManagerPort } from './ports.ts';
export {
  AwsProvider,
  type AwsProviderDeps,
  ROLE_ARN_ANNOTATION,
  TOKEN_EXPIRATION_ANNOTATION,
} from './provider.ts';
export { secretsManagerAdapter } from './secrets-manager-adapter.ts';
