// The Flow extension's client: it starts `flowc lsp` over stdio for `.flow` files
// and lets vscode-languageclient do the rest. Every language feature (diagnostics,
// hover, definition, completion, rename, formatting, …) lives in the server, which
// is the compiler's own analysis; this file only finds the binary, starts it, and
// restarts it on request or when `flowc.path` changes. Plain CommonJS, so the
// extension ships as written, with no build step.

"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

const CLIENT_ID = "flowc";
const CLIENT_NAME = "Flow Language Server";

/** @type {LanguageClient | undefined} */
let client;
/** @type {vscode.OutputChannel | undefined} */
let outputChannel;
/** @type {vscode.OutputChannel | undefined} */
let traceOutputChannel;

/**
 * The command that starts the server: `flowc.path` (default `flowc`, looked up on
 * `PATH` by the operating system) with `~` expanded and workspace-relative paths
 * resolved against the first workspace folder.
 * @returns {string}
 */
function serverCommand() {
  const configured = vscode.workspace
    .getConfiguration("flowc")
    .get("path", "flowc")
    .trim();
  const command = configured === "" ? "flowc" : configured;
  if (command.startsWith("~/")) {
    const home = process.env.HOME || process.env.USERPROFILE || "";
    return home + command.slice(1);
  }
  const isRelativePath =
    (command.startsWith("./") || command.startsWith("../")) &&
    vscode.workspace.workspaceFolders !== undefined &&
    vscode.workspace.workspaceFolders.length > 0;
  if (isRelativePath) {
    const folder = vscode.workspace.workspaceFolders[0].uri;
    return vscode.Uri.joinPath(folder, command).fsPath;
  }
  return command;
}

/** @returns {LanguageClient} */
function createClient() {
  const command = serverCommand();
  /** @type {import("vscode-languageclient/node").ServerOptions} */
  const serverOptions = {
    command,
    args: ["lsp"],
    transport: TransportKind.stdio,
  };
  /** @type {import("vscode-languageclient/node").LanguageClientOptions} */
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "flow" },
      { scheme: "untitled", language: "flow" },
    ],
    outputChannel,
    traceOutputChannel,
    synchronize: {
      // Imports make one file's diagnostics depend on others, including files
      // that are not open in an editor.
      fileEvents: vscode.workspace.createFileSystemWatcher("**/*.flow"),
    },
  };
  // The id `flowc` makes the client read the `flowc.trace.server` setting.
  return new LanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
}

/**
 * @param {string} command
 * @param {unknown} error
 */
function reportStartFailure(command, error) {
  const detail = error instanceof Error ? error.message : String(error);
  outputChannel?.appendLine(`could not start \`${command} lsp\`: ${detail}`);
  void vscode.window
    .showErrorMessage(
      `Flow: could not start the language server \`${command} lsp\`. ` +
        "Install flowc or set `flowc.path` to its location.",
      "Open Settings",
      "Show Output",
    )
    .then((choice) => {
      if (choice === "Open Settings") {
        void vscode.commands.executeCommand(
          "workbench.action.openSettings",
          "flowc.path",
        );
      } else if (choice === "Show Output") {
        outputChannel?.show(true);
      }
    });
}

async function startClient() {
  const next = createClient();
  client = next;
  try {
    await next.start();
  } catch (error) {
    // `start` rejects when the binary is missing (spawn ENOENT) or exits at once.
    if (client === next) {
      client = undefined;
    }
    reportStartFailure(serverCommand(), error);
  }
}

async function stopClient() {
  const running = client;
  client = undefined;
  if (running === undefined) {
    return;
  }
  try {
    await running.stop();
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    outputChannel?.appendLine(`stopping the language server: ${detail}`);
  }
}

async function restartClient() {
  await stopClient();
  await startClient();
}

/** @param {vscode.ExtensionContext} context */
async function activate(context) {
  outputChannel = vscode.window.createOutputChannel(CLIENT_NAME);
  traceOutputChannel = vscode.window.createOutputChannel(`${CLIENT_NAME} Trace`);
  context.subscriptions.push(
    outputChannel,
    traceOutputChannel,
    vscode.commands.registerCommand("flowc.restartServer", restartClient),
    vscode.commands.registerCommand("flowc.showOutput", () =>
      outputChannel?.show(true),
    ),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("flowc.path")) {
        void restartClient();
      }
    }),
  );
  await startClient();
}

async function deactivate() {
  await stopClient();
}

module.exports = { activate, deactivate };
