// The world of the VS Code end-to-end suite: a real code-server (VS Code 1.100.3) with the
// packaged companion.vsix installed, driven through Debian's Chromium by puppeteer-core, on a
// real git repository, with a real companion daemon and the real `companion lsp` that the
// extension starts. Each test gets its own COMPANION_HOME, user data and workspace.
//
// COMPANION_PYTHON: the Python that has companion (CI: the project's .venv); the suite fails
// without it. E2E_ARTIFACTS: where screenshots and logs are kept (default e2e/artifacts).
'use strict';
const { spawn, spawnSync, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const puppeteer = require('puppeteer-core');

const CLIENT = path.resolve(__dirname, '..');
const REPO_ROOT = path.resolve(CLIENT, '..');
const VSIX = process.env.COMPANION_VSIX || path.join(CLIENT, 'companion.vsix');
const ARTIFACTS = process.env.E2E_ARTIFACTS || path.join(__dirname, 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PYTHON = process.env.COMPANION_PYTHON;

function codeServerDir() {
    const out = execFileSync(path.join(__dirname, 'install-code-server.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    return out.trim().split('\n').pop();
}

async function until(predicate, timeoutMs, what, details) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
        try {
            last = await predicate();
            if (last) {
                return last;
            }
        } catch (error) {
            last = error;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const extra = details ? `; ${await details()}` : (last instanceof Error ? `; last error: ${last.message}` : '');
    throw new Error(`${what} not met within ${timeoutMs} ms${extra}`);
}

function freePort() {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            server.close(() => resolve(port));
        });
        server.on('error', reject);
    });
}

function git(cwd, ...args) {
    execFileSync('git', args, { cwd, stdio: 'ignore', env: { ...process.env, GIT_AUTHOR_NAME: 'e2e', GIT_AUTHOR_EMAIL: 'e2e@companion.invalid', GIT_COMMITTER_NAME: 'e2e', GIT_COMMITTER_EMAIL: 'e2e@companion.invalid' } });
}

/** A temporary home: COMPANION_HOME with a config (the scripted backend, the engine on), a bin/
 *  folder with a `companion` executable, a git repository with files. */
class World {
    constructor(name, { files = {}, replies = [], config = '' } = {}) {
        if (!PYTHON) {
            throw new Error('COMPANION_PYTHON is not set: the Python that has companion installed (CI: .venv/bin/python)');
        }
        this.name = name;
        this.root = fs.mkdtempSync(path.join(os.tmpdir(), `companion-e2e-${name}-`));
        this.home = path.join(this.root, 'home');
        this.repo = path.join(this.root, 'repo');
        this.bin = path.join(this.root, 'bin');
        this.userData = path.join(this.root, 'user-data');
        this.extensions = path.join(this.root, 'extensions');
        for (const dir of [this.home, this.repo, this.bin, path.join(this.userData, 'User'), this.extensions]) {
            fs.mkdirSync(dir, { recursive: true });
        }
        this.script = path.join(this.home, 'script.json');
        this.setReplies(replies);
        fs.writeFileSync(path.join(this.home, 'config.toml'), [
            '[general]', 'interruption_level = 5',
            '[engine]', 'enabled = true', 'cooldown_s = 0', 'backoff_s = 0', 'idle_s = 3600', 'max_per_hour = 1000', 'preload = true',
            '[agent]', 'backend = "scripted"', `script = ${JSON.stringify(this.script)}`, config, ''].join('\n'));
        // An installed `companion`, the way pip installs one: this Python, `-m companion`.
        this.companion = path.join(this.bin, 'companion');
        fs.writeFileSync(this.companion, `#!/bin/sh\nexec ${JSON.stringify(PYTHON)} -m companion "$@"\n`, { mode: 0o755 });
        for (const [name, text] of Object.entries(files)) {
            fs.mkdirSync(path.dirname(path.join(this.repo, name)), { recursive: true });
            fs.writeFileSync(path.join(this.repo, name), text);
        }
        git(this.repo, 'init', '-q');
        git(this.repo, 'add', '-A');
        git(this.repo, 'commit', '-q', '--allow-empty', '-m', 'start');
        this.processes = [];
    }

    setReplies(replies) {
        fs.writeFileSync(this.script, JSON.stringify(replies.length ? replies : [reply(null)]));
    }

