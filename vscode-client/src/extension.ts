// Companion for VS Code: starts `companion lsp` for the workspace and shows its proposals as
// diagnostics with quick fixes (from the server), in a status bar item and in a tree view; it
// reports the integrated terminal's commands (shell integration) to the server.
//
// Activation never fails silently: whatever goes wrong (no companion, a wrong one, a server
// that will not start) ends in a message with "Open Settings", a status bar item that says so,
// and the details in the Companion output channel.
import * as vscode from 'vscode';
import { CloseAction, ErrorAction, LanguageClient, State } from 'vscode-languageclient/node';
import * as commands from './common/commands';
import { log, outputChannel } from './common/logging';
import { ProposalModel } from './common/proposals';
import { createClient, wireNotifications } from './common/server';
import { getSettings, resolveServer } from './common/settings';
import { createStatusBar, TOGGLE_SNOOZE } from './common/statusBar';
import { CAPTURE_VARIABLE, TerminalCapture, TerminalCommand, TERMINAL_NOTIFICATION } from './common/terminalCapture';
import { ProposalTree } from './common/treeView';

const OPEN_SETTINGS = 'Open Settings';
const SHOW_LOGS = 'Show Logs';
const MAX_RESTARTS = 4;  // in CRASH_WINDOW_MS, as vscode-languageclient's own default
const CRASH_WINDOW_MS = 3 * 60 * 1000;

let client: LanguageClient | undefined;
let capture: TerminalCapture | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
    const model = new ProposalModel();
    const connection: commands.ServerConnection = {
        sendRequest: (method, params) => {
            if (!client || !client.isRunning()) {
                return Promise.reject(new Error('the companion language server is not running'));
            }
            return client.sendRequest(method, params);
        },
    };
    const run = (action: () => Promise<unknown>) => action().catch((error: Error) => {
        log.error(error.message);
        vscode.window.showErrorMessage(`Companion: ${error.message}`);
    });
    try {
        const tree = new ProposalTree(model, (id) => commands.fetchEvents(connection, id));
        context.subscriptions.push(
            createStatusBar(model),
            vscode.window.registerTreeDataProvider('companion.proposals', tree),
            vscode.commands.registerCommand('companion.acceptProposal', (target) => run(() => commands.answer(connection, model, 'accept', target))),
            vscode.commands.registerCommand('companion.rejectProposal', (target) => run(() => commands.answer(connection, model, 'reject', target))),
            vscode.commands.registerCommand('companion.snoozeProposal', (target) => run(() => commands.answer(connection, model, 'snooze', target))),
            vscode.commands.registerCommand(TOGGLE_SNOOZE, () => run(() => commands.toggleSnooze(connection, model))),
            vscode.commands.registerCommand('companion.refreshProposals', () => run(() => commands.refresh(connection, model))),
            vscode.commands.registerCommand('companion.showStatus', () => run(async () => {
                vscode.window.showInformationMessage(commands.describeStatus(await commands.refresh(connection, model)));
            })),
            vscode.commands.registerCommand('companion.showLogs', () => outputChannel().show()),
            vscode.commands.registerCommand('companion.restartServer', () => run(() => restart(context, model))),
            vscode.workspace.onDidChangeConfiguration((change) => {
                if (change.affectsConfiguration('companion.path') || change.affectsConfiguration('companion.interpreter')) {
                    void run(() => restart(context, model));
                }
            }),
            { dispose: () => stopCapture(context) },
        );
        await start(context, model, () => void run(() => commands.refresh(connection, model)));
    } catch (error) {
        await failed(model, `Companion could not start: ${(error as Error).message}`);
    }
}

/** Say what went wrong where the user looks: the status bar, a message with Open Settings, the log. */
async function failed(model: ProposalModel, message: string, state = 'failed'): Promise<void> {
    log.error(message);
    model.applyStatus({ state, message, open: 0, snoozedUntil: null });
    const choice = await vscode.window.showErrorMessage(message, OPEN_SETTINGS, SHOW_LOGS);
    if (choice === OPEN_SETTINGS) {
        await vscode.commands.executeCommand('workbench.action.openSettings', 'companion');
    } else if (choice === SHOW_LOGS) {
        outputChannel().show();
    }
}

