// Logging to the "Companion" output channel (the language server's own log goes there too).
import * as vscode from 'vscode';

export interface Logger {
    info(message: string): void;
    warn(message: string): void;
    error(message: string): void;
}

let channel: vscode.OutputChannel | undefined;

export function outputChannel(): vscode.OutputChannel {
    if (!channel) {
        channel = vscode.window.createOutputChannel('Companion');
    }
    return channel;
}

function write(level: string, message: string): void {
    outputChannel().appendLine(`${new Date().toISOString()} [${level}] ${message}`);
}

export const log: Logger = {
    info: (message) => write('info', message),
    warn: (message) => write('warn', message),
    error: (message) => write('error', message),
};
