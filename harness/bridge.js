// Runs the CDK Provider framework code of a synthesized asset folder (framework.js and what it
// requires) with only its outbound module replaced: Lambda Invoke, Step Functions
// StartExecution and the HTTPS PUT of the CloudFormation response become JSON lines to the
// Python simulator on stdout, answered on stdin. One request at a time.
"use strict";
const path = require("path");
const readline = require("readline");

const protocol = process.stdout;
// The framework logs with console.log; keep stdout for the protocol.
console.log = (...args) => process.stderr.write(args.map(String).join(" ") + "\n");

let nextCall = 0;
const waiting = new Map();

function ask(kind, body) {
  const cid = ++nextCall;
  protocol.write(JSON.stringify({ call: kind, cid, body }) + "\n");
  return new Promise((resolve, reject) => waiting.set(cid, { resolve, reject }));
}

const outbound = {
  invokeFunction: async (req) => {
    const answer = await ask("invoke", { FunctionName: req.FunctionName, Payload: req.Payload });
    const resp = { Payload: Buffer.from(answer.Payload, "utf8"), StatusCode: 200 };
    if (answer.FunctionError) resp.FunctionError = answer.FunctionError;
    return resp;
  },
  startExecution: async (req) => ask("startExecution", req),
  httpRequest: async (options, body) => ask("httpRequest", { options, body }),
};

const loaded = new Map();
function framework(assetDir) {
  if (!loaded.has(assetDir)) {
    const outboundPath = require.resolve(path.join(assetDir, "outbound.js"));
    require.cache[outboundPath] = { id: outboundPath, filename: outboundPath, loaded: true, exports: outbound };
    loaded.set(assetDir, require(path.join(assetDir, "framework.js")));
  }
  return loaded.get(assetDir);
}

async function run(message) {
  for (const key of ["USER_ON_EVENT_FUNCTION_ARN", "USER_IS_COMPLETE_FUNCTION_ARN", "WAITER_STATE_MACHINE_ARN"]) {
    delete process.env[key];
  }
  Object.assign(process.env, message.env);
  try {
    const result = await framework(message.assetDir)[message.handler](message.event);
    protocol.write(JSON.stringify({ done: message.id, result: result === undefined ? null : result }) + "\n");
  } catch (e) {
    const errorType = e && e.constructor ? e.constructor.name : "Error";
    protocol.write(JSON.stringify({ done: message.id, error: { errorType, errorMessage: String(e && e.message) } }) + "\n");
  }
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const message = JSON.parse(line);
  if (message.cid !== undefined) {
    const pending = waiting.get(message.cid);
    waiting.delete(message.cid);
    if (message.error) pending.reject(new Error(message.error));
    else pending.resolve(message.result);
  } else {
    run(message);
  }
});
