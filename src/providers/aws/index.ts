// Public surface of the AWS provider.

export { eksAdapter } from './adapter-eks.ts';
export { iamAdapter } from './adapter-iam.ts';
export { secretsManagerAdapter } from './adapter-secrets-manager.ts';
export { type AwsProviderConfig, awsConfigFromSpec } from './config.ts';
export type { AwsClientOptions } from './factory.ts';
export { awsProviderFactory, createAwsPorts, createAwsProvider, sdkClientConfig } from './factory.ts';
export { roleName, secretName } from './names.ts';
export type { EksPort, IamPort, SecretsManagerPort } from './port.ts';
export {
  AwsProvider,
  type AwsProviderDeps,
  ROLE_ARN_ANNOTATION,
  TOKEN_EXPIRATION_ANNOTATION,
} from './provider.ts';
