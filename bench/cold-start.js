// One cold Lambda invocation in a fresh Node.js process (the bench spawns one process per invocation).
// Usage: node bench/cold-start.js <module> <export> <event.json>
// Loads the module, calls module[export](event, context) once, and prints
// {"loadMs":…,"runMs":…,"response":…} on stdout. A handler that answers CloudFormation itself (PUT to the
// ResponseURL over https) gets an instant 200 from a stub in place of S3; what it sent is printed.
// The AWS endpoints come from the environment (AWS_ENDPOINT_URL_*), set by the bench to the emulator.
'use strict';
const t0 = performance.now();
const https = require('https');
const { EventEmitter } = require('events');

let sent;
https.request = (options, callback) => {
  const req = new EventEmitter();
  const chunks = [];
  req.write = (c) => { chunks.push(Buffer.from(c)); return true; };
  req.setTimeout = () => req;
  req.end = (c) => {
    if (c) chunks.push(Buffer.from(c));
    sent = Buffer.concat(chunks).toString('utf8');
    const res = new EventEmitter();
    res.statusCode = 200;
    res.headers = {};
    res.resume = () => undefined;
    res.setEncoding = () => undefined;
    setImmediate(() => { if (callback) callback(res); res.emit('end'); });
  };
  return req;
};

const [file, exportName, eventFile] = process.argv.slice(2);
const event = JSON.parse(require('fs').readFileSync(eventFile, 'utf8'));
const quiet = console.log;
console.log = () => undefined; // the handlers' JSON log lines
console.info = console.log;
console.warn = console.log;
process.removeAllListeners('warning');
const mod = require(file);
const t1 = performance.now();
const deadline = Date.now() + 300_000;
const context = {
  getRemainingTimeInMillis: () => deadline - Date.now(),
  functionName: 'bench', awsRequestId: 'bench', logStreamName: 'bench', invokedFunctionArn: 'arn:aws:lambda:us-east-1:111122223333:function:bench',
};
Promise.resolve(mod[exportName](event, context)).then((result) => {
  const t2 = performance.now();
  quiet(JSON.stringify({ loadMs: t1 - t0, runMs: t2 - t1, result: result ?? null, sent: sent ? JSON.parse(sent) : null }));
}, (error) => {
  quiet(JSON.stringify({ error: String(error && error.stack || error) }));
  process.exitCode = 1;
});
