// A case-management system written in Node.js: loads proto/whoelse/v1/records_api.proto with
// @grpc/proto-loader, as any system would, and calls the records API over mutual TLS.
// Usage: node client.js TARGET CA CERT KEY   — prints one JSON line per call.
"use strict";
const fs = require("fs");
const path = require("path");
const grpc = require("@grpc/grpc-js");
const protoLoader = require("@grpc/proto-loader");

const [target, caFile, certFile, keyFile] = process.argv.slice(2);
const protoRoot = path.resolve(__dirname, "../../../proto");
const definition = protoLoader.loadSync("whoelse/v1/records_api.proto", {
  includeDirs: [protoRoot], keepCase: true, longs: Number, defaults: true,
});
const whoelse = grpc.loadPackageDefinition(definition).whoelse.v1;
const credentials = grpc.credentials.createSsl(
  fs.readFileSync(caFile), fs.readFileSync(keyFile), fs.readFileSync(certFile),
);
const client = new whoelse.Records(target, credentials);

const child = {
  record_id: "NODE-1", forename: "Zoë", surname: "O'Neill", date_of_birth: "2015-03-07", sex: "SEX_FEMALE",
  address: { line1: "12 Mill Lane", postcode: "LS6 2AB" },
};

function call(method, request) {
  return new Promise((resolve) => {
    client[method](request, (error, reply) => {
      resolve(error ? { method, code: grpc.status[error.code], details: error.details } : { method, ...reply });
    });
  });
}

(async () => {
  const results = [];
  results.push(await call("UpsertChild", { change: { change_id: "node-1", expected_version: 0 }, child }));
  results.push(await call("UpsertChild", { change: { change_id: "node-1", expected_version: 0 }, child }));
  results.push(await call("UpsertChild", {
    change: { change_id: "node-2", expected_version: 1 }, child: { ...child, sex: "SEX_UNSPECIFIED", legacy_sex: "Q" },  // as a 0.1 client wrote it
  }));
  results.push(await call("GetVersion", { record_id: "NODE-1" }));
  for (const result of results) console.log(JSON.stringify(result));
  client.close();
})();
