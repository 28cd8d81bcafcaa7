'use strict';
// Bad input is refused the way IoT Hub refuses it, and the emulator keeps serving.
const assert = require('assert');
const crypto = require('crypto');
const tls = require('tls');
const mqtt = require('mqtt');
const { Client, ModuleClient } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const iothub = require('azure-iothub');
const { Emulator, run, sleep } = require('./lib/emulator');

const now = () => Math.floor(Date.now() / 1000);

function sas(resource, keyB64, expiry, skn) {
  const sr = encodeURIComponent(resource);
  const sig = crypto.createHmac('sha256', Buffer.from(keyB64, 'base64')).update(sr + '\n' + expiry).digest('base64');
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expiry}` + (skn ? `&skn=${skn}` : '');
}

async function refusedByHub(ctx, connectionString, Kind = Client) {
  const client = Kind.fromConnectionString(connectionString, Mqtt);
  await assert.rejects(client.open(), (e) => e.constructor.name === 'UnauthorizedError' || /Not authorized|refused/i.test(e.message));
  await client.close().catch(() => {});
}

function rawMqtt(ctx, clientId, password, extra = {}) {
  const host = ctx.emulator.hostname;
  return mqtt.connect(`mqtts://${host}:8883`, {
    clientId, username: `${host}/${clientId}/?api-version=2021-04-12`, password, protocolVersion: 4,
    clean: true, reconnectPeriod: 0, connectTimeout: 5000, ...extra,
  });
}

const once = (emitter, event) => new Promise((resolve) => emitter.once(event, resolve));

async function stillServing(ctx) {
  const client = Client.fromConnectionString(ctx.dev.connectionString, Mqtt);
  await client.open();
  const twin = await client.getTwin();
  assert.strictEqual(typeof twin.properties.reported.$version, 'number');
  await client.close();
}

