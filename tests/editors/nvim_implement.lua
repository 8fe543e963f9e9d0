-- Headless Neovim (0.7+) drives the real `winnow lsp` with its built-in LSP client: on the
-- file named by WINNOW_FILE, at the 0-based line WINNOW_LINE, it lists the code actions,
-- takes "Implement with Winnow", resolves it, applies the edit and writes the file.
-- Exit code 0 on success; any failure prints why and exits 1 (cquit).
local function fail(msg)
  io.stderr:write("nvim_implement: " .. msg .. "\n")
  vim.cmd("cquit 1")
end

local ok, err = pcall(function()
  local cmd = vim.fn.json_decode(os.getenv("WINNOW_CMD"))
  local settings = vim.fn.json_decode(os.getenv("WINNOW_SETTINGS"))
  local file = os.getenv("WINNOW_FILE")
  local line = tonumber(os.getenv("WINNOW_LINE"))
  vim.cmd("edit " .. vim.fn.fnameescape(file))
  local bufnr = vim.api.nvim_get_current_buf()
  local id = vim.lsp.start_client({
    name = "winnow",
    cmd = cmd,
    root_dir = vim.fn.fnamemodify(file, ":h"),
    init_options = settings,
    capabilities = vim.tbl_deep_extend("force", vim.lsp.protocol.make_client_capabilities(), {
      textDocument = { codeAction = { resolveSupport = { properties = { "edit" } }, dataSupport = true } },
    }),
  })
  if not id then return fail("could not start the server") end
  vim.lsp.buf_attach_client(bufnr, id)
  local client = vim.lsp.get_client_by_id(id)
  if not vim.wait(120000, function() return client.initialized end, 100) then
    return fail("the server did not initialize")
  end
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    range = { start = { line = line, character = 8 }, ["end"] = { line = line, character = 8 } },
    context = { diagnostics = {} },
  }
  local listed = client.request_sync("textDocument/codeAction", params, 60000, bufnr)
  if not listed or listed.err then return fail("codeAction failed: " .. vim.inspect(listed)) end
  local action
  for _, a in ipairs(listed.result or {}) do
    if a.title:find("Implement with Winnow", 1, true) then action = a end
  end
  if not action then return fail("no implement action: " .. vim.inspect(listed.result)) end
  print("listed: " .. action.title)
  local resolved = client.request_sync("codeAction/resolve", action, 300000, bufnr)
  if not resolved or resolved.err or not resolved.result.edit then
    return fail("resolve failed: " .. vim.inspect(resolved))
  end
  print("resolved: " .. resolved.result.title)
  vim.lsp.util.apply_workspace_edit(resolved.result.edit, client.offset_encoding)
  vim.cmd("write")
  client.stop()
  vim.cmd("qall!")
end)
if not ok then fail(tostring(err)) end
