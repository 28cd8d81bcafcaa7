'use strict';
// Microsoft's module client as an edge module runs it: ModuleClient.fromEnvironment reads the
// IOTEDGE_* variables, fetches the trust bundle and has its SAS token signed through the
// workload socket, then sends one telemetry message to the hub.
const { ModuleClient, Message } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');

const timer = setTimeout(() => { console.error('timed out'); process.exit(3); }, 30000);
ModuleClient.fromEnvironment(Mqtt, async (err, client) => {
  if (err) {
    console.error('fromEnvironment failed:', err.message || err);
    process.exit(2);
  }
  try {
    await client.open();
    await client.sendEvent(new Message(process.env.TEST_PAYLOAD));
    await client.close();
    clearTimeout(timer);
    console.log('sent');
    process.exit(0);
  } catch (e) {
    console.error('failed:', e.message || e);
    process.exit(1);
  }
});
