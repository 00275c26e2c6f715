// The WebhookPort over HTTPS (controller/agentidentity/ports.ts): each CloudEvent is POSTed in
// structured mode (application/cloudevents+json), signed (signature.ts) with the key from the
// IdentityPolicy's Secret, verified against its caBundle when one is set, and retried with exponential
// backoff by undici's own RetryAgent on connection errors, 429 and 5xx. Only https:// URLs. Errors name
// the receiver and the status, never the key.

import * as k8s from '@kubernetes/client-node';
import { Agent, type Dispatcher, RetryAgent, request } from 'undici';
import type { WebhookSpec } from '../../api/v1alpha1/types.ts';
import type { CloudEvent, WebhookPort } from '../../controller/agentidentity/ports.ts';
import { signatureHeaders } from './signature.ts';

export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';

export interface WebhookOptions {
  /** Reads the signing key: the Secret's data[key], undefined when absent. */
  readKey(ref: WebhookSpec['secretRef']): Promise<Buffer | undefined>;
  now?: () => Date;
  /** Retries after the first attempt (default 4: about 0.2 + 0.4 + 0.8 + 1.6 s of backoff). */
  maxRetries?: number;
  minTimeoutMs?: number;
  /** Per attempt: headers and body must arrive within this (default 5 s). */
  timeoutMs?: number;
}

export const RETRIED_STATUS_CODES = [429, 500, 502, 503, 504];

/** Reads the key with the operator's own client (get secrets in that namespace). */
export function secretKeyReader(kc: k8s.KubeConfig): WebhookOptions['readKey'] {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  return async (ref) => {
    const secret = await core.readNamespacedSecret({ namespace: ref.namespace, name: ref.name });
    const value = secret.data?.[ref.key];
    return value === undefined ? undefined : Buffer.from(value, 'base64');
  };
}

export class HttpsWebhook implements WebhookPort {
  private readonly dispatchers = new Map<string, Dispatcher>();

  constructor(private readonly options: WebhookOptions) {}

  async deliver(webhook: WebhookSpec, event: CloudEvent): Promise<void> {
    const url = new URL(webhook.url);
    if (url.protocol !== 'https:')
      throw new Error(`webhook ${url.host}: only https:// receivers are supported`);
    let key: Buffer | undefined;
    try {
      key = await this.options.readKey(webhook.secretRef);
    } catch (error) {
      const code = (error as { code?: number }).code;
      throw new Error(
        `webhook signing key Secret ${webhook.secretRef.namespace}/${webhook.secretRef.name} unreadable${code ? ` (HTTP ${code})` : ''}`,
      );
    }
    if (!key || key.length === 0) {
      throw new Error(
        `webhook signing key ${webhook.secretRef.namespace}/${webhook.secretRef.name}[${webhook.secretRef.key}] is missing or empty`,
      );
    }
    const body = JSON.stringify(event);
    const headers = {
      'content-type': CLOUDEVENTS_CONTENT_TYPE,
      ...signatureHeaders(key, event.id, body, (this.options.now ?? (() => new Date()))()),
    };
    let status: number;
    try {
      const response = await request(url, {
        method: 'POST',
        body,
        headers,
        dispatcher: this.dispatcher(webhook.caBundle),
      });
      status = response.statusCode;
      await response.body.dump();
    } catch (error) {
      const reason = (error as { statusCode?: number; code?: string }).statusCode
        ? `HTTP ${(error as { statusCode: number }).statusCode}`
        : ((error as { code?: string }).code ?? (error instanceof Error ? error.message : String(error)));
      throw new Error(`webhook ${url.host}: not delivered after retries: ${reason}`);
    }
    if (status < 200 || status >= 300) throw new Error(`webhook ${url.host}: answered HTTP ${status}`);
  }

  /** One connection pool per CA bundle, with the retry policy on top. */
  private dispatcher(ca: string | undefined): Dispatcher {
    const id = ca ?? '';
    let dispatcher = this.dispatchers.get(id);
    if (!dispatcher) {
      const timeout = this.options.timeoutMs ?? 5000;
      const agent = new Agent({
        headersTimeout: timeout,
        bodyTimeout: timeout,
        connect: { timeout, ...(ca ? { ca } : {}) },
      });
      dispatcher = new RetryAgent(agent, {
        methods: ['POST'],
        maxRetries: this.options.maxRetries ?? 4,
        minTimeout: this.options.minTimeoutMs ?? 200,
        maxTimeout: 5000,
        timeoutFactor: 2,
        statusCodes: RETRIED_STATUS_CODES,
      });
      this.dispatchers.set(id, dispatcher);
    }
    return dispatcher;
  }

  async close(): Promise<void> {
    await Promise.all([...this.dispatchers.values()].map((d) => d.close()));
    this.dispatchers.clear();
  }
}
