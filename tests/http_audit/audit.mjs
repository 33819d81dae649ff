// Runs graphql-http's server audits against URL (argv[2]) with the bearer token in HRSS_AUDIT_TOKEN and prints
// one JSON line per audit: {id, name, status} (status: ok, warn, error; name starts with MUST, SHOULD or MAY).
import { auditServer } from 'graphql-http';

const url = process.argv[2];
const token = process.env.HRSS_AUDIT_TOKEN ?? '';

// Every request of the suite carries the token: /graphql answers nothing without one.
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers ?? {});
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers });
};

const results = await auditServer({ url, fetchFn });
for (const result of results) {
  console.log(JSON.stringify({ id: result.id, name: result.name, status: result.status, reason: result.reason ?? null }));
}
