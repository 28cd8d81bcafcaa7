'use strict';
// azure-iothub (service SDK): registry, twins, applyConfigurationContentOnDevice with a real
// deployment manifest, direct methods to a device and a module.
const assert = require('assert');
const { Registry, Client: ServiceClient } = require('azure-iothub');
const { Client, ModuleClient, SharedAccessSignature } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const { Emulator, run, call, waitFor } = require('./lib/emulator');
const deployment = require('./fixtures/deployment.json');

const body = (r) => r.responseBody;

run('sdk service', [
  ['emulator starts', async (ctx) => {
    ctx.cleanup = [];
    ctx.emulator = await new Emulator().start();
    ctx.registry = Registry.fromConnectionString(ctx.emulator.serviceConnectionString);
    ctx.service = ServiceClient.fromConnectionString(ctx.emulator.serviceConnectionString);
  }],
  ['registry: create, get, update, list, delete a device', async (ctx) => {
    const created = body(await ctx.registry.create({ deviceId: 'svc1', status: 'enabled' }));
    assert.strictEqual(created.deviceId, 'svc1');
    assert.ok(created.authentication.symmetricKey.primaryKey, 'keys are generated');
    assert.ok(created.generationId && created.etag);
    await assert.rejects(ctx.registry.create({ deviceId: 'svc1' }), (e) => e.response.statusCode === 409);
    const got = body(await ctx.registry.get('svc1'));
    assert.strictEqual(got.authentication.symmetricKey.primaryKey, created.authentication.symmetricKey.primaryKey);
    const updated = body(await ctx.registry.update({ deviceId: 'svc1', status: 'disabled', etag: got.etag }));
    assert.strictEqual(updated.status, 'disabled');
    const list = body(await ctx.registry.list());
    assert.ok(list.some((d) => d.deviceId === 'svc1'));
    await ctx.registry.delete('svc1');
    await assert.rejects(ctx.registry.get('svc1'), (e) => e.response.statusCode === 404 && e.name === 'DeviceNotFoundError');
  }],
  ['registry: an edge device gets $edgeAgent and $edgeHub; modules are created, listed, deleted', async (ctx) => {
    const edge = body(await ctx.registry.create({ deviceId: 'edge1', capabilities: { iotEdge: true } }));
    assert.strictEqual(edge.capabilities.iotEdge, true);
    assert.match(edge.deviceScope, /^ms-azure-iot-edge:\/\/edge1-/);
    let modules = body(await ctx.registry.getModulesOnDevice('edge1')).map((m) => m.moduleId).sort();
    assert.deepStrictEqual(modules, ['$edgeAgent', '$edgeHub']);
    const m = body(await ctx.registry.addModule({ deviceId: 'edge1', moduleId: 'filter', managedBy: 'IotEdge' }));
    assert.ok(m.authentication.symmetricKey.primaryKey && m.generationId);
    assert.strictEqual(body(await ctx.registry.getModule('edge1', 'filter')).managedBy, 'IotEdge');
    modules = body(await ctx.registry.getModulesOnDevice('edge1')).map((x) => x.moduleId);
    assert.strictEqual(modules.length, 3);
    await ctx.registry.removeModule('edge1', 'filter');
    await assert.rejects(ctx.registry.getModule('edge1', 'filter'), (e) => e.response.statusCode === 404);
    ctx.edgeKeys = edge.authentication.symmetricKey;
  }],
  ['a device SAS token manages its own modules (as identityd does), not another device\'s', async (ctx) => {
    const host = ctx.emulator.hostname;
    // azure-iot-device's helper: create(host, deviceId, key, expiry) -> sr = host/devices/deviceId
    const token = (dev, key) => SharedAccessSignature.create(host, dev, key, Math.floor(Date.now() / 1000) + 600).toString();
    const keys = body(await ctx.registry.get('edge1')).authentication.symmetricKey;
    const auth = { Authorization: token('edge1', keys.primaryKey) };
    let r = await ctx.emulator.request('PUT', '/devices/edge1/modules/idmod?api-version=2021-04-12', { moduleId: 'idmod' }, auth);
    assert.strictEqual(r.status, 200, r.text);
    r = await ctx.emulator.request('GET', '/devices/edge1/modules?api-version=2021-04-12', undefined, auth);
    assert.ok(r.body.some((m) => m.moduleId === 'idmod'));
    await ctx.registry.create({ deviceId: 'other' });
    r = await ctx.emulator.request('GET', '/devices/other/modules?api-version=2021-04-12', undefined, auth);
    assert.strictEqual(r.status, 401);
    r = await ctx.emulator.request('DELETE', '/devices/edge1/modules/idmod?api-version=2021-04-12', undefined, auth);
    assert.strictEqual(r.status, 204);
  }],
  ['nested hierarchy: edge devices with parents carry deviceScope / parentScopes', async (ctx) => {
    const top = await ctx.emulator.createDevice({ deviceId: 'top-edge', edge: true });
    await ctx.emulator.createDevice({ deviceId: 'child-edge', edge: true, parent: 'top-edge' });
    await ctx.emulator.createDevice({ deviceId: 'leaf', parent: 'child-edge' });
    const child = body(await ctx.registry.get('child-edge'));
    const leaf = body(await ctx.registry.get('leaf'));
    assert.deepStrictEqual(child.parentScopes, [top.device.deviceScope]);
    assert.match(child.deviceScope, /^ms-azure-iot-edge:\/\/child-edge-/);
    assert.strictEqual(leaf.deviceScope, child.deviceScope);
    assert.deepStrictEqual(leaf.parentScopes, [child.deviceScope]);
    assert.strictEqual(leaf.capabilities.iotEdge, false);
    // the service API sets them too, as the portal and az CLI do
    const viaSdk = body(await ctx.registry.create({ deviceId: 'leaf2', deviceScope: child.deviceScope, parentScopes: [child.deviceScope] }));
    assert.strictEqual(viaSdk.deviceScope, child.deviceScope);
  }],
  ['device scope: an edgeHub lists and looks up the identities it may authenticate', async (ctx) => {
    const host = ctx.emulator.hostname;
    const hubKey = body(await ctx.registry.getModule('top-edge', '$edgeHub')).authentication.symmetricKey.primaryKey;
    const expiry = Math.floor(Date.now() / 1000) + 600;
    const sr = encodeURIComponent(`${host}/devices/top-edge/modules/$edgeHub`);
    const sig = require('crypto').createHmac('sha256', Buffer.from(hubKey, 'base64')).update(`${sr}\n${expiry}`).digest('base64');
    const auth = { Authorization: `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expiry}` };
    let r = await ctx.emulator.request('GET', '/devices/top-edge/modules/%24edgeHub/devicesAndModulesInDeviceScope?deviceCount=100&api-version=2018-08-30-preview', undefined, auth);
    assert.strictEqual(r.status, 200, r.text);
    assert.deepStrictEqual(r.body.devices.map((d) => d.deviceId).sort(), ['child-edge', 'top-edge']);
    assert.ok(r.body.modules.some((m) => m.moduleId === '$edgeAgent'));
    assert.strictEqual(r.body.continuationLink, null);
    r = await ctx.emulator.request('POST', '/devices/top-edge/modules/%24edgeHub/devicesAndModulesInTargetDeviceScope?api-version=2020-06-30-preview',
      { pageSize: 100, authChain: 'child-edge;top-edge' }, auth);
    assert.strictEqual(r.status, 200, r.text);
    assert.deepStrictEqual(r.body.devices.map((d) => d.deviceId).sort(), ['child-edge', 'leaf', 'leaf2']);
    assert.ok(r.body.devices.find((d) => d.deviceId === 'leaf').authentication.symmetricKey.primaryKey);
    r = await ctx.emulator.request('POST', '/devices/top-edge/modules/%24edgeHub/getDeviceAndModuleOnBehalfOf?api-version=2020-06-30-preview',
      { targetDeviceId: 'child-edge', targetModuleId: '$edgeHub', authChain: 'child-edge;top-edge' }, auth);
    assert.strictEqual(r.status, 200, r.text);
    assert.strictEqual(r.body.modules[0].moduleId, '$edgeHub');
    r = await ctx.emulator.request('GET', '/devices/top-edge/modules/%24edgeHub/deviceAndModuleInDeviceScope?targetDeviceId=other&api-version=2018-08-30-preview', undefined, auth);
    assert.strictEqual(r.status, 401, 'a device outside the hierarchy');
    r = await ctx.emulator.request('GET', '/devices/child-edge/modules/%24edgeHub/devicesAndModulesInDeviceScope?api-version=2018-08-30-preview', undefined, auth);
    assert.strictEqual(r.status, 401, "another device's edgeHub");
  }],
  ['twins: read and update tags and desired properties, with versions and etags', async (ctx) => {
    const twin = body(await ctx.registry.getTwin('other'));
    assert.strictEqual(twin.properties.desired.$version, 1);
    const patched = body(await ctx.registry.updateTwin('other', { tags: { site: 'lab' }, properties: { desired: { a: 1, b: { c: 2 } } } }, twin.etag));
    assert.strictEqual(patched.tags.site, 'lab');
    assert.strictEqual(patched.properties.desired.$version, 2);
    const again = body(await ctx.registry.updateTwin('other', { properties: { desired: { b: { c: null, d: 3 } } } }, '*'));
    assert.deepStrictEqual(again.properties.desired.b, { d: 3 });
    assert.strictEqual(again.properties.desired.a, 1);
    await assert.rejects(ctx.registry.updateTwin('other', { tags: { x: 1 } }, twin.etag), (e) => e.response.statusCode === 412);
    const t = body(await ctx.registry.getTwin('other'));
    await t.update({ properties: { desired: { viaTwinObject: true } } });
    assert.strictEqual(body(await ctx.registry.getTwin('other')).properties.desired.viaTwinObject, true);
    const mt = body(await ctx.registry.getModuleTwin('edge1', '$edgeHub'));
    assert.strictEqual(mt.moduleId, '$edgeHub');
  }],
  ['applyConfigurationContentOnDevice: a deployment manifest reaches $edgeAgent over MQTT', async (ctx) => {
    const cs = `HostName=${ctx.emulator.hostname};DeviceId=edge1;ModuleId=$edgeAgent;SharedAccessKey=` +
      body(await ctx.registry.getModule('edge1', '$edgeAgent')).authentication.symmetricKey.primaryKey;
    const agent = ModuleClient.fromConnectionString(cs, Mqtt);
    await agent.open();
    ctx.cleanup.push(() => agent.close());
    const agentTwin = await agent.getTwin();
    let pushed;
    agentTwin.on('properties.desired', (d) => { if (d.$version > 1) pushed = d; });
    await ctx.emulator.subscribed('edge1/$edgeAgent', 'desired');
    await ctx.registry.applyConfigurationContentOnDevice('edge1', deployment);
    await waitFor('deployment pushed to $edgeAgent', () => pushed, 5000);
    assert.strictEqual(agentTwin.properties.desired.schemaVersion, '1.1');
    assert.ok(agentTwin.properties.desired.modules.SimulatedTemperatureSensor);
    const hubTwin = body(await ctx.registry.getModuleTwin('edge1', '$edgeHub'));
    assert.match(hubTwin.properties.desired.routes.sensorToUpstream, /INTO \$upstream/);
    // A module named in the deployment gets its desired properties when its identity is created.
    await ctx.registry.addModule({ deviceId: 'edge1', moduleId: 'SimulatedTemperatureSensor' });
    const sensor = body(await ctx.registry.getModuleTwin('edge1', 'SimulatedTemperatureSensor'));
    assert.strictEqual(sensor.properties.desired.SendInterval, 5);
    // Reported status goes back the other way.
    await new Promise((resolve, reject) => agentTwin.properties.reported.update(
      { lastDesiredVersion: agentTwin.properties.desired.$version, lastDesiredStatus: { code: 200 } },
      (e) => (e ? reject(e) : resolve())));
    const reported = body(await ctx.registry.getModuleTwin('edge1', '$edgeAgent')).properties.reported;
    assert.strictEqual(reported.lastDesiredStatus.code, 200);
    // A second deployment without the sensor: the device's merged view loses it too.
    const smaller = JSON.parse(JSON.stringify(deployment));
    delete smaller.modulesContent.$edgeAgent['properties.desired'].modules.SimulatedTemperatureSensor;
    delete smaller.modulesContent.SimulatedTemperatureSensor;
    const before = agentTwin.properties.desired.$version;
    await ctx.registry.applyConfigurationContentOnDevice('edge1', smaller);
    await waitFor('second deployment', () => agentTwin.properties.desired.$version > before, 5000);
    assert.deepStrictEqual(Object.keys(agentTwin.properties.desired.modules), []);
    assert.ok(agentTwin.properties.desired.systemModules.edgeHub);
    await assert.rejects(ctx.registry.applyConfigurationContentOnDevice('other', deployment),
      (e) => e.response.statusCode === 400);
  }],
  ['direct methods: invoke a device method and a module method', async (ctx) => {
    const dev = body(await ctx.registry.get('other'));
    const device = Client.fromConnectionString(
      `HostName=${ctx.emulator.hostname};DeviceId=other;SharedAccessKey=${dev.authentication.symmetricKey.primaryKey}`, Mqtt);
    await device.open();
    ctx.cleanup.push(() => device.close());
    device.onDeviceMethod('getInfo', (req, res) => res.send(201, { echo: req.payload }, () => {}));
    const mod = body(await ctx.registry.getModule('edge1', 'SimulatedTemperatureSensor'));
    const module = ModuleClient.fromConnectionString(`HostName=${ctx.emulator.hostname};DeviceId=edge1;ModuleId=SimulatedTemperatureSensor;SharedAccessKey=${mod.authentication.symmetricKey.primaryKey}`, Mqtt);
    await module.open();
    ctx.cleanup.push(() => module.close());
    module.onMethod('reset', (req, res) => res.send(200, 'done', () => {}));
    await ctx.emulator.subscribed('other', 'methods');
    await ctx.emulator.subscribed('edge1/SimulatedTemperatureSensor', 'methods');
    const r1 = await call(ctx.service, 'invokeDeviceMethod', 'other', { methodName: 'getInfo', payload: { x: 1 }, responseTimeoutInSeconds: 10 });
    assert.deepStrictEqual(r1, { status: 201, payload: { echo: { x: 1 } } });
    const r2 = await call(ctx.service, 'invokeDeviceMethod', 'edge1', 'SimulatedTemperatureSensor', { methodName: 'reset', responseTimeoutInSeconds: 10 });
    assert.deepStrictEqual(r2, { status: 200, payload: 'done' });
    await assert.rejects(call(ctx.service, 'invokeDeviceMethod', 'edge1', { methodName: 'x', responseTimeoutInSeconds: 5 }),
      (e) => e.response.statusCode === 404 && /DeviceNotOnline/.test(e.responseBody));
    await assert.rejects(call(ctx.service, 'invokeDeviceMethod', 'nobody', { methodName: 'x', responseTimeoutInSeconds: 5 }),
      (e) => e.response.statusCode === 404);
  }],
  ['state persists across a restart', async (ctx) => {
    await ctx.emulator.stop();
    ctx.emulator = await new Emulator({ address: ctx.emulator.address, stateDir: ctx.emulator.stateDir }).start();
    const registry = Registry.fromConnectionString(ctx.emulator.serviceConnectionString);
    const twin = body(await registry.getTwin('other'));
    assert.strictEqual(twin.tags.site, 'lab');
    assert.strictEqual(body(await registry.getModuleTwin('edge1', '$edgeAgent')).properties.desired.schemaVersion, '1.1');
  }],
]);
