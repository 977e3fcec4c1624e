#!/usr/bin/env node
// Converts an OpenAPI document into a Postman collection with openapi-to-postmanv2, the
// converter Postman's own "Import" uses: `node postman/convert_openapi.js openapi.json`.
// Writes the collection (v2.1 JSON) to stdout. tests/e2e/test_postman.py compares its
// operations with postman/collection.json, so the hand-written walk cannot miss an endpoint.
"use strict";

const fs = require("fs");
const Converter = require("openapi-to-postmanv2");

const [source] = process.argv.slice(2);
if (!source) {
  console.error("usage: node postman/convert_openapi.js <openapi.json>");
  process.exit(2);
}

Converter.convert(
  { type: "json", data: fs.readFileSync(source, "utf8") },
  { folderStrategy: "Paths" },
  (error, conversion) => {
    if (error || !conversion.result) {
      console.error("conversion failed:", error ? error.message : conversion.reason);
      process.exit(1);
    }
    process.stdout.write(JSON.stringify(conversion.output[0].data, null, 2) + "\n");
  },
);