async function start(context: vscode.ExtensionContext, model: ProposalModel, onOutOfStep: () => void): Promise<void> {
    const settings = getSettings();
    for (const problem of settings.problems) {
        log.warn(problem);
        void vscode.window.showWarningMessage(`Companion setting ignored: ${problem}`, OPEN_SETTINGS).then((choice) => {
            if (choice === OPEN_SETTINGS) {
                void vscode.commands.executeCommand('workbench.action.openSettings', 'companion');
            }
        });
    }
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const resolution = resolveServer(settings, { env: process.env, workspaceFolder: folder });
    if (!resolution.ok) {
        void failed(model, resolution.message, 'not installed');
        return;
    }
    const described = `${resolution.server.command} ${resolution.server.args.join(' ')}`;
    log.info(`starting ${described}`);
    let initialized = false;
    let crashes: number[] = [];
    const starting = createClient(resolution.server, settings, folder, {
        error: () => ({ action: ErrorAction.Continue }),
        closed: () => {
            if (!initialized) {  // it never answered: a wrong executable, or companion not installed there
                return { action: CloseAction.DoNotRestart, handled: true };
            }
            const now = Date.now();
            crashes = crashes.filter((t) => now - t < CRASH_WINDOW_MS).concat(now);
            if (crashes.length > MAX_RESTARTS) {
                void failed(model, `Companion's language server (\`${described}\`) stopped ${crashes.length} times in 3 minutes; ` +
                    'it is not restarted again. Run "Companion: Restart the language server" once it is fixed; the Companion log has the details.');
                return { action: CloseAction.DoNotRestart, handled: true };
            }
            model.applyStatus({ state: 'restarting', message: 'the language server stopped; restarting it', open: 0, snoozedUntil: null });
            return { action: CloseAction.Restart, handled: true };
        },
    });
    client = starting;
    wireNotifications(starting, model, context, onOutOfStep);
    starting.onDidChangeState((change) => {
        if (change.newState === State.Running) {
            startCapture(context, starting);
        } else {
            stopCapture(context);
        }
    });
    // start() does not always settle when the server exits during `initialize`
    // (vscode-languageclient 9): a stop before it answered is a failure too.
    const stoppedEarly = new Promise<never>((_, reject) => {
        const watch = starting.onDidChangeState((change) => {
            if (change.newState === State.Stopped) {
                watch.dispose();
                reject(new Error('the server exited before it answered'));
            } else if (change.newState === State.Running) {
                watch.dispose();
            }
        });
    });
    try {
        await Promise.race([starting.start(), stoppedEarly]);
        initialized = true;
    } catch (error) {
        if (client === starting) {
            client = undefined;
        }
        void failed(model, `Companion's language server (\`${described}\`) did not start: ${(error as Error).message}. ` +
            'Check the companion.path and companion.interpreter settings; the Companion log has the details.');
    }
}

/** The terminal route (docs/shell.md): follow the integrated terminal's commands, and tell the
 *  shell hook in new terminals that they are reported from here. */
function startCapture(context: vscode.ExtensionContext, running: LanguageClient): void {
    const window: unknown = vscode.window;
    if (capture || !TerminalCapture.available(window)) {
        return;
    }
    capture = new TerminalCapture(window, (command: TerminalCommand) => {
        if (running.isRunning()) {
            running.sendNotification(TERMINAL_NOTIFICATION, command).catch((error: Error) => log.warn(`a terminal command was not reported: ${error.message}`));
        }
    });
    const variables = context.environmentVariableCollection;
    variables.persistent = false;
    if (vscode.workspace.getConfiguration('terminal.integrated').get<boolean>('shellIntegration.enabled', true) === false) {
        log.info('terminal shell integration is off: the shell hook records the integrated terminal');
        return;  // no executions will come: the hook must not stand aside
    }
    variables.description = 'Companion records the commands of this terminal through shell integration.';
    variables.replace(CAPTURE_VARIABLE, 'vscode');
}

function stopCapture(context: vscode.ExtensionContext): void {
    capture?.dispose();
    capture = undefined;
    context.environmentVariableCollection.delete(CAPTURE_VARIABLE);
}

async function restart(context: vscode.ExtensionContext, model: ProposalModel): Promise<void> {
    await stopClient();
    await start(context, model, () => undefined);
}

async function stopClient(): Promise<void> {
    const running = client;
    client = undefined;
    if (running && running.needsStop()) {
        await running.stop();
    }
}

export function deactivate(): Promise<void> {
    capture?.dispose();
    capture = undefined;
    return stopClient();
}
