// The external OpenID Provider of docker-compose.yml: oidc-provider (OpenID Certified) with the demo clients
// and the demo employer account of a deployment that signs its users in at its own identity provider.
//
// Its access tokens for the hrss-credit resource are RFC 9068 JWTs (typ at+jwt, RS256, aud hrss-credit), the
// only kind the API accepts from an external issuer (auth/remote.py). Resource Indicators (RFC 8707) select
// that format; a request that names no resource gets the API, since the API is the only resource here.
//
//   employer-portal  public client, authorization code + PKCE, redirect URI OIDC_EMPLOYER_REDIRECT_URI. The
//                    client id is the one auth/policy.toml puts in the employer audience; its tokens carry
//                    the signed-in account's `uscc`, which the API's own-subject rule reads.
//   portal-ext       confidential client, client credentials (secret OIDC_CLIENT_SECRET): the external
//                    portal team of the policy's portal audience.
//   account          user name = the USCC OIDC_EMPLOYER_USCC, password OIDC_EMPLOYER_PASSWORD.
//
// Environment:
//   PORT                        listening port (default 9000)
//   OIDC_ISSUER                 the issuer identifier, exactly as tokens carry it and browsers reach it
//                               (default http://127.0.0.1:PORT)
//   OIDC_TLS_DIR                serve https with the certificate in this directory, made for the issuer's host
//                               on first start (unset: plain http, for a loopback issuer only). Beside it goes
//                               ca-bundle.pem: Node's Mozilla roots plus this certificate, for the API to trust.
//   OIDC_CLIENT_SECRET          portal-ext's secret (required)
//   OIDC_EMPLOYER_REDIRECT_URI  employer-portal's redirect URI (default http://localhost:8000/oauth/callback)
//   OIDC_EMPLOYER_USCC          the demo employer's USCC (default a demo organization of `hrss-credit seed-demo`)
//   OIDC_EMPLOYER_PASSWORD      its password (required)
//
// Everything else lives in memory: sessions, grants, and the signing key, generated at start (the API
// refetches the key set when a token names a key it has not seen).
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomUUID, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';

import Provider, { errors } from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is required`);
    process.exit(2);
  }
  return value;
}

const port = Number(process.env.PORT || 9000);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('PORT must be a TCP port number');
  process.exit(2);
}
const issuer = (process.env.OIDC_ISSUER || `http://127.0.0.1:${port}`).replace(/\/+$/, '');
const tlsDir = process.env.OIDC_TLS_DIR;
const clientSecret = required('OIDC_CLIENT_SECRET');
const employerRedirectUri = process.env.OIDC_EMPLOYER_REDIRECT_URI || 'http://localhost:8000/oauth/callback';
const employer = {
  uscc: process.env.OIDC_EMPLOYER_USCC || '91310117MA12QF388C',
  password: required('OIDC_EMPLOYER_PASSWORD'),
};

const resource = 'urn:hrss-credit'; // RFC 8707 wants an absolute URI; the tokens' aud is the API's own name
const audience = 'hrss-credit';
// The scopes each client's audience holds in auth/policy.toml; the API narrows a token to its audience anyway.
const employerScopes = [
  'subject:read', 'record:read', 'record:details', 'grade:read', 'grade:explain', 'supervision:read',
  'objection:read', 'repair:read', 'objection:file', 'repair:apply',
  'restriction:government_funding', 'restriction:government_procurement', 'restriction:bidding',
  'restriction:financing_loans', 'restriction:market_access', 'restriction:tax_incentives', 'restriction:awards',
  'restriction:travel', 'restriction:startup_guarantee_loans', 'restriction:youth_internship_bases',
  'restriction:commitment_approval',
];
const portalScopes = ['subject:read', 'record:read', 'grade:read'];
const clientScopes = { 'employer-portal': employerScopes, 'portal-ext': portalScopes };

