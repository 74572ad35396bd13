import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkOutboundPolicy, checkOutboundUrl, embeddedIpv4, internalAddressKind, type HostLookup } from './outbound.ts';

const none = { allow: [] };
const dns = (table: Record<string, string[]>): HostLookup => async (host) => {
  const found = table[host];
  if (!found) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};
const refusal = (rule: string, field = '/url') => (err: { code?: string; issues?: { field: string; rule: string }[] }) =>
  err.code === 'OUTBOUND_REFUSED' && err.issues?.[0]?.rule === rule && err.issues[0].field === field;

test('internal addresses of every special range are recognised; public ones are not', () => {
  const internal = [
    '127.0.0.1', '127.255.0.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1',
    '0.0.0.0', '224.0.0.1', '255.255.255.255', '198.18.0.1', '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe', '2002:c0a8:0101::1', '::127.0.0.1',
  ];
  for (const a of internal) assert.ok(internalAddressKind(a), `${a} is internal`);
  for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
    assert.equal(internalAddressKind(a), undefined, `${a} is public`);
  }
  assert.equal(embeddedIpv4('::ffff:10.0.0.1'), '10.0.0.1');
  assert.equal(internalAddressKind('169.254.169.254'), 'link-local');
  assert.equal(internalAddressKind('100.64.1.1'), 'CGNAT');
});

test('schemes other than http(s) are refused, naming the field', async () => {
  for (const url of ['file:///etc/passwd', 'gopher://example.com/', 'ftp://example.com/', 'javascript:alert(1)', 'not a url']) {
    await assert.rejects(checkOutboundUrl(url, none, { field: '/channels/0/url', lookup: dns({}) }), refusal('scheme', '/channels/0/url'), url);
  }
});

test('literal and resolved internal addresses are refused; every resolved address is checked', async () => {
  const lookup = dns({ 'hooks.example.com': ['93.184.216.34'], 'rebind.example.com': ['93.184.216.34', '127.0.0.1'], 'meta.example.com': ['169.254.169.254'] });
  for (const url of ['http://127.0.0.1:9000/x', 'http://[::1]/', 'http://169.254.169.254/latest/meta-data/', 'http://2130706433/', 'http://0x7f.1/',
    'http://[::ffff:127.0.0.1]/', 'http://10.0.0.1/', 'https://rebind.example.com/', 'http://meta.example.com/', 'http://0/']) {
    await assert.rejects(checkOutboundUrl(url, none, { lookup }), refusal('address'), url);
  }
  await assert.rejects(checkOutboundUrl('https://nowhere.example.com/', none, { lookup }), refusal('resolve'));
  const ok = await checkOutboundUrl('https://user:pw@hooks.example.com/a?b=c', none, { lookup });
  assert.deepEqual(ok.addresses, [{ address: '93.184.216.34', family: 4 }]);
});

test('the allow-list admits hosts, wildcard subdomains, addresses and CIDRs', async () => {
  const lookup = dns({ 'alerts.internal': ['10.1.2.3'], 'a.corp.internal': ['10.9.9.9'], 'other.internal': ['10.200.0.1'] });
  const policy = { allow: ['alerts.internal', '*.corp.internal', '127.0.0.1', '10.200.0.0/16', 'fd00::/8'] };
  checkOutboundPolicy(policy);
  await checkOutboundUrl('http://alerts.internal/hook', policy, { lookup });
  await checkOutboundUrl('http://a.corp.internal/hook', policy, { lookup });
  await checkOutboundUrl('http://other.internal/hook', policy, { lookup });
  await checkOutboundUrl('http://127.0.0.1:8080/', policy, { lookup });
  await checkOutboundUrl('http://[fd00::5]/', policy, { lookup });
  await assert.rejects(checkOutboundUrl('http://127.0.0.2/', policy, { lookup }), refusal('address'));
  await assert.rejects(checkOutboundUrl('http://corp.internal/', policy, { lookup: dns({ 'corp.internal': ['10.0.0.1'] }) }), refusal('address'));
  assert.throws(() => checkOutboundPolicy({ allow: ['not a host!'] }), (e: { code?: string }) => e.code === 'CONFIG_INVALID');
  assert.throws(() => checkOutboundPolicy({ allow: ['10.0.0.0/40'] }), (e: { code?: string }) => e.code === 'CONFIG_INVALID');
});

test('a refusal never echoes the path, query or credentials of the URL', async () => {
  const err = await checkOutboundUrl('http://user:s3cret@127.0.0.1/T000/B000/XXXXSECRET?token=abc', none).catch((e: Error) => e);
  assert.ok(err instanceof Error);
  const text = JSON.stringify({ message: err.message, ...(err as unknown as Record<string, unknown>) });
  for (const secret of ['s3cret', 'XXXXSECRET', 'token=abc', 'user:']) assert.ok(!text.includes(secret), secret);
});
