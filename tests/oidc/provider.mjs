// A tiny third-party OpenID Provider for the tests of auth/remote.py (tests/auth/test_oidc_provider.py).
//
// oidc-provider (OpenID Certified) on 127.0.0.1 with one confidential client that uses the client credentials
// grant, and Resource Indicators (RFC 8707) enabled so that its access tokens for the hrss-credit resource are
// RFC 9068 JWTs (typ at+jwt, RS256) with aud "hrss-credit". Everything lives in memory; the signing key is
// generated at start.
//
//   node provider.mjs PORT          (or PORT in the environment)
//   OIDC_CLIENT_ID      client id (default portal-ext)
//   OIDC_CLIENT_SECRET  its secret (required)
//   OIDC_RESOURCE       the resource indicator to request (default urn:hrss-credit: RFC 8707 requires an
//                       absolute URI, so the bare audience "hrss-credit" cannot be the indicator itself)
//   OIDC_AUDIENCE       the aud claim of the access tokens (default hrss-credit)
//
// Prints "ready <issuer>" on stdout once listening. Exits on SIGTERM/SIGINT, and when its standard input
// closes, so it never outlives the test process that started it.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

const port = Number(process.argv[2] ?? process.env.PORT);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node provider.mjs PORT');
  process.exit(2);
}
const clientId = process.env.OIDC_CLIENT_ID || 'portal-ext';
const clientSecret = process.env.OIDC_CLIENT_SECRET;
if (!clientSecret) {
  console.error('OIDC_CLIENT_SECRET is required');
  process.exit(2);
}
const resource = process.env.OIDC_RESOURCE || 'urn:hrss-credit';
const audience = process.env.OIDC_AUDIENCE || 'hrss-credit';
const apiScopes = ['subject:read', 'record:read', 'grade:read'];

const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `rs256-${randomUUID()}`, alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: apiScopes.join(' '),
    },
  ],
  jwks: { keys: [signingKey] },
  scopes: apiScopes,
  // Fixed values so the provider does not warn about its development defaults; nothing here uses cookies.
  cookies: { keys: [randomUUID()] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) {
          throw new errors.InvalidTarget();
        }
        return {
          audience,
          scope: apiScopes.join(' '),
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
});

const server = createServer(provider.callback());

function stop() {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();

server.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});
