'use strict';
// azure-iot-device + azure-iot-device-mqtt (Mqtt, TLS 8883) against the emulator.
const { Mqtt } = require('azure-iot-device-mqtt');
const { Emulator, run } = require('./lib/emulator');
const { deviceSteps } = require('./lib/device_flow');

run('sdk device_mqtt', [
  ['emulator starts and a device with a module is created', async (ctx) => {
    ctx.cleanup = [];
    ctx.emulator = await new Emulator().start();
    ctx.created = await ctx.emulator.createDevice({ deviceId: 'dev1', modules: ['mod1'] });
  }],
  ...deviceSteps('Mqtt', () => Mqtt),
]);
