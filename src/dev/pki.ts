// PKI for the local control plane, generated fresh for every environment (nothing is committed):
// a CA, the apiserver's serving certificate (SANs 127.0.0.1, localhost and the in-cluster names),
// the ServiceAccount token signing key pair, and random static tokens for the admin and the
// controller-manager. Certificates come from the system `openssl`; keys from node:crypto.

import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  saPublicKey: string;
  saPrivateKey: string;
  tokenFile: string;
  adminToken: string;
  controllerManagerToken: string;
  /** The apiserver's client certificate for the kubelet API (the dev node's kubelet trusts the CA). */
  kubeletClientCert: string;
  kubeletClientKey: string;
}

export interface ClientCertificate {
  cert: string;
  key: string;
}

/**
 * A client certificate signed by the dev CA in `dir` (ca.crt, ca.key): `CN=<commonName>`, one `O=`
 * per group, clientAuth only, an EC P-256 key. Files `<name>.crt` and `<name>.key`.
 */
export function clientCertificate(
  dir: string,
  name: string,
  commonName: string,
  groups: string[] = [],
): ClientCertificate {
  const subject = `${groups.map((group) => `/O=${group}`).join('')}/CN=${commonName}`;
  writeFileSync(
    join(dir, `${name}.ext`),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
  );
  openssl(
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', subject].concat([
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    ]),
    dir,
  );
  openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
      '-days',
      '30',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ]),
    dir,
  );
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

export function randomToken(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

export function generatePki(dir: string): Pki {
  const file = (name: string) => join(dir, name);
  openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=nhi-dev-ca'].concat([
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]),
    dir,
  );
  writeFileSync(
    file('serving.ext'),
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.0.0.1',
      '',
    ].join('\n'),
  );
  openssl(
    ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=kube-apiserver', '-keyout', 'serving.key'].concat([
      '-out',
      'serving.csr',
    ]),
    dir,
  );
  openssl(
    ['x509', '-req', '-in', 'serving.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
      '-days',
      '30',
      '-extfile',
      'serving.ext',
      '-out',
      'serving.crt',
    ]),
    dir,
  );

  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(file('sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o600 });
  writeFileSync(file('sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });

  const adminToken = randomToken();
  const controllerManagerToken = randomToken();
  writeFileSync(
    file('tokens.csv'),
    [
      `${adminToken},nhi-admin,nhi-admin,"system:masters"`,
      `${controllerManagerToken},system:kube-controller-manager,system:kube-controller-manager`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );

  const kubeletClient = clientCertificate(dir, 'apiserver-kubelet-client', 'kube-apiserver-kubelet-client');

  return {
    kubeletClientCert: kubeletClient.cert,
    kubeletClientKey: kubeletClient.key,
    caCert: file('ca.crt'),
    caKey: file('ca.key'),
    servingCert: file('serving.crt'),
    servingKey: file('serving.key'),
    saPublicKey: file('sa.pub'),
    saPrivateKey: file('sa.key'),
    tokenFile: file('tokens.csv'),
    adminToken,
    controllerManagerToken,
  };
}

export function kubeconfigYaml(options: {
  server: string;
  caFile: string;
  /** A bearer token, or else `client` (a certificate signed by the dev CA). */
  token?: string;
  client?: ClientCertificate;
  user: string;
}): string {
  const credentials = options.client
    ? [`    client-certificate: ${options.client.cert}`, `    client-key: ${options.client.key}`]
    : [`    token: ${options.token ?? ''}`];
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: nhi-dev',
    '  cluster:',
    `    server: ${options.server}`,
    `    certificate-authority: ${options.caFile}`,
    'users:',
    `- name: ${options.user}`,
    '  user:',
    ...credentials,
    'contexts:',
    '- name: nhi-dev',
    '  context:',
    '    cluster: nhi-dev',
    `    user: ${options.user}`,
    'current-context: nhi-dev',
    '',
  ].join('\n');
}
