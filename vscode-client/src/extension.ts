// Companion for VS Code: starts `companion lsp` for the workspace and shows its proposals as
// diagnostics with quick fixes (from the server), in a status bar item and in a tree view.
import * as vscode from 'vscode';
import { LanguageClient } from 'vscode-languageclient/node';
import * as commands from './common/commands';
import { log, outputChannel } from './common/logging';
import { ProposalModel } from './common/proposals';
import { createClient, wireNotifications } from './common/server';
import { getSettings, resolveServer } from './common/settings';
import { createStatusBar, TOGGLE_SNOOZE } from './common/statusBar';
import { ProposalTree } from './common/treeView';

let client: LanguageClient | undefined;

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
    );
    await start(context, model, () => void run(() => commands.refresh(connection, model)));
}

async function start(context: vscode.ExtensionContext, model: ProposalModel, onOutOfStep: () => void): Promise<void> {
    const settings = getSettings();
    const resolution = resolveServer(settings);
    if (!resolution.ok) {
        log.error(resolution.message);
        model.applyStatus({ state: 'not installed', message: resolution.message, open: 0, snoozedUntil: null });
        const choice = await vscode.window.showErrorMessage(resolution.message, 'Open Settings');
        if (choice === 'Open Settings') {
            await vscode.commands.executeCommand('workbench.action.openSettings', 'companion');
        }
        return;
    }
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    log.info(`starting ${resolution.server.command} ${resolution.server.args.join(' ')}`);
    client = createClient(resolution.server, settings, folder);
    wireNotifications(client, model, context, onOutOfStep);
    await client.start();
}

async function restart(context: vscode.ExtensionContext, model: ProposalModel): Promise<void> {
    await stopClient();
    await start(context, model, () => undefined);
}

async function stopClient(): Promise<void> {
    const running = client;
    client = undefined;
    if (running) {
        await running.stop();
    }
}

export function deactivate(): Promise<void> {
    return stopClient();
}