    get env() {
        const env = { ...process.env, COMPANION_HOME: this.home, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1',
            PYTHONPATH: [REPO_ROOT, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter),
            HOME: path.join(this.root, 'user'), GIT_AUTHOR_NAME: 'e2e', GIT_AUTHOR_EMAIL: 'e2e@companion.invalid',
            GIT_COMMITTER_NAME: 'e2e', GIT_COMMITTER_EMAIL: 'e2e@companion.invalid' };
        fs.mkdirSync(env.HOME, { recursive: true });
        for (const name of Object.keys(env)) {
            if (name.startsWith('COMPANION_') && !['COMPANION_HOME', 'COMPANION_MODELS_DIR'].includes(name)) {
                delete env[name];
            }
        }
        return env;
    }

    /** `companion ARGS` in the repository, as the user would type it. */
    companionCli(...args) {
        const done = spawnSync(this.companion, args, { cwd: this.repo, env: this.env, encoding: 'utf8', timeout: 120000 });
        if (done.status !== 0) {
            throw new Error(`companion ${args.join(' ')} failed (${done.status}): ${done.stderr}`);
        }
        return done.stdout;
    }

    json(...args) {
        return JSON.parse(this.companionCli(...args, '--json'));
    }

    /** The workspace's daemon, started the way a user starts it (`companion run`, detached). */
    startDaemon() {
        const log = fs.openSync(path.join(this.root, 'daemon.log'), 'a');
        const daemon = spawn(this.companion, ['run'], { cwd: this.repo, env: this.env, stdio: ['ignore', log, log], detached: true });
        this.processes.push(daemon);
        return daemon;
    }

    daemonPid() {
        const done = spawnSync(PYTHON, ['-c', 'import sys, json\nfrom companion.client import connect\n' +
            'c = connect(sys.argv[1], start=False, timeout=5)\nprint(c.request("ping")["pid"])', this.repo],
        { env: this.env, encoding: 'utf8' });
        return done.status === 0 ? Number(done.stdout.trim()) : undefined;
    }

    /** Events in the store, through the real CLI. */
    events(kind) {
        return this.companionCli('events', '--kind', kind, '--limit', '50', '--json')
            .split('\n').filter((line) => line.trim()).map((line) => JSON.parse(line));
    }

    proposals() {
        return this.json('suggestions', '--all', '--limit', '50').proposals;
    }

    /** The companion processes of this world (their command lines), from /proc. */
    companionProcesses() {
        const found = [];
        for (const pid of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
            try {
                const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
                if (!environ.includes(`COMPANION_HOME=${this.home}`)) {
                    continue;
                }
                found.push({ pid: Number(pid), argv: fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean) });
            } catch { /* gone, or not ours */ }
        }
        return found;
    }

    lspProcesses() {
        return this.companionProcesses().filter((p) => p.argv.includes('lsp'));
    }

    /** A command that failed, recorded as the shell hook records it (through the daemon's `emit`). */
    emitFailedCommand(command, exitCode = 1) {
        const event = { source: 'shell', kind: 'shell.command', ts: Date.now() / 1000,
            data: { command, cwd: this.repo, dir: '.', exit_code: exitCode, duration_s: 0.4, shell: 'bash', session: 'e2e', origin: 'hook' } };
        const done = spawnSync(PYTHON, ['-c', 'import sys, json\nfrom companion.client import connect\n' +
            'c = connect(sys.argv[1], start=False, timeout=10)\nc.request("emit", events=[json.loads(sys.argv[2])], wait=True)',
        this.repo, JSON.stringify(event)], { env: this.env, encoding: 'utf8' });
        if (done.status !== 0) {
            throw new Error(`emit failed: ${done.stderr}`);
        }
    }

    stopDaemon() {
        spawnSync(PYTHON, ['-c', 'import sys\nfrom companion.client import connect\n' +
            'c = connect(sys.argv[1], start=False, timeout=5)\nc.request("shutdown")', this.repo], { env: this.env });
    }

    async close() {
        this.stopDaemon();
        for (const child of this.processes) {
            if (child.exitCode === null) {
                try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
            }
        }
    }
}

function reply(task, response = '', operation = 'explain', extra = {}) {
    return { purpose: 'p', thoughts: 't', proactive_task: task, response, operation, ...extra };
}

/** code-server with the extension installed, serving the world's repository. */
class CodeServer {
    constructor(world, { settings = {}, env = {}, pathWithCompanion = true } = {}) {
        this.world = world;
        this.settings = settings;
        this.extraEnv = env;
        this.pathWithCompanion = pathWithCompanion;
    }

    static installExtension(dir, world) {
        const entry = path.join(dir, 'out', 'node', 'entry.js');
        execFileSync(process.execPath, [entry, '--user-data-dir', world.userData, '--extensions-dir', world.extensions,
            '--install-extension', VSIX], { stdio: 'ignore', env: world.env, timeout: 120000 });
    }

