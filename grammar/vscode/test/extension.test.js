// Tests of the extension's client logic, run by `node --test` without VS Code:
// `vscode` and `vscode-languageclient/node` are replaced by fakes that record what
// the extension asks of them, so these check which server command is started, for
// which documents, and what restart and a failed start do.

"use strict";

const test = require("node:test");
const assert = require("node:assert/strict");
const Module = require("node:module");
const path = require("node:path");

/** Builds a fresh fake world and loads a fresh copy of extension.js into it. */
function load({ settings = {}, startFails = false, workspaceFolder } = {}) {
  const world = {
    clients: [],
    commands: new Map(),
    configListeners: [],
    errors: [],
    channels: [],
  };

  class FakeLanguageClient {
    constructor(id, name, serverOptions, clientOptions) {
      Object.assign(this, { id, name, serverOptions, clientOptions });
      this.started = 0;
      this.stopped = 0;
      world.clients.push(this);
    }
    async start() {
      this.started += 1;
      if (startFails) {
        throw new Error("spawn flowc ENOENT");
      }
    }
    async stop() {
      this.stopped += 1;
    }
  }

  const vscode = {
    workspace: {
      getConfiguration(section) {
        assert.equal(section, "flowc");
        return {
          get: (key, fallback) => (key in settings ? settings[key] : fallback),
        };
      },
      workspaceFolders: workspaceFolder
        ? [{ uri: { fsPath: workspaceFolder } }]
        : undefined,
      createFileSystemWatcher: (glob) => ({ glob, dispose() {} }),
      onDidChangeConfiguration(listener) {
        world.configListeners.push(listener);
        return { dispose() {} };
      },
    },
    window: {
      createOutputChannel(name) {
        const channel = { name, lines: [], appendLine(line) { this.lines.push(line); }, show() {}, dispose() {} };
        world.channels.push(channel);
        return channel;
      },
      showErrorMessage(message) {
        world.errors.push(message);
        return Promise.resolve(undefined);
      },
    },
    commands: {
      registerCommand(name, handler) {
        world.commands.set(name, handler);
        return { dispose() {} };
      },
      executeCommand: async () => undefined,
    },
    Uri: {
      joinPath: (base, relative) => ({ fsPath: path.join(base.fsPath, relative) }),
    },
  };
  const languageclient = { LanguageClient: FakeLanguageClient, TransportKind: { stdio: 0 } };

  const extensionPath = require.resolve("../extension.js");
  delete require.cache[extensionPath];
  const originalLoad = Module._load;
  Module._load = function (request, parent, isMain) {
    if (request === "vscode") return vscode;
    if (request === "vscode-languageclient/node") return languageclient;
    return originalLoad.call(this, request, parent, isMain);
  };
  try {
    world.extension = require(extensionPath);
  } finally {
    Module._load = originalLoad;
  }
  world.context = { subscriptions: [] };
  return world;
}

test("starts `flowc lsp` over stdio for flow documents by default", async () => {
  const world = load();
  await world.extension.activate(world.context);
  assert.equal(world.clients.length, 1);
  const [client] = world.clients;
  assert.equal(client.id, "flowc", "the id makes the client read flowc.trace.server");
  assert.deepEqual(client.serverOptions, { command: "flowc", args: ["lsp"], transport: 0 });
  assert.deepEqual(
    client.clientOptions.documentSelector.map((selector) => selector.language),
    ["flow", "flow"],
  );
  assert.equal(client.clientOptions.synchronize.fileEvents.glob, "**/*.flow");
  assert.equal(client.started, 1);
  assert.deepEqual(world.errors, []);
});

test("runs the binary that flowc.path names, with ~ and ./ expanded", async () => {
  const absolute = load({ settings: { path: "/opt/flowc/bin/flowc" } });
  await absolute.extension.activate(absolute.context);
  assert.equal(absolute.clients[0].serverOptions.command, "/opt/flowc/bin/flowc");

  process.env.HOME = "/home/flow";
  const home = load({ settings: { path: "~/bin/flowc" } });
  await home.extension.activate(home.context);
  assert.equal(home.clients[0].serverOptions.command, "/home/flow/bin/flowc");

  const relative = load({ settings: { path: "./target/debug/flowc" }, workspaceFolder: "/src/project" });
  await relative.extension.activate(relative.context);
  assert.equal(relative.clients[0].serverOptions.command, "/src/project/target/debug/flowc");

  const blank = load({ settings: { path: "  " } });
  await blank.extension.activate(blank.context);
  assert.equal(blank.clients[0].serverOptions.command, "flowc");
});

test("the restart command stops the running server and starts a new one", async () => {
  const world = load();
  await world.extension.activate(world.context);
  await world.commands.get("flowc.restartServer")();
  assert.equal(world.clients.length, 2);
  assert.equal(world.clients[0].stopped, 1);
  assert.equal(world.clients[1].started, 1);
  await world.extension.deactivate();
  assert.equal(world.clients[1].stopped, 1);
});

test("changing flowc.path restarts the server; other settings do not", async () => {
  const world = load();
  await world.extension.activate(world.context);
  const [listener] = world.configListeners;
  listener({ affectsConfiguration: (section) => section === "editor.tabSize" });
  assert.equal(world.clients.length, 1);
  listener({ affectsConfiguration: (section) => section === "flowc.path" });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(world.clients.length, 2);
  assert.equal(world.clients[0].stopped, 1);
});

test("a binary that cannot start is reported once, naming the setting", async () => {
  const world = load({ settings: { path: "/nowhere/flowc" }, startFails: true });
  await world.extension.activate(world.context);
  assert.equal(world.errors.length, 1);
  assert.match(world.errors[0], /\/nowhere\/flowc lsp/);
  assert.match(world.errors[0], /flowc\.path/);
  const output = world.channels.find((channel) => channel.name === "Flow Language Server");
  assert.match(output.lines.join("\n"), /spawn flowc ENOENT/);
  // Nothing is running, so deactivating stops nothing.
  await world.extension.deactivate();
  assert.equal(world.clients[0].stopped, 0);
});

test("the manifest's commands, grammar and configuration match what the code uses", async () => {
  const manifest = require("../package.json");
  const fs = require("node:fs");
  const world = load();
  await world.extension.activate(world.context);
  const contributed = manifest.contributes.commands.map((command) => command.command).sort();
  assert.deepEqual(contributed, [...world.commands.keys()].sort());

  const [language] = manifest.contributes.languages;
  assert.equal(language.id, "flow");
  assert.deepEqual(language.extensions, [".flow"]);
  const [grammar] = manifest.contributes.grammars;
  assert.equal(grammar.language, "flow");
  const tmGrammar = JSON.parse(fs.readFileSync(path.join(__dirname, "..", grammar.path), "utf8"));
  assert.equal(tmGrammar.scopeName, grammar.scopeName);
  const configuration = JSON.parse(
    fs.readFileSync(path.join(__dirname, "..", language.configuration), "utf8"),
  );
  assert.deepEqual(configuration.comments, { lineComment: "//", blockComment: ["/*", "*/"] });

  const settings = manifest.contributes.configuration.properties;
  assert.equal(settings["flowc.path"].default, "flowc");
  assert.deepEqual(settings["flowc.trace.server"].enum, ["off", "messages", "verbose"]);
  assert.equal(manifest.main, "./extension.js");
});
