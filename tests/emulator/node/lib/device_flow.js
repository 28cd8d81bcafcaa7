'use strict';
// The device-side flow every transport must pass: connect (device and module), get the twin,
// patch reported properties, receive a desired patch, answer a direct method, send telemetry.
const assert = require('assert');
const { Client, ModuleClient, Message } = require('azure-iot-device');
const iothub = require('azure-iothub');
const { call, waitFor } = require('./emulator');

function deviceSteps(label, makeTransport, clientOptions = () => ({})) {
  const open = async (ctx, Kind, cs) => {
    const client = Kind.fromConnectionString(cs, makeTransport());
    await client.setOptions({ ca: ctx.emulator.ca, ...clientOptions(ctx) });
    await client.open();
    ctx.cleanup.push(() => client.close());
    return client;
  };
  const flow = (who, mod) => [
    [`${label}: ${who} connects and gets its twin`, async (ctx) => {
      const cs = mod ? ctx.created.modules[mod] : ctx.created.connectionString;
      ctx.client = await open(ctx, mod ? ModuleClient : Client, cs);
      ctx.twin = await ctx.client.getTwin();
      assert.strictEqual(typeof ctx.twin.properties.desired.$version, 'number');
    }],
    [`${label}: ${who} patches reported properties`, async (ctx) => {
      await new Promise((resolve, reject) => ctx.twin.properties.reported.update({ firmware: '1.2.3', nested: { a: 1 } },
        (err) => (err ? reject(err) : resolve())));
      const twin = await ctx.emulator.twin('dev1', mod);
      assert.strictEqual(twin.properties.reported.firmware, '1.2.3');
      assert.strictEqual(twin.properties.reported.nested.a, 1);
    }],
    [`${label}: ${who} receives a desired-property patch`, async (ctx) => {
      let seen;
      ctx.twin.on('properties.desired', (delta) => { if (delta.telemetryInterval) seen = delta; });
      await ctx.emulator.subscribed(mod ? `dev1/${mod}` : 'dev1', 'desired');
      const registry = iothub.Registry.fromConnectionString(ctx.emulator.serviceConnectionString);
      const twin = (await (mod ? registry.getModuleTwin('dev1', mod) : registry.getTwin('dev1'))).responseBody;
      await twin.update({ properties: { desired: { telemetryInterval: 42 } } });
      await waitFor('desired patch', () => seen, 5000);
      assert.strictEqual(ctx.twin.properties.desired.telemetryInterval, 42);
    }],
    [`${label}: ${who} answers a direct method`, async (ctx) => {
      const onMethod = mod ? 'onMethod' : 'onDeviceMethod';
      ctx.client[onMethod]('reboot', (req, res) => res.send(200, { rebooted: true, delay: req.payload.delay }, () => {}));
      await ctx.emulator.subscribed(mod ? `dev1/${mod}` : 'dev1', 'methods');
      const service = iothub.Client.fromConnectionString(ctx.emulator.serviceConnectionString);
      const params = { methodName: 'reboot', payload: { delay: 3 }, responseTimeoutInSeconds: 10 };
      const result = await (mod ? call(service, 'invokeDeviceMethod', 'dev1', mod, params)
        : call(service, 'invokeDeviceMethod', 'dev1', params));
      assert.strictEqual(result.status, 200);
      assert.deepStrictEqual(result.payload, { rebooted: true, delay: 3 });
    }],
    [`${label}: ${who} sends telemetry`, async (ctx) => {
      const msg = new Message(JSON.stringify({ temperature: 21.5 }));
      msg.properties.add('level', 'info');
      msg.contentType = 'application/json';
      msg.contentEncoding = 'utf-8';
      if (mod) await ctx.client.sendOutputEvent('out1', msg); else await ctx.client.sendEvent(msg);
      const got = await waitFor('telemetry', async () => (await ctx.emulator.telemetry('dev1', mod)).find((m) => m.body.includes('21.5')));
      assert.strictEqual(got.properties.level, 'info');
      assert.strictEqual(got.systemProperties.ct, 'application/json');
      if (mod) assert.strictEqual(got.systemProperties.on, 'out1');
      await ctx.client.close();
    }],
  ];
  return [...flow('device'), ...flow('module', 'mod1')];
}

module.exports = { deviceSteps };