function tlsOptions() {
  const host = new URL(issuer).hostname;
  const keyFile = join(tlsDir, 'key.pem');
  const certFile = join(tlsDir, 'cert.pem');
  if (!existsSync(certFile)) {
    // Self-signed, for the demo only: a real deployment puts its identity provider behind a certificate of
    // its own CA. Made once, so the API and the browser keep trusting it across restarts.
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '825',
      '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`,
      '-keyout', keyFile, '-out', certFile,
    ], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const cert = readFileSync(certFile, 'utf8');
  writeFileSync(join(tlsDir, 'ca-bundle.pem'), [...rootCertificates, cert.trim()].join('\n') + '\n');
  return { key: readFileSync(keyFile), cert };
}

function sameSecret(given, expected) {
  const a = Buffer.from(String(given ?? ''));
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

const accounts = new Map([[employer.uscc, employer]]);

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `rs256-${randomUUID()}`, alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'employer-portal',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [employerRedirectUri],
      token_endpoint_auth_method: 'none',
      scope: ['openid', ...employerScopes].join(' '),
    },
    {
      client_id: 'portal-ext',
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: portalScopes.join(' '),
    },
  ],
  jwks: { keys: [signingKey] },
  scopes: ['openid', ...employerScopes],
  async findAccount(ctx, sub) {
    const account = accounts.get(sub);
    return account && { accountId: sub, claims: async () => ({ sub }) };
  },
  // The claim that binds an employer's token to its own subject (auth/policy.toml, rows = "own-subject").
  async extraTokenClaims(ctx, token) {
    const account = token.accountId && accounts.get(token.accountId);
    return account ? { uscc: account.uscc } : undefined;
  },
  cookies: { keys: [randomUUID()] },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator, client) => {
        if (indicator !== resource) {
          throw new errors.InvalidTarget();
        }
        return {
          audience,
          scope: (clientScopes[client.clientId] ?? []).join(' '),
          accessTokenTTL: 3600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function loginPage(res, uid, uscc, failed) {
  const body = `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>用人单位登录 · demo OpenID Provider</title></head>
<body><main>
<h1>用人单位登录</h1>
<p>Demo identity provider of the hrss-credit Docker Compose setup.</p>
${failed ? '<p role="alert">用户名或密码不正确 / wrong user name or password</p>' : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}">
<label>统一社会信用代码 (user name) <input name="login" value="${escapeHtml(uscc)}" autocomplete="username" required></label>
<label>密码 (password) <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">登录 / Sign in</button>
</form>
</main></body></html>`;
  res.writeHead(failed ? 401 : 200, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Security-Policy': "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
  });
  res.end(body);
}

async function formOf(req) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 8192) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// Consent is implied: both clients are the deployment's own, so the grant holds what the client asked for
// within its registered scopes (oidc-provider has already dropped anything else).
async function grantRequested(details) {
  const { prompt, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const uid = details.uid;
  if (details.prompt.name === 'consent') {
    const grantId = await grantRequested(details);
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  if (req.method === 'GET') {
    loginPage(res, uid, '', false);
    return;
  }
  const form = await formOf(req);
  const login = (form.get('login') ?? '').trim();
  const account = accounts.get(login);
  if (!account || !sameSecret(form.get('password'), account.password)) {
    loginPage(res, uid, login, true);
    return;
  }
  await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
async function handle(req, res) {
  if (/^\/interaction\/[^/]+$/.test(new URL(req.url, issuer).pathname) && ['GET', 'POST'].includes(req.method)) {
    try {
      await interaction(req, res);
    } catch (err) {
      // An expired or unknown interaction (its cookie is gone): the client starts the sign-in again.
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`sign-in failed: ${err.message}; start again from the application\n`);
    }
    return;
  }
  callback(req, res);
}

const server = tlsDir ? createHttpsServer(tlsOptions(), handle) : createHttpServer(handle);

function stop() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

// All interfaces: inside its container the provider is reached over the compose network and the published port.
server.listen(port, () => {
  console.log(`ready ${issuer}`);
});
