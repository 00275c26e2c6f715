// AWS CloudTrail events (a delivered log file `{"Records": [...]}`, a single event, or one event a
// line) reduced to activity events. moto does not produce CloudTrail, so this parser is tested with
// recorded-shape fixtures only. Of requestParameters only identifiers are read (secretId, roleArn,
// roleName); responseElements are never read (they may hold credentials).

import { maskSecrets } from '../../runtime/redact.ts';
import type { ActivityEvent, ActivityOutcome, PrincipalMatch } from './types.ts';

interface CloudTrailEvent {
  eventTime?: string;
  eventSource?: string;
  eventName?: string;
  sourceIPAddress?: string;
  errorCode?: string;
  userIdentity?: {
    type?: string;
    arn?: string;
    sessionContext?: { sessionIssuer?: { type?: string; arn?: string; userName?: string } };
  };
  requestParameters?: Record<string, unknown> | null;
  resources?: Array<{ ARN?: string; type?: string }>;
}

const ASSUMED_ROLE = /^arn:aws[a-z-]*:sts::\d+:assumed-role\/([^/]+)\//;
const ROLE = /^arn:aws[a-z-]*:iam::\d+:role\/(?:.*\/)?([^/]+)$/;

export function roleNameOfArn(arn: string | undefined): string | undefined {
  if (!arn) return undefined;
  return ASSUMED_ROLE.exec(arn)?.[1] ?? ROLE.exec(arn)?.[1];
}

function outcomeOf(event: CloudTrailEvent): ActivityOutcome {
  if (!event.errorCode) return 'allowed';
  return /AccessDenied|UnauthorizedOperation|NotAuthorized|InvalidIdentityToken|ExpiredToken/i.test(
    event.errorCode,
  )
    ? 'denied'
    : 'error';
}

function identifier(parameters: CloudTrailEvent['requestParameters'], key: string): string | undefined {
  const value = parameters?.[key];
  return typeof value === 'string' ? value : undefined;
}

function resourceOf(event: CloudTrailEvent): string {
  const p = event.requestParameters;
  return (
    event.resources?.find((r) => r.ARN)?.ARN ??
    identifier(p, 'secretId') ??
    identifier(p, 'roleArn') ??
    identifier(p, 'roleName') ??
    event.eventSource ??
    ''
  );
}

function eventsOf(value: unknown): CloudTrailEvent[] {
  if (typeof value !== 'object' || value === null) return [];
  const records = (value as { Records?: unknown }).Records;
  if (Array.isArray(records)) return records as CloudTrailEvent[];
  return 'eventSource' in value && 'eventName' in value ? [value as CloudTrailEvent] : [];
}

export function parseCloudTrail(value: unknown): ActivityEvent[] {
  const out: ActivityEvent[] = [];
  for (const event of eventsOf(value)) {
    if (!event.eventTime || !event.eventName || !event.eventSource) continue;
    const issuer = event.userIdentity?.sessionContext?.sessionIssuer;
    // A web-identity call (AssumeRoleWithWebIdentity) names the role in its parameters.
    const roleArn =
      (issuer?.type === 'Role' ? issuer.arn : undefined) ??
      (ASSUMED_ROLE.test(event.userIdentity?.arn ?? '') ? event.userIdentity?.arn : undefined) ??
      (event.userIdentity?.type === 'WebIdentityUser'
        ? identifier(event.requestParameters, 'roleArn')
        : undefined);
    const roleName = issuer?.userName ?? roleNameOfArn(roleArn);
    const match: PrincipalMatch = roleName ? { awsRoleName: roleName } : {};
    const service = event.eventSource.replace(/\.amazonaws\.com$/, '');
    out.push({
      time: new Date(event.eventTime).toISOString(),
      backend: 'aws',
      principal: maskSecrets(roleArn ?? event.userIdentity?.arn ?? event.userIdentity?.type ?? 'unknown'),
      verb: `${service}:${event.eventName}`,
      resource: maskSecrets(resourceOf(event)),
      outcome: outcomeOf(event),
      ...(event.errorCode ? { code: event.errorCode } : {}),
      ...(event.sourceIPAddress ? { sourceAddress: event.sourceIPAddress } : {}),
      match,
    });
  }
  return out;
}
