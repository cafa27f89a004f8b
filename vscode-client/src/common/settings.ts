// The extension's settings: what to start (`companion lsp`) and what to pass to the server as
// initializationOptions (and again on every change, through workspace/didChangeConfiguration).
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';

export const SECTION = 'companion';

export interface CompanionSettings {
    path: string[];
    interpreter: string;
    interruptionLevel: number | null;
    showMessage: 'off' | 'unfocused' | 'always';
    diagnosticSeverity: 'information' | 'hint';
    backend: string;
    model: string;
    startDaemon: boolean;
}

export const INSTALL_HINT =
    'Install companion with `pipx install companion` (or `pip install companion` in a virtual environment), ' +
    'or point the `companion.path` or `companion.interpreter` setting at an installed one.';

export function getSettings(scope?: vscode.ConfigurationScope): CompanionSettings {
    const config = vscode.workspace.getConfiguration(SECTION, scope);
    return {
        path: config.get<string[]>('path', []),
        interpreter: config.get<string>('interpreter', ''),
        interruptionLevel: config.get<number | null>('interruptionLevel', null),
        showMessage: config.get<'off' | 'unfocused' | 'always'>('showMessage', 'unfocused'),
        diagnosticSeverity: config.get<'information' | 'hint'>('diagnosticSeverity', 'information'),
        backend: config.get<string>('backend', ''),
        model: config.get<string>('model', ''),
        startDaemon: config.get<boolean>('startDaemon', true),
    };
}

/** The settings the language server reads (see lsp_server/settings.py). */
export function initializationOptions(settings: CompanionSettings): Record<string, unknown> {
    return {
        interruptionLevel: settings.interruptionLevel,
        showMessage: settings.showMessage,
        diagnosticSeverity: settings.diagnosticSeverity,
        backend: settings.backend,
        model: settings.model,
        startDaemon: settings.startDaemon,
        via: 'vscode',
    };
}

export interface ServerCommand {
    command: string;
    args: string[];
}

export type Resolution = { ok: true; server: ServerCommand } | { ok: false; message: string };

function expandHome(file: string, env: NodeJS.ProcessEnv): string {
    return file.startsWith('~/') && env.HOME ? path.join(env.HOME, file.slice(2)) : file;
}

/** The first executable named `name` on PATH, or undefined. */
export function which(name: string, env: NodeJS.ProcessEnv = process.env,
                      isFile: (p: string) => boolean = isExecutable): string | undefined {
    if (name.includes(path.sep)) {
        return isFile(name) ? name : undefined;
    }
    for (const dir of (env.PATH ?? '').split(path.delimiter)) {
        if (dir && isFile(path.join(dir, name))) {
            return path.join(dir, name);
        }
    }
    return undefined;
}

function isExecutable(file: string): boolean {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

/** How to start `companion lsp`: `companion.path`, else `<interpreter> -m companion lsp`, else
 *  `companion` on PATH; a clear message when none of them exists. */
export function resolveServer(settings: CompanionSettings, env: NodeJS.ProcessEnv = process.env,
                              isFile: (p: string) => boolean = isExecutable): Resolution {
    if (settings.path.length > 0) {
        const [executable, ...extra] = settings.path.map((p) => expandHome(p, env));
        const found = which(executable, env, isFile);
        if (!found) {
            return { ok: false, message: `The companion executable \`${executable}\` (setting companion.path) was not found. ${INSTALL_HINT}` };
        }
        return { ok: true, server: { command: found, args: [...extra, 'lsp'] } };
    }
    if (settings.interpreter) {
        const interpreter = which(expandHome(settings.interpreter, env), env, isFile);
        if (!interpreter) {
            return { ok: false, message: `The Python interpreter \`${settings.interpreter}\` (setting companion.interpreter) was not found. ${INSTALL_HINT}` };
        }
        return { ok: true, server: { command: interpreter, args: ['-m', 'companion', 'lsp'] } };
    }
    const onPath = which('companion', env, isFile);
    if (!onPath) {
        return { ok: false, message: `Companion's language server (\`companion lsp\`) was not found on PATH. ${INSTALL_HINT}` };
    }
    return { ok: true, server: { command: onPath, args: ['lsp'] } };
}
