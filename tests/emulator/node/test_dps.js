'use strict';
// azure-iot-provisioning-device-http with symmetric keys (individual and group-derived) and X.509,
// then azure-iot-device connects to the assigned hub.
const assert = require('assert');
const crypto = require('crypto');
const { ProvisioningDeviceClient } = require('azure-iot-provisioning-device');
const { Http } = require('azure-iot-provisioning-device-http');
const { SymmetricKeySecurityClient } = require('azure-iot-security-symmetric-key');
const { X509Security } = require('azure-iot-security-x509');
const { Client, Message } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const { Emulator, run } = require('./lib/emulator');

function register(emulator, security, payload) {
  const client = ProvisioningDeviceClient.create(emulator.hostname, emulator.info.idScope, new Http(), security);
  if (payload) client.setProvisioningPayload(payload);
  return client.register();
}

async function connectAndUse(ctx, result, key, cert) {
  const client = Client.fromConnectionString(
    `HostName=${result.assignedHub};DeviceId=${result.deviceId};` + (cert ? 'x509=true' : `SharedAccessKey=${key}`), Mqtt);
  if (cert) await client.setOptions({ cert: cert.certificate, key: cert.privateKey });
  await client.open();
  const twin = await client.getTwin();
  await client.sendEvent(new Message(JSON.stringify({ from: result.deviceId })));
  await client.close();
  return twin;
}

