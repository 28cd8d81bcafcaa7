'use strict';
// The device flow over MqttWs: wss://<hub>:443/$iothub/websocket, served by the emulator's
// HTTPS front and mosquitto's websockets listener.
const { MqttWs } = require('azure-iot-device-mqtt');
const { Emulator, run } = require('./lib/emulator');
const { deviceSteps } = require('./lib/device_flow');

run('sdk device_mqttws', [
  ['emulator starts and a device with a module is created', async (ctx) => {
    ctx.cleanup = [];
    ctx.emulator = await new Emulator().start();
    if (!ctx.emulator.info.websockets) throw new Error('this mosquitto has no websockets support');
    ctx.created = await ctx.emulator.createDevice({ deviceId: 'dev1', modules: ['mod1'] });
  }],
  ...deviceSteps('MqttWs', () => MqttWs),
]);