    // Written whole and renamed into place: code-server watches the file, and a window opened while
    // a plain write had only truncated it got the defaults (companion.path unset, "not found on PATH").
    writeSettings(settings) {
        const target = path.join(this.world.userData, 'User', 'settings.json');
        const partial = `${target}.${process.pid}.tmp`;
        fs.writeFileSync(partial, JSON.stringify({
            'security.workspace.trust.enabled': false,
            'workbench.startupEditor': 'none',
            'workbench.tips.enabled': false,
            'telemetry.telemetryLevel': 'off',
            'extensions.autoCheckUpdates': false,
            'update.mode': 'none',
            'terminal.integrated.shellIntegration.enabled': true,
            'terminal.integrated.gpuAcceleration': 'off',  // the DOM renderer: the terminal's text can be read
            'terminal.integrated.enablePersistentSessions': false,
            'terminal.integrated.defaultProfile.linux': 'bash',
            'window.restoreWindows': 'none',
            'files.autoSave': 'off',
            ...settings,
        }, null, 2));
        fs.renameSync(partial, target);
    }

    // code-server hands a new window the user settings it holds, and a file changed under a running
    // one was seen late or not at all (windows opened with companion.path unset, "not found on
    // PATH", in CI). A restart reads the file for certain: the activation tests restart per setting.
    async restartWith(settings) {
        process.kill(-this.process.pid, 'SIGTERM');
        await until(() => this.process.exitCode !== null || this.process.signalCode !== null, 30000, 'code-server exits');
        this.settings = settings;
        return this.start({ install: false });
    }

    async start({ install = true } = {}) {
        const dir = codeServerDir();
        if (install) {
            CodeServer.installExtension(dir, this.world);
        }
        this.writeSettings(this.settings);
        this.port = await freePort();
        const env = { ...this.world.env, ...this.extraEnv };
        const systemPath = (env.PATH || '/usr/bin:/bin').split(path.delimiter).filter((d) => !fs.existsSync(path.join(d, 'companion')));
        env.PATH = (this.pathWithCompanion ? [this.world.bin, ...systemPath] : systemPath).join(path.delimiter);
        // VS Code takes the extension host's environment from the user's login shell, as a
        // person who installed companion with pipx has it: ~/.local/bin on PATH in ~/.profile.
        const profile = this.pathWithCompanion ? `export PATH="${this.world.bin}:$PATH"\n` : '';
        for (const rc of ['.profile', '.bashrc', '.zshrc']) {
            fs.writeFileSync(path.join(env.HOME, rc), profile + (this.world.rcExtra || ''));
        }
        fs.mkdirSync(path.join(env.HOME, '.config', 'fish'), { recursive: true });
        fs.writeFileSync(path.join(env.HOME, '.config', 'fish', 'config.fish'),
            (this.pathWithCompanion ? `set -gx PATH ${JSON.stringify(this.world.bin)} $PATH\n` : '') + (this.world.fishExtra || ''));
        const log = fs.openSync(path.join(this.world.root, 'code-server.log'), 'a');
        this.process = spawn(process.execPath, [path.join(dir, 'out', 'node', 'entry.js'), '--bind-addr', `127.0.0.1:${this.port}`,
            '--auth', 'none', '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
            '--user-data-dir', this.world.userData, '--extensions-dir', this.world.extensions, this.world.repo],
        { env, stdio: ['ignore', log, log], detached: true });
        this.world.processes.push(this.process);
        await until(() => new Promise((resolve) => {
            const socket = net.connect(this.port, '127.0.0.1', () => { socket.end(); resolve(true); });
            socket.on('error', () => resolve(false));
        }), 60000, 'code-server listening');
        return this;
    }

    get url() {
        return `http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(this.world.repo)}`;
    }
}

let browser;

async function getBrowser() {
    if (!browser) {
        browser = await puppeteer.launch({
            executablePath: CHROMIUM, headless: true,
            args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--window-size=1400,900'],
            defaultViewport: { width: 1400, height: 900 },
        });
    }
    return browser;
}

async function closeBrowser() {
    if (browser) {
        await browser.close().catch(() => undefined);
        browser = undefined;
    }
}

/** One VS Code window in Chromium. */
class Workbench {
    constructor(page, name) {
        this.page = page;
        this.name = name;
    }

