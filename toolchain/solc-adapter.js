#!/usr/bin/env node
// solc-adapter: the native `solc` command-line surface over solcjs (WebAssembly).
//
// Why: no native solc can be downloaded on the build machines, but the npm package `solc`
// works. py-solc-x (used by ape-solidity) and crytic-compile (used by slither) call a native
// binary, so `make setup` links this file as `.solcx/solc-v<version>`.
//
// Supported surface:
//   solc --version                      native-form version banner
//   solc --standard-json [--base-path P] [--include-path P]... [--allow-paths ...] [FILE]
//                                       standard JSON in (stdin or FILE), JSON only out
// Differences from solcjs that matter to callers:
//   * sources given as `urls` are read from disk and inlined (solcjs ignores `urls`);
//   * imports are resolved against the base path, include paths, the current directory and
//     every node_modules folder above it and above this file (so `@openzeppelin/...` works);
//   * solcjs's own chatter (a `>>>` SMT line) never reaches stdout: stdout holds only the JSON.
'use strict';

const fs = require('fs');
const path = require('path');

// Anything solcjs or emscripten prints while loading goes to stderr, never stdout.
const realStdoutWrite = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => process.stderr.write(chunk, ...rest);
console.log = (...args) => process.stderr.write(args.join(' ') + '\n');

// Write all of `text` to fd 1. A pipe takes at most 64 KiB per write and may be non-blocking,
// so loop over partial writes and retry on EAGAIN (compiler output is often megabytes).
function out(text) {
  const buf = Buffer.from(text, 'utf8');
  let offset = 0;
  while (offset < buf.length) {
    try {
      offset += fs.writeSync(1, buf, offset, buf.length - offset);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // back off 5 ms
    }
  }
}

function fail(message) {
  process.stderr.write(`solc-adapter: ${message}\n`);
  process.exit(1);
}

function loadSolc() {
  const candidates = [path.join(__dirname, '..', 'node_modules', 'solc'), 'solc'];
  for (const c of candidates) {
    try {
      return require(c);
    } catch (e) {
      if (e.code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  fail('the npm package `solc` is not installed; run `make setup`');
}

function parseArgs(argv) {
  const opts = { version: false, standardJson: false, basePath: null, includePaths: [], files: [], unknown: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const takeValue = () => {
      if (a.includes('=')) return a.slice(a.indexOf('=') + 1);
      i += 1;
      return argv[i];
    };
    if (a === '--version' || a === '-v') opts.version = true;
    else if (a === '--standard-json') opts.standardJson = true;
    else if (a.startsWith('--base-path')) opts.basePath = takeValue();
    else if (a.startsWith('--include-path')) opts.includePaths.push(takeValue());
    else if (a.startsWith('--allow-paths')) takeValue(); // solcjs reads through our callback only
    else if (a === '--pretty-json' || a === '--no-color') { /* accepted, no effect */ }
    else if (a.startsWith('-')) opts.unknown.push(a);
    else opts.files.push(a);
  }
  return opts;
}

function nodeModulesRoots() {
  const roots = [];
  for (const start of [process.cwd(), path.resolve(__dirname, '..')]) {
    let dir = start;
    for (;;) {
      const nm = path.join(dir, 'node_modules');
      if (fs.existsSync(nm) && !roots.includes(nm)) roots.push(nm);
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return roots;
}

function makeResolver(opts) {
  const roots = [];
  if (opts.basePath) roots.push(path.resolve(opts.basePath));
  for (const p of opts.includePaths) roots.push(path.resolve(p));
  roots.push(process.cwd());
  roots.push(...nodeModulesRoots());
  return function resolve(importPath) {
    const candidates = path.isAbsolute(importPath)
      ? [importPath]
      : roots.map((r) => path.join(r, importPath));
    for (const c of candidates) {
      try {
        if (fs.statSync(c).isFile()) return { contents: fs.readFileSync(c, 'utf8') };
      } catch (e) {
        /* try the next root */
      }
    }
    return { error: `File not found: ${importPath} (searched ${roots.join(', ')})` };
  };
}

function inlineUrls(input, resolve) {
  for (const [name, source] of Object.entries(input.sources || {})) {
    if (source.content !== undefined || !Array.isArray(source.urls)) continue;
    let loaded = null;
    for (const url of source.urls) {
      const r = fs.existsSync(url) ? { contents: fs.readFileSync(url, 'utf8') } : resolve(url);
      if (r.contents !== undefined) {
        loaded = r.contents;
        break;
      }
    }
    if (loaded === null) {
      // Leave it to the compiler to report the missing source in its own JSON error form.
      loaded = undefined;
    } else {
      source.content = loaded;
      delete source.urls;
    }
    if (loaded === undefined) delete source.urls;
  }
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const solc = loadSolc();
  if (opts.version) {
    const full = solc.version().replace('.Emscripten.clang', '.Linux.g++');
    out(`solc, the solidity compiler commandline interface\nVersion: ${full}\n`);
    return;
  }
  if (!opts.standardJson) {
    fail(
      `only --version and --standard-json are supported (got: ${process.argv.slice(2).join(' ') || 'no arguments'})`
    );
  }
  const raw = opts.files.length ? fs.readFileSync(opts.files[0], 'utf8') : fs.readFileSync(0, 'utf8');
  let input;
  try {
    input = JSON.parse(raw);
  } catch (e) {
    out(JSON.stringify({ errors: [{ type: 'JSONError', component: 'general', severity: 'error', message: `Input is not valid JSON: ${e.message}`, formattedMessage: `JSONError: ${e.message}` }] }));
    return;
  }
  const resolve = makeResolver(opts);
  inlineUrls(input, resolve);
  const output = solc.compile(JSON.stringify(input), { import: resolve });
  out(output);
}

main();
