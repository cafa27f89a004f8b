// A small stand-in for the `vscode` module, loaded with `node --require` before the unit tests,
// so the extension's logic runs under plain Node. It records what the extension shows.
import Module = require('module');

type Listener<T> = (value: T) => void;

export class EventEmitter<T> {
    private listeners: Listener<T>[] = [];
    event = (listener: Listener<T>) => {
        this.listeners.push(listener);
        return { dispose: () => { this.listeners = this.listeners.filter((l) => l !== listener); } };
    };
    fire(value: T): void {
        for (const listener of this.listeners) {
            listener(value);
        }
    }
}

export class TreeItem {
    id?: string;
    contextValue?: string;
    description?: string;
    tooltip?: unknown;
    iconPath?: unknown;
    constructor(public label: string, public collapsibleState: number) {}
}

export class ThemeIcon {
    constructor(public id: string) {}
}

export class MarkdownString {
    constructor(public value: string) {}
}

export const recorded = {
    information: [] as string[],
    errors: [] as string[],
    quickPicks: [] as unknown[],
    statusBarItems: [] as any[],
    config: {} as Record<string, unknown>,
};

export function resetRecorded(): void {
    recorded.information.length = 0;
    recorded.errors.length = 0;
    recorded.quickPicks.length = 0;
    recorded.statusBarItems.length = 0;
    recorded.config = {};
}

const vscode = {
    EventEmitter,
    TreeItem,
    ThemeIcon,
    MarkdownString,
    TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
    StatusBarAlignment: { Left: 1, Right: 2 },
    workspace: {
        getConfiguration: (section: string) => ({
            get: <T>(key: string, fallback: T): T =>
                (`${section}.${key}` in recorded.config ? recorded.config[`${section}.${key}`] : fallback) as T,
        }),
    },
    window: {
        createStatusBarItem: (alignment: number, priority: number) => {
            const item = { alignment, priority, text: '', tooltip: '', command: '', name: '', visible: false,
                show() { item.visible = true; }, dispose() { item.visible = false; } };
            recorded.statusBarItems.push(item);
            return item;
        },
        createOutputChannel: () => ({ appendLine: () => undefined, show: () => undefined }),
        showInformationMessage: async (message: string) => { recorded.information.push(message); return undefined; },
        showErrorMessage: async (message: string) => { recorded.errors.push(message); return undefined; },
        showQuickPick: async (items: unknown[]) => { recorded.quickPicks.push(items); return undefined; },
    },
    commands: {
        registerCommand: () => ({ dispose: () => undefined }),
        executeCommand: async () => undefined,
    },
};

const moduleWithInternals = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
const originalLoad = moduleWithInternals._load;
moduleWithInternals._load = function (request: string, ...rest: unknown[]) {
    if (request === 'vscode') {
        return vscode;
    }
    return originalLoad.call(this, request, ...rest);
};
