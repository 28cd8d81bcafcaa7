'use strict';
// A module of the full-stack test's deployment, run by the host's node inside the module's
// container: Microsoft's ModuleClient.fromEnvironment reads the IOTEDGE_* variables the agent
// set, fetches the trust bundle and has its SAS token signed through the module's workload
// socket, connects to the hub over MQTT and sends one message, then idles until SIGTERM.
const { ModuleClient, Message } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');

// No edgeHub runs in this runtime yet: the module talks to the hub itself, not to the gateway.
delete process.env.IOTEDGE_GATEWAYHOSTNAME;
process.on('SIGTERM', () => process.exit(0));
ModuleClient.fromEnvironment(Mqtt, async (err, client) => {
  if (err) {
    console.error('fromEnvironment failed:', err.message || err);
    process.exit(2);
  }
  try {
    await client.open();
    await client.sendEvent(new Message(process.env.FS_PAYLOAD || 'hello'));
    console.log('sent');
    setInterval(() => {}, 60000);
  } catch (e) {
    console.error('failed:', e.message || e);
    process.exit(1);
  }
});
