// The extension's settings: what to start (`companion lsp`) and what to pass to the server as
// initializationOptions (and again on every change, through workspace/didChangeConfiguration).
//
// Settings are read the way a person writes them: `companion.path` as a string or an array,
// `~`, `${workspaceFolder}`, `${userHome}` and `${env:NAME}` in paths, a folder (a virtual
// environment) where an executable is wanted. The settings the server reads (interruptionLevel,
// showMessage, ...) are passed as written: the server is the one reader that checks them, for
// every editor, and reports a bad value instead of failing.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';

export const SECTION = 'companion';

/** The settings the language server reads (see lsp_server/settings.py). */
export const SERVER_SETTINGS = ['interruptionLevel', 'showMessage', 'diagnosticSeverity', 'diagnostics', 'backend',
    'model', 'startDaemon', 'editFlushSeconds'] as const;

export interface CompanionSettings {
    path: string[];
    interpreter: string;
    server: Record<string, unknown>;
    problems: string[];
}

export const INSTALL_HINT =
    'Install companion with `pipx install companion` (or `pip install companion` in a virtual environment), ' +
    'or point the `companion.path` or `companion.interpreter` setting at an installed one.';

/** Where `${workspaceFolder}` and relative paths point. */
export interface Context {
    env: NodeJS.ProcessEnv;
    workspaceFolder?: string;
}

export function getSettings(scope?: vscode.ConfigurationScope): CompanionSettings {
    const config = vscode.workspace.getConfiguration(SECTION, scope);
    const problems: string[] = [];
    const server: Record<string, unknown> = {};
    for (const name of SERVER_SETTINGS) {
        const value = config.get<unknown>(name);
        if (value !== undefined) {
            server[name] = value;
        }
    }
    return {
        path: commandWords(config.get<unknown>('path'), 'companion.path', problems),
        interpreter: commandWords(config.get<unknown>('interpreter'), 'companion.interpreter', problems)[0] ?? '',
        server,
        problems,
    };
}

/** `"/opt/companion"`, `"python -m companion"`, `["/opt/companion", "-v"]`, `""`, `null`: the
 *  words of a command. A string that names an existing file is one word, spaces and all. */
export function commandWords(value: unknown, name: string, problems: string[] = [],
                             exists: (p: string) => boolean = fs.existsSync): string[] {
    if (value === undefined || value === null) {
        return [];
    }
    if (typeof value === 'string') {
        const text = value.trim();
        if (!text) {
            return [];
        }
        return exists(text) ? [text] : splitWords(text);
    }
    if (Array.isArray(value)) {
        const words = value.filter((w) => typeof w === 'string' || typeof w === 'number').map((w) => String(w).trim())
            .filter((w) => w.length > 0);
        if (words.length !== value.length) {
            problems.push(`${name}: only non-empty strings are used, got ${JSON.stringify(value)}`);
        }
        return words;
    }
    problems.push(`${name} must be a path (a string) or a list of strings, got ${JSON.stringify(value)}`);
    return [];
}

/** Splits on whitespace outside quotes ('...' and "..."). */
export function splitWords(text: string): string[] {
    const words: string[] = [];
    const pattern = /"([^"]*)"|'([^']*)'|(\S+)/g;
    let match: RegExpExecArray | null;
    while ((match = pattern.exec(text)) !== null) {
        words.push(match[1] ?? match[2] ?? match[3]);
    }
    return words;
}

/** The settings the server reads, as written, plus who we are. */
export function initializationOptions(settings: CompanionSettings): Record<string, unknown> {
    return { ...settings.server, via: 'vscode' };
}

export interface ServerCommand {
    command: string;
    args: string[];
}

export type Resolution = { ok: true; server: ServerCommand } | { ok: false; message: string };

/** `~/x`, `${userHome}/x`, `${workspaceFolder}/x`, `${env:NAME}/x`, `$HOME/x`; a relative path
 *  that contains a separator is taken from the workspace folder. */
export function expandPath(file: string, context: Context): string {
    const home = context.env.HOME ?? context.env.USERPROFILE ?? '';
    let expanded = file
        .replace(/\$\{userHome\}/g, home)
        .replace(/\$\{workspaceFolder(?::[^}]*)?\}/g, context.workspaceFolder ?? '${workspaceFolder}')
        .replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => context.env[name] ?? '')
        .replace(/^\$HOME(?=\/|$)/, home);
    if ((expanded === '~' || expanded.startsWith('~/')) && home) {
        expanded = path.join(home, expanded.slice(1));
    }
    if (!path.isAbsolute(expanded) && expanded.includes('/') && context.workspaceFolder) {
        expanded = path.join(context.workspaceFolder, expanded);
    }
    return expanded;
}

/** The first executable named `name` on PATH (or `name` itself when it is a path), or undefined. */
export function which(name: string, env: NodeJS.ProcessEnv = process.env,
                      isFile: (p: string) => boolean = isExecutable): string | undefined {
    if (name.includes('/') || name.includes(path.sep)) {
        return isFile(name) ? name : undefined;
    }
    for (const dir of (env.PATH ?? '').split(path.delimiter)) {
        if (dir && isFile(path.join(dir, name))) {
            return path.join(dir, name);
        }
    }
    return undefined;
}

/** An executable given as itself, or as a folder that holds it (a virtual environment, its bin/). */
function findExecutable(given: string, names: string[], context: Context, isFile: (p: string) => boolean): string | undefined {
    const found = which(given, context.env, isFile);
    if (found) {
        return found;
    }
    for (const name of names) {
        for (const candidate of [path.join(given, name), path.join(given, 'bin', name)]) {
            if (path.isAbsolute(candidate) && isFile(candidate)) {
                return candidate;
            }
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
export function resolveServer(settings: CompanionSettings, context: Context = { env: process.env },
                              isFile: (p: string) => boolean = isExecutable): Resolution {
    if (settings.path.length > 0) {
        const [given, ...extra] = settings.path;
        const executable = expandPath(given, context);
        const found = findExecutable(executable, ['companion'], context, isFile);
        if (!found) {
            return { ok: false, message: `The companion executable \`${executable}\` (setting companion.path) was not found. ${INSTALL_HINT}` };
        }
        const args = extra.map((word) => expandPath(word, context));
        // ["python", "-m", "companion"] and ["companion"] both mean the program; `lsp` is added.
        return { ok: true, server: { command: found, args: args[args.length - 1] === 'lsp' ? args : [...args, 'lsp'] } };
    }
    if (settings.interpreter) {
        const given = expandPath(settings.interpreter, context);
        const interpreter = findExecutable(given, ['python3', 'python'], context, isFile);
        if (!interpreter) {
            return { ok: false, message: `The Python interpreter \`${given}\` (setting companion.interpreter) was not found. ${INSTALL_HINT}` };
        }
        return { ok: true, server: { command: interpreter, args: ['-m', 'companion', 'lsp'] } };
    }
    const onPath = which('companion', context.env, isFile);
    if (!onPath) {
        return { ok: false, message: `Companion's language server (\`companion lsp\`) was not found on PATH. ${INSTALL_HINT}` };
    }
    return { ok: true, server: { command: onPath, args: ['lsp'] } };
}
