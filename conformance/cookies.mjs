// Parses Cookie header values with the npm `cookie` package at the version
// @clerk/backend 3.25.0 bundles (1.1.1), for the cookie jar's differential
// test (cookies_test.go). stdin: a JSON array of header values; stdout: a JSON
// array with, for each, the parsed cookies as [name, value] pairs as
// Object.entries lists them (first of a name wins, values decoded as the
// package decodes them).
import { parse } from "cookie";

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;
const headers = JSON.parse(input);
process.stdout.write(JSON.stringify(headers.map((h) => Object.entries(parse(h)))));