run('sdk dps', [
  ['emulator starts', async (ctx) => {
    ctx.cleanup = [];
    ctx.emulator = await new Emulator().start();
  }],
  ['symmetric key, individual enrollment: register (with payload), then connect', async (ctx) => {
    const e = await ctx.emulator.admin('POST', '/enrollments', {
      registrationId: 'sym-dev', type: 'symmetricKey', initialTwin: { desired: { greeting: 'hello' } },
    });
    const result = await register(ctx.emulator, new SymmetricKeySecurityClient('sym-dev', e.primaryKey), { hello: 'world' });
    assert.strictEqual(result.assignedHub, ctx.emulator.hostname);
    assert.strictEqual(result.deviceId, 'sym-dev');
    assert.deepStrictEqual(result.payload, { hello: 'world' });
    const twin = await connectAndUse(ctx, result, e.primaryKey);
    assert.strictEqual(twin.properties.desired.greeting, 'hello');
  }],
  ['symmetric key, group enrollment: a derived device key registers an edge device', async (ctx) => {
    const g = await ctx.emulator.admin('POST', '/enrollment-groups', { groupId: 'fleet', type: 'symmetricKey', iotEdge: true });
    const key = crypto.createHmac('sha256', Buffer.from(g.primaryKey, 'base64')).update('fleet-007').digest('base64');
    const result = await register(ctx.emulator, new SymmetricKeySecurityClient('fleet-007', key));
    assert.strictEqual(result.deviceId, 'fleet-007');
    const device = (await ctx.emulator.admin('GET', '/devices/fleet-007')).device;
    assert.strictEqual(device.capabilities.iotEdge, true);
    await connectAndUse(ctx, result, key);
  }],
  ['identityd-style DPS calls (api-version 2021-06-01, raw HTTPS) register and poll', async (ctx) => {
    const e = await ctx.emulator.admin('POST', '/enrollments', { registrationId: 'idd-dev', type: 'symmetricKey', iotEdge: true });
    const scope = ctx.emulator.info.idScope;
    const sr = encodeURIComponent(`${scope}/registrations/idd-dev`);
    const se = Math.floor(Date.now() / 1000) + 3600;
    const sig = crypto.createHmac('sha256', Buffer.from(e.primaryKey, 'base64')).update(`${sr}\n${se}`).digest('base64');
    const auth = { Authorization: `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${se}&skn=registration` };
    let r = await ctx.emulator.request('PUT', `/${scope}/registrations/idd-dev/register?api-version=2021-06-01`,
      { registrationId: 'idd-dev', payload: { modelId: 'dtmi:x;1' } }, auth);
    assert.strictEqual(r.status, 202, r.text);
    assert.strictEqual(r.body.status, 'assigning');
    assert.strictEqual(r.headers['retry-after'], '1');
    r = await ctx.emulator.request('GET', `/${scope}/registrations/idd-dev/operations/${r.body.operationId}?api-version=2021-06-01`, undefined, auth);
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.body.status, 'assigned');
    assert.strictEqual(r.body.registrationState.assignedHub, ctx.emulator.hostname);
    assert.strictEqual(r.body.registrationState.deviceId, 'idd-dev');
    assert.deepStrictEqual(r.body.registrationState.payload, { modelId: 'dtmi:x;1' });
    r = await ctx.emulator.request('GET', `/${scope}/registrations/idd-dev/operations/4.nope?api-version=2021-06-01`, undefined, auth);
    assert.strictEqual(r.status, 404);
    r = await ctx.emulator.request('PUT', `/wrongscope/registrations/idd-dev/register?api-version=2021-06-01`, { registrationId: 'idd-dev' }, auth);
    assert.strictEqual(r.status, 401);
  }],
  ['symmetric key: a wrong key is refused with 401 and nothing is registered', async (ctx) => {
    const wrong = crypto.randomBytes(32).toString('base64');
    await assert.rejects(register(ctx.emulator, new SymmetricKeySecurityClient('stranger', wrong)),
      (e) => e.response && e.response.statusCode === 401);
    const r = await ctx.emulator.request('GET', '/admin/devices/stranger');
    assert.strictEqual(r.status, 404);
  }],
  ['X.509, individual enrollment: register with a device certificate, then connect with it', async (ctx) => {
    const cert = await ctx.emulator.admin('POST', '/certificates', { commonName: 'x509-dev', selfSigned: true });
    await ctx.emulator.admin('POST', '/enrollments', { registrationId: 'x509-dev', type: 'x509', certificate: cert.certificate });
    const result = await register(ctx.emulator, new X509Security('x509-dev', { cert: cert.certificate, key: cert.privateKey }));
    assert.strictEqual(result.deviceId, 'x509-dev');
    const device = (await ctx.emulator.admin('GET', '/devices/x509-dev')).device;
    assert.strictEqual(device.authentication.type, 'selfSigned');
    assert.strictEqual(device.authentication.x509Thumbprint.primaryThumbprint, cert.thumbprint);
    await connectAndUse(ctx, result, undefined, cert);
    const other = await ctx.emulator.admin('POST', '/certificates', { commonName: 'x509-dev', selfSigned: true });
    const client = Client.fromConnectionString(`HostName=${result.assignedHub};DeviceId=x509-dev;x509=true`, Mqtt);
    await client.setOptions({ cert: other.certificate, key: other.privateKey });
    await assert.rejects(client.open(), /Not authorized|Unauthorized/i, 'a different certificate with the same CN');
    // identityd creates module identities for an X.509 device with its TLS client certificate.
    const tlsAuth = { cert: cert.certificate, key: cert.privateKey };
    let r = await ctx.emulator.request('PUT', '/devices/x509-dev/modules/m1?api-version=2021-04-12', { moduleId: 'm1' }, {}, tlsAuth);
    assert.strictEqual(r.status, 200, r.text);
    assert.ok(r.body.authentication.symmetricKey.primaryKey);
    r = await ctx.emulator.request('GET', '/devices/x509-dev/modules/m1?api-version=2021-04-12', undefined, {},
      { cert: other.certificate, key: other.privateKey });
    assert.strictEqual(r.status, 401);
  }],
  ['X.509, group enrollment: a certificate signed by the group CA registers and connects', async (ctx) => {
    const ca = await ctx.emulator.admin('POST', '/certificates', { commonName: 'fleet CA', ca: true });
    await ctx.emulator.admin('POST', '/enrollment-groups', { groupId: 'x509-fleet', type: 'x509', certificate: ca.certificate });
    const leaf = await ctx.emulator.admin('POST', '/certificates', {
      commonName: 'x509-leaf', issuerCertificate: ca.certificate, issuerKey: ca.privateKey,
    });
    const result = await register(ctx.emulator, new X509Security('x509-leaf', { cert: leaf.certificate, key: leaf.privateKey }));
    assert.strictEqual(result.deviceId, 'x509-leaf');
    await connectAndUse(ctx, result, undefined, leaf);
    const other = await ctx.emulator.admin('POST', '/certificates', { commonName: 'x509-rogue', selfSigned: true });
    await assert.rejects(register(ctx.emulator, new X509Security('x509-rogue', { cert: other.certificate, key: other.privateKey })),
      (e) => e.response && e.response.statusCode === 401);
  }],
]);