    static async open(server, name) {
        const page = await (await getBrowser()).newPage();
        const bench = new Workbench(page, name);
        await page.goto(server.url, { waitUntil: 'domcontentloaded', timeout: 120000 });
        await page.waitForSelector('.monaco-workbench', { timeout: 120000 });
        return bench;
    }

    async screenshot(label) {
        fs.mkdirSync(ARTIFACTS, { recursive: true });
        const file = path.join(ARTIFACTS, `${this.name}-${label}.png`);
        await this.page.screenshot({ path: file });
        return file;
    }

    /** The texts of the status bar items. */
    async statusBar() {
        return this.page.$$eval('.statusbar-item', (items) => items.map((i) => `${i.getAttribute('aria-label') || ''}|${i.textContent || ''}`));
    }

    async companionStatus() {
        const items = await this.page.$$eval('.statusbar-item', (nodes) => nodes
            .filter((n) => (n.id || '').includes('companion') || (n.getAttribute('aria-label') || '').includes('Companion'))
            .map((n) => ({ id: n.id, label: n.getAttribute('aria-label') || '', text: (n.textContent || '').trim(),
                tooltip: n.getAttribute('title') || '' })));
        return items[0];
    }

    /** Every notification: the toasts and the notification center (opened to read it). */
    async allNotifications() {
        const center = await this.page.$('.notifications-center.visible');
        if (!center) {
            await this.page.click('.statusbar-item[id*="notifications"] a, .statusbar-item[aria-label*="otification"]').catch(() => undefined);
            await new Promise((resolve) => setTimeout(resolve, 300));
        }
        return this.notifications();
    }

    async notifications() {
        return this.page.$$eval('.notifications-toasts .notification-list-item, .notifications-center .notification-list-item',
            (nodes) => nodes.map((n) => (n.textContent || '').trim()));
    }

    async notificationButtons() {
        return this.page.$$eval('.notification-list-item .monaco-button', (nodes) => nodes.map((n) => (n.textContent || '').trim()));
    }

    async key(...keys) {
        for (const k of keys.slice(0, -1)) {
            await this.page.keyboard.down(k);
        }
        await this.page.keyboard.press(keys[keys.length - 1]);
        for (const k of keys.slice(0, -1).reverse()) {
            await this.page.keyboard.up(k);
        }
    }

    /** Run a palette command by its title. */
    async command(title) {
        await this.page.click('.monaco-workbench .part.editor').catch(() => undefined);
        await this.key('F1');
        await this.page.waitForSelector('.quick-input-widget:not([style*="display: none"]) input', { timeout: 15000 });
        await this.page.keyboard.type(title, { delay: 5 });
        await until(async () => this.page.$$eval('.quick-input-list .monaco-list-row', (rows) => rows.length > 0), 15000, `palette rows for ${title}`);
        await this.page.keyboard.press('Enter');
        await new Promise((resolve) => setTimeout(resolve, 400));
    }

    /** Open a workspace file with Quick Open. */
    async openFile(name) {
        await this.key('Control', 'p');
        await this.page.waitForSelector('.quick-input-widget:not([style*="display: none"]) input', { timeout: 15000 });
        await this.page.keyboard.type(name, { delay: 5 });
        const base = path.basename(name);
        await until(async () => this.page.$$eval('.quick-input-list .monaco-list-row', (rows, wanted) => rows.some((r) => (r.textContent || '').includes(wanted)), base),
            15000, `quick open finding ${name}`);
        await this.page.keyboard.press('Enter');
        await until(async () => (await this.textOf('.tab.active')).join(' ').includes(base), 15000, `${name} open`);
        await this.page.waitForSelector('.monaco-editor .view-lines', { timeout: 15000 });
    }

    /** The text of the active editor, from VS Code's model through the DOM's lines (what is shown). */
    async editorLines() {
        return this.page.$$eval('.editor-instance .monaco-editor .view-line', (lines) => lines
            .map((l) => ({ top: parseFloat(l.style.top || '0'), text: (l.textContent || '').replace(/\u00a0/g, ' ') }))
            .sort((a, b) => a.top - b.top).map((l) => l.text));
    }

    async problems() {
        return this.page.$$eval('.markers-panel .monaco-list-row', (rows) => rows.map((r) => (r.textContent || '').trim()));
    }

    async textOf(selector) {
        return this.page.$$eval(selector, (nodes) => nodes.map((n) => (n.textContent || '').trim()));
    }

    async close() {
        await this.page.close().catch(() => undefined);
    }
}

module.exports = { World, CodeServer, Workbench, reply, until, closeBrowser, ARTIFACTS, PYTHON, REPO_ROOT, codeServerDir };