run('sdk bad_input', [
  ['emulator starts; a device with two modules exists', async (ctx) => {
    ctx.cleanup = [];
    ctx.emulator = await new Emulator().start();
    ctx.dev = await ctx.emulator.createDevice({ deviceId: 'dev1', modules: ['mod1', 'mod2'] });
    ctx.key = /SharedAccessKey=([^;]+)/.exec(ctx.dev.connectionString)[1];
    ctx.modKey = /SharedAccessKey=([^;]+)/.exec(ctx.dev.modules.mod1)[1];
  }],
  ['MQTT: a wrong key is refused', async (ctx) => {
    await refusedByHub(ctx, `HostName=${ctx.emulator.hostname};DeviceId=dev1;SharedAccessKey=${crypto.randomBytes(32).toString('base64')}`);
  }],
  ['MQTT: an expired token is refused', async (ctx) => {
    const token = sas(`${ctx.emulator.hostname}/devices/dev1`, ctx.key, now() - 10);
    await refusedByHub(ctx, `HostName=${ctx.emulator.hostname};DeviceId=dev1;SharedAccessSignature=${token}`);
  }],
  ['MQTT: a tampered token (expiry moved) is refused', async (ctx) => {
    const token = sas(`${ctx.emulator.hostname}/devices/dev1`, ctx.key, now() + 600).replace(/se=\d+/, `se=${now() + 99999}`);
    await refusedByHub(ctx, `HostName=${ctx.emulator.hostname};DeviceId=dev1;SharedAccessSignature=${token}`);
  }],
  ['MQTT: a module token used for another module is refused', async (ctx) => {
    // The SDK derives the identity from the token, so speak MQTT directly: mod2 presenting mod1's token.
    const modToken = sas(`${ctx.emulator.hostname}/devices/dev1/modules/mod1`, ctx.modKey, now() + 600);
    const devToken = sas(`${ctx.emulator.hostname}/devices/dev1`, ctx.key, now() + 600);
    for (const [clientId, token] of [['dev1/mod2', modToken], ['dev1/mod1', devToken], ['dev1', modToken]]) {
      const c = rawMqtt(ctx, clientId, token);
      const err = await once(c, 'error');
      assert.match(err.message, /Not authorized/, clientId);
      c.end(true);
    }
    const ok = rawMqtt(ctx, 'dev1/mod1', modToken);
    await once(ok, 'connect');
    ok.end(true);
  }],
  ['MQTT: an unknown device is refused', async (ctx) => {
    await refusedByHub(ctx, `HostName=${ctx.emulator.hostname};DeviceId=ghost;SharedAccessKey=${ctx.key}`);
  }],
  ['REST: wrong, expired and tampered service tokens get 401', async (ctx) => {
    const host = ctx.emulator.hostname;
    const ownerKey = /SharedAccessKey=([^;]+)/.exec(ctx.emulator.serviceConnectionString)[1];
    const tokens = {
      wrong: sas(host, crypto.randomBytes(32).toString('base64'), now() + 600, 'iothubowner'),
      expired: sas(host, ownerKey, now() - 5, 'iothubowner'),
      tampered: sas(host, ownerKey, now() + 600, 'iothubowner').replace(/se=\d+/, `se=${now() + 9999}`),
      unknownPolicy: sas(host, ownerKey, now() + 600, 'nosuchpolicy'),
    };
    for (const [name, token] of Object.entries(tokens)) {
      const registry = iothub.Registry.fromSharedAccessSignature(`SharedAccessSignature${token.slice('SharedAccessSignature'.length)}`);
      registry._restApiClient._config.host = host;
      await assert.rejects(registry.get('dev1'), (e) => e.response && e.response.statusCode === 401, name);
    }
    const r = await ctx.emulator.request('GET', '/devices/dev1?api-version=2021-04-12');
    assert.strictEqual(r.status, 401);
    assert.match(r.body.Message, /IotHubUnauthorizedAccess/);
  }],
  ['MQTT: malformed packets close the connection; the broker keeps serving', async (ctx) => {
    for (const bytes of [
      Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]),          // remaining length over 4 bytes
      Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x58, 0x58, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]),  // bad protocol name
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),           // not MQTT at all
    ]) {
      const sock = tls.connect({ host: ctx.emulator.hostname, port: 8883 });
      await once(sock, 'secureConnect');
      sock.on('error', () => {});
      sock.write(bytes);
      await Promise.race([once(sock, 'close'), sleep(5000).then(() => { throw new Error('connection left open'); })]);
    }
    await stillServing(ctx);
  }],
  ['MQTT: unsupported topics disconnect; foreign subscriptions are refused', async (ctx) => {
    const token = sas(`${ctx.emulator.hostname}/devices/dev1`, ctx.key, now() + 600);
    let c = rawMqtt(ctx, 'dev1', token);
    await once(c, 'connect');
    const granted = await new Promise((resolve, reject) => c.subscribe('devices/other/messages/devicebound/#', { qos: 1 },
      (e, g) => (e ? reject(e) : resolve(g))));
    assert.strictEqual(granted[0].qos, 128);
    for (const topic of ['$iothub/bogus/thing', 'devices/other/messages/events/', '$iothub/twin/GET/']) {
      if (!c.connected) { c = rawMqtt(ctx, 'dev1', token); await once(c, 'connect'); }
      const closed = once(c, 'close');
      c.publish(topic, '{}', { qos: 0 });
      await Promise.race([closed, sleep(5000).then(() => { throw new Error(`not disconnected after ${topic}`); })]);
    }
    c.end(true);
    await stillServing(ctx);
  }],
  ['MQTT: a message over IoT Hub\'s 256 KB limit closes the connection', async (ctx) => {
    const token = sas(`${ctx.emulator.hostname}/devices/dev1`, ctx.key, now() + 600);
    const c = rawMqtt(ctx, 'dev1', token);
    await once(c, 'connect');
    const closed = once(c, 'close');
    c.publish('devices/dev1/messages/events/', Buffer.alloc(300 * 1024, 'x'), { qos: 1 });
    await Promise.race([closed, sleep(5000).then(() => { throw new Error('oversized message accepted'); })]);
    c.end(true);
    const kept = await ctx.emulator.telemetry('dev1');
    assert.ok(kept.every((m) => m.body.length < 256 * 1024));
    await stillServing(ctx);
  }],
  ['twins: patches over 32 KB are refused (reported over MQTT, desired over REST)', async (ctx) => {
    const client = Client.fromConnectionString(ctx.dev.connectionString, Mqtt);
    await client.open();
    ctx.cleanup.push(() => client.close());
    const twin = await client.getTwin();
    const big = { blob: 'x'.repeat(33 * 1024) };
    await assert.rejects(new Promise((resolve, reject) => twin.properties.reported.update(big, (e) => (e ? reject(e) : resolve()))),
      /32 KB/);
    await new Promise((resolve, reject) => twin.properties.reported.update({ small: 1 }, (e) => (e ? reject(e) : resolve())));
    const registry = iothub.Registry.fromConnectionString(ctx.emulator.serviceConnectionString);
    await assert.rejects(registry.updateTwin('dev1', { properties: { desired: big } }, '*'),
      (e) => e.response && e.response.statusCode === 413);
    const t = (await registry.getTwin('dev1')).responseBody;
    assert.strictEqual(t.properties.reported.small, 1);
    assert.strictEqual(t.properties.desired.blob, undefined);
  }],
  ['HTTPS: garbage and malformed JSON are refused; the emulator keeps serving', async (ctx) => {
    const sock = tls.connect({ host: ctx.emulator.hostname, port: 443 });
    await once(sock, 'secureConnect');
    let reply = '';
    sock.on('data', (d) => { reply += d; });
    sock.on('error', () => {});
    sock.write('\x00\x01garbage\r\n\r\n');
    await Promise.race([once(sock, 'close'), (async () => { while (!reply.includes('\r\n\r\n')) await sleep(20); })(), sleep(3000)]);
    assert.match(reply, /^HTTP\/1\.1 400/);
    sock.destroy();
    const r = await ctx.emulator.request('PUT', '/devices/bad?api-version=2021-04-12', '{not json',
      { Authorization: sas(ctx.emulator.hostname, /SharedAccessKey=([^;]+)/.exec(ctx.emulator.serviceConnectionString)[1], now() + 600, 'iothubowner') });
    assert.strictEqual(r.status, 400);
    await stillServing(ctx);
  }],
]);
