-- Loads companion for Neovim with its defaults; call require("companion").setup({...}) in your
-- config to change them (setup() may run before or after this file). Set
-- vim.g.companion_disable = true to load nothing.
if vim.g.loaded_companion or vim.g.companion_disable then
  return
end
vim.g.loaded_companion = true

local companion = require("companion")
companion.setup_commands()
companion.setup_autocmds()
