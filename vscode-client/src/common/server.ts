// Starting `companion lsp` with vscode-languageclient, and wiring companion's own notifications
// (companion/proposal, companion/status) and the window/editor focus it reports back.
import * as vscode from 'vscode';
import { ErrorHandler, LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from 'vscode-languageclient/node';
import { outputChannel } from './logging';
import { ProposalModel, ProposalNotification, ServerStatus } from './proposals';
import { CompanionSettings, initializationOptions, SECTION, ServerCommand } from './settings';

export function createClient(server: ServerCommand, settings: CompanionSettings, cwd: string | undefined,
                             errorHandler?: ErrorHandler): LanguageClient {
    const serverOptions: ServerOptions = {
        command: server.command,
        args: server.args,
        transport: TransportKind.stdio,
        options: { cwd, env: process.env },
    };
    const clientOptions: LanguageClientOptions = {
        documentSelector: [{ scheme: 'file' }],
        initializationOptions: initializationOptions(settings),
        synchronize: { configurationSection: SECTION },
        outputChannel: outputChannel(),
        diagnosticCollectionName: 'companion',
        errorHandler,
    };
    return new LanguageClient('companion', 'Companion', serverOptions, clientOptions);
}

export function wireNotifications(client: LanguageClient, model: ProposalModel, context: vscode.ExtensionContext,
                                  onOutOfStep: () => void): void {
    client.onNotification('companion/proposal', (note: ProposalNotification) => model.applyNotification(note));
    client.onNotification('companion/status', (status: ServerStatus) => {
        model.applyStatus(status);
        if (model.outOfStep) {
            onOutOfStep();
        }
    });
    const focus = (params: Record<string, unknown>) => {
        if (client.isRunning()) {
            client.sendNotification('companion/focus', params).catch(() => undefined);
        }
    };
    context.subscriptions.push(
        vscode.window.onDidChangeWindowState((state) => focus({ windowFocused: state.focused })),
        vscode.window.onDidChangeActiveTextEditor((editor) => {
            if (editor) {
                focus({ uri: editor.document.uri.toString() });
            }
        }),
    );
}
