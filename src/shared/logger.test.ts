import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, scrubSecrets } from './logger.ts';

function capture(): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, log: createLogger({ level: 'trace', destination: { write: (l: string) => { lines.push(l); } } }) };
}

const KEY = 'tmk_AbCdEfGhIjKl.0123456789abcdefghijABCDEFGHIJ0123456789abcde';

test('secret fields are redacted by path, at the top level and one object down', () => {
  const { lines, log } = capture();
  log.info({ req: { headers: { authorization: `Bearer ${KEY}`, cookie: 'session=s3cr3t-cookie' } } }, 'request');
  log.info({ channel: { url: 'https://example.com', secret: 'hmac-s3cr3t-value', pass: 'smtp-s3cr3t-pass' }, password: 'pw-s3cr3t' }, 'x');
  const text = lines.join('');
  for (const secret of [KEY, 's3cr3t-cookie', 'hmac-s3cr3t-value', 'smtp-s3cr3t-pass', 'pw-s3cr3t']) assert.ok(!text.includes(secret), secret);
  assert.match(text, /\[redacted\]/);
});

test('secret values are scrubbed wherever they appear: messages, errors, nested fields, URLs', () => {
  const { lines, log } = capture();
  log.warn(`auth failed for ${KEY}`);
  log.error({ err: new Error(`delivery to https://bob:hunter2pass@hooks.example.com/x failed (${KEY})`) }, 'failed');
  log.info({ a: { b: { c: { token: 'deep-t0ken-value', note: 'Basic dXNlcjpwYXNzd29yZA==' } } } }, 'deep');
  log.info({ url: 'https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX', q: 'https://x.example.com/cb?code=abc123code&state=1' }, 'urls');
  log.info({ pem: '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIPrivate\n-----END PRIVATE KEY-----' }, 'pem');
  const text = lines.join('');
  for (const secret of ['0123456789abcdefghij', 'hunter2pass', 'deep-t0ken-value', 'dXNlcjpwYXNzd29yZA', 'XXXXXXXXXXXXXXXX', 'abc123code', 'MC4CAQAwBQYDK2VwBCIEIPrivate']) {
    assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  }
  assert.match(text, /hooks\.example\.com/, 'the host stays for diagnosis');
  for (const line of lines) JSON.parse(line);
});

test('scrubbing leaves ordinary text alone', () => {
  const line = JSON.stringify({ msg: 'version loaded', model: 'credit-risk', url: 'https://example.com/a/b', key: 'loan_amount' });
  assert.equal(scrubSecrets(line), line);
});
