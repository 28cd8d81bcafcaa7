'use strict';
// azure-iot-device + azure-iot-device-mqtt (Mqtt, TLS 8883) against the emulator.
const { Mqtt } = require('azure-iot-device-mqtt');
const assert = require('assert');
const { Client } = require('azure-iot-device');
const { Emulator, run } = require('./lib/emulator');
const { deviceSteps } = require('./lib/device_flow');

run('sdk device_mqtt', [
  ['emulator starts and a device with a module is created', async (ctx) => {
    ctx.cleanup = [];
    ctx.emulator = await new Emulator().start();
    ctx.created = await ctx.emulator.createDevice({ deviceId: 'dev1', modules: ['mod1'] });
  }],
  ...deviceSteps('Mqtt', () => Mqtt),
  ['Mqtt: a cloud-to-device message queued while offline arrives when the device listens', async (ctx) => {
    await ctx.emulator.admin('POST', '/devices/dev1/messages', { data: 'hello device', properties: { kind: 'greeting' } });
    const client = Client.fromConnectionString(ctx.created.connectionString, Mqtt);
    await client.open();
    ctx.cleanup.push(() => client.close());
    const got = new Promise((resolve) => client.on('message', (msg) => { client.complete(msg, () => {}); resolve(msg); }));
    const msg = await Promise.race([got, new Promise((_, reject) => setTimeout(() => reject(new Error('no message')), 5000))]);
    assert.strictEqual(msg.data.toString(), 'hello device');
    assert.strictEqual(msg.properties.getValue('kind'), 'greeting');
    assert.ok(msg.messageId);
  }],
]);
