'use strict';
// SAS token renewal: the MQTT transport reconnects with a fresh token (same client id, the
// broker takes the session over). The hub must keep the device online: twin and methods work.
const assert = require('assert');
const { Client } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const iothub = require('azure-iothub');
const { Emulator, run, call, sleep } = require('./lib/emulator');

run('sdk token_renewal', [
  ['emulator starts; a device connects with 6-second tokens', async (ctx) => {
    ctx.cleanup = [];
    ctx.emulator = await new Emulator().start();
    const created = await ctx.emulator.createDevice({ deviceId: 'renew1' });
    ctx.client = Client.fromConnectionString(created.connectionString, Mqtt);
    await ctx.client.setOptions({ tokenRenewal: { tokenValidTimeInSeconds: 6, tokenRenewalMarginInSeconds: 3 } });
    await ctx.client.open();
    ctx.cleanup.push(() => ctx.client.close());
    ctx.client.onDeviceMethod('ping', (req, res) => res.send(200, { pong: true }, () => {}));
    await ctx.emulator.subscribed('renew1', 'methods');
  }],
  ['after several renewals the twin and direct methods still work', async (ctx) => {
    await sleep(8000);  // at least two reconnects with new tokens
    const twin = await ctx.client.getTwin();
    assert.strictEqual(typeof twin.properties.desired.$version, 'number');
    const service = iothub.Client.fromConnectionString(ctx.emulator.serviceConnectionString);
    const r = await call(service, 'invokeDeviceMethod', 'renew1', { methodName: 'ping', responseTimeoutInSeconds: 10 });
    assert.deepStrictEqual(r, { status: 200, payload: { pong: true } });
    const device = (await ctx.emulator.admin('GET', '/devices/renew1')).device;
    assert.strictEqual(device.connectionState, 'Connected');
  }],
  ['after close the device is reported disconnected and methods get 404', async (ctx) => {
    await ctx.client.close();
    await sleep(300);
    const device = (await ctx.emulator.admin('GET', '/devices/renew1')).device;
    assert.strictEqual(device.connectionState, 'Disconnected');
    const service = iothub.Client.fromConnectionString(ctx.emulator.serviceConnectionString);
    await assert.rejects(call(service, 'invokeDeviceMethod', 'renew1', { methodName: 'ping', responseTimeoutInSeconds: 5 }),
      (e) => e.response && e.response.statusCode === 404);
  }],
]);
