-- companion for Neovim: starts `companion lsp` for files in a git workspace and answers
-- proposals with :CompanionAccept / :CompanionReject / :CompanionSnooze.
--
-- Works on Debian's Neovim 0.7 (vim.lsp.start_client + vim.lsp.buf_attach_client, one client
-- per git root) and on Neovim 0.8+ (vim.lsp.start, which reuses a client by name and root).
-- Proposals about a file arrive as diagnostics (source "companion") with code actions
-- (vim.lsp.buf.code_action()); proposals about no file are announced with vim.notify.

local M = {}

M.config = {
  cmd = { "companion", "lsp" },
  -- "off": no blocking Accept/Reject prompt (0.7 shows it with inputlist); vim.notify instead
  init_options = { showMessage = "off" },
  settings = {},
  autostart = true,
}

M.status = { state = "stopped", open = 0 }
M.last_answer = nil

local roots = {} -- git root -> client id (Neovim 0.7 path)

local function notify(message, level)
  vim.notify("companion: " .. message, level or vim.log.levels.INFO)
end

--- The nearest folder holding `.git` (a folder, or a file in worktrees and submodules).
function M.find_root(path)
  local dir = vim.fn.fnamemodify(path, ":p:h")
  while dir and dir ~= "" do
    if (vim.uv or vim.loop).fs_stat(dir .. "/.git") then
      return dir
    end
    local parent = vim.fn.fnamemodify(dir, ":h")
    if parent == dir then
      return nil
    end
    dir = parent
  end
  return nil
end

M.handlers = {
  ["companion/status"] = function(_, result)
    M.status = result or M.status
  end,
  ["companion/proposal"] = function(_, result)
    if not result or result.change ~= "new" or not result.visible then
      return
    end
    local proposal = result.proposal or {}
    if proposal.path == nil or proposal.path == vim.NIL then
      notify(("%s  (:CompanionAccept / :CompanionReject / :CompanionSnooze)"):format(proposal.task))
    end
  end,
}

local function client_config(root)
  return {
    name = "companion",
    cmd = M.config.cmd,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    init_options = M.config.init_options,
    settings = M.config.settings,
    handlers = M.handlers,
  }
end

--- Start (or reuse) the companion client for a buffer's git workspace; returns its id.
function M.start(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if vim.bo[bufnr].buftype ~= "" then
    return nil
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == "" then
    return nil
  end
  local root = M.find_root(name)
  if not root then
    return nil
  end
  if vim.lsp.start then -- Neovim 0.8+
    return vim.lsp.start(client_config(root), { bufnr = bufnr })
  end
  local id = roots[root]
  if id == nil or vim.lsp.get_client_by_id(id) == nil then
    id = vim.lsp.start_client(client_config(root))
    roots[root] = id
  end
  if id then
    vim.lsp.buf_attach_client(bufnr, id)
  end
  return id
end

--- The companion client attached to a buffer, if any.
function M.client(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if vim.lsp.get_clients then -- 0.10+
    return vim.lsp.get_clients({ bufnr = bufnr, name = "companion" })[1]
  end
  for _, client in pairs(vim.lsp.buf_get_clients(bufnr)) do
    if client.name == "companion" then
      return client
    end
  end
  return nil
end

local function call(client, method, ...)
  if vim.fn.has("nvim-0.11") == 1 then
    return client[method](client, ...)
  end
  return client[method](...)
end

--- Answer the proposal under the cursor (or else the newest one): "accept", "reject", "snooze".
function M.answer(outcome)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    notify("no companion language server for this buffer (is it in a git workspace?)", vim.log.levels.WARN)
    return
  end
  local line = vim.api.nvim_win_get_cursor(0)[1] - 1
  local params = {
    command = "companion." .. outcome,
    arguments = { { uri = vim.uri_from_bufnr(bufnr), line = line } },
  }
  call(client, "request", "workspace/executeCommand", params, function(err, result)
    if err then
      notify(err.message or tostring(err), vim.log.levels.ERROR)
      return
    end
    M.last_answer = result
    -- an applied edit says so itself; a refused one arrives as `err` with the reason
    notify(type(result.message) == "string" and result.message or ("%s (%s)"):format(result.outcome, result.proposal_id))
  end, bufnr)
end

function M.show_status()
  local client = M.client(0)
  if not client then
    notify("not running for this buffer; state " .. tostring(M.status.state))
    return
  end
  call(client, "request", "workspace/executeCommand", { command = "companion.status" }, function(err, result)
    if err then
      notify(err.message or tostring(err), vim.log.levels.ERROR)
      return
    end
    local lines = { ("%s, %d open proposal(s)"):format(result.state, result.open) }
    for _, proposal in ipairs(result.proposals or {}) do
      local where = (proposal.path ~= vim.NIL and proposal.path) and (" [" .. proposal.path .. "]") or ""
      table.insert(lines, ("  %s  %s%s"):format(proposal.id, proposal.task, where))
    end
    notify(table.concat(lines, "\n"))
  end, 0)
end

--- Tell the server which file has the focus and whether Neovim has it (editor.* events).
local function focus(params)
  local client = M.client(0)
  if client then
    call(client, "notify", "companion/focus", params)
  end
end

function M.setup_commands()
  local command = vim.api.nvim_create_user_command
  command("CompanionAccept", function() M.answer("accept") end, { desc = "Accept companion's proposal" })
  command("CompanionReject", function() M.answer("reject") end, { desc = "Reject companion's proposal" })
  command("CompanionSnooze", function() M.answer("snooze") end, { desc = "Snooze companion's proposal 30 min" })
  command("CompanionStatus", M.show_status, { desc = "Companion's state and open proposals" })
  command("CompanionStart", function() M.start(0) end, { desc = "Start companion for this buffer" })
end

function M.setup_autocmds()
  local group = vim.api.nvim_create_augroup("companion", { clear = true })
  if M.config.autostart then
    vim.api.nvim_create_autocmd({ "BufReadPost", "BufNewFile" }, {
      group = group,
      callback = function(args) M.start(args.buf) end,
    })
  end
  vim.api.nvim_create_autocmd("BufEnter", {
    group = group,
    callback = function(args) focus({ uri = vim.uri_from_bufnr(args.buf) }) end,
  })
  vim.api.nvim_create_autocmd("FocusGained", { group = group, callback = function() focus({ windowFocused = true }) end })
  vim.api.nvim_create_autocmd("FocusLost", { group = group, callback = function() focus({ windowFocused = false }) end })
end

--- Optional: require("companion").setup({ cmd = {...}, init_options = {...}, autostart = true })
function M.setup(options)
  M.config = vim.tbl_deep_extend("force", M.config, options or {})
  M.setup_commands()
  M.setup_autocmds()
  -- buffers opened before setup() (e.g. the files on the command line) get a client too
  if M.config.autostart then
    for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(bufnr) then
        M.start(bufnr)
      end
    end
  end
end

return M
