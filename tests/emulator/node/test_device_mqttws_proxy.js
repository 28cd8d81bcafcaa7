'use strict';
// The device flow over MqttWs through an HTTPS (CONNECT) proxy: tinyproxy.
const assert = require('assert');
const { MqttWs } = require('azure-iot-device-mqtt');
const { HttpsProxyAgent } = require('https-proxy-agent');
const { Emulator, run } = require('./lib/emulator');
const { deviceSteps } = require('./lib/device_flow');
const { startTinyproxy } = require('./lib/tinyproxy');

run('sdk device_mqttws_proxy', [
  ['emulator and tinyproxy start; a device with a module is created', async (ctx) => {
    ctx.cleanup = [];
    ctx.emulator = await new Emulator().start();
    if (!ctx.emulator.info.websockets) throw new Error('this mosquitto has no websockets support');
    ctx.proxy = await startTinyproxy(ctx.emulator.stateDir);
    ctx.cleanup.push(() => ctx.proxy.stop());
    ctx.created = await ctx.emulator.createDevice({ deviceId: 'dev1', modules: ['mod1'] });
  }],
  ...deviceSteps('MqttWs via proxy', () => MqttWs, (ctx) => ({ mqtt: { webSocketAgent: new HttpsProxyAgent(ctx.proxy.url) } })),
  ['the proxy carried the connections (CONNECT <hub>:443)', async (ctx) => {
    assert.match(ctx.proxy.log(), new RegExp(`CONNECT ${ctx.emulator.hostname.replace(/\./g, '\\.')}:443`));
  }],
]);
