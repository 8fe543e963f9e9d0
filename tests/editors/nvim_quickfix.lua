-- Headless Neovim (0.7+) drives the real `winnow lsp` with its built-in LSP client: on the
-- file named by WINNOW_FILE it waits for a Winnow hint, lists the code actions on its line
-- with the context `vim.lsp.buf.code_action()` sends (the line's diagnostics as Neovim
-- kept them, `data` included), takes the one whose title starts with WINNOW_FIX, applies
-- its edit, waits until the server publishes the file without the hint, and writes it.
-- Exit code 0 on success; any failure prints why and exits 1 (cquit).
local function fail(msg)
  io.stderr:write("nvim_quickfix: " .. msg .. "\n")
  vim.cmd("cquit 1")
end

local ok, err = pcall(function()
  local cmd = vim.fn.json_decode(os.getenv("WINNOW_CMD"))
  local settings = vim.fn.json_decode(os.getenv("WINNOW_SETTINGS"))
  local file = os.getenv("WINNOW_FILE")
  local wanted = os.getenv("WINNOW_FIX")
  vim.cmd("edit " .. vim.fn.fnameescape(file))
  local bufnr = vim.api.nvim_get_current_buf()
  local uri = vim.uri_from_bufnr(bufnr)
  -- The diagnostics exactly as published (vim.diagnostic keeps a converted copy).
  local published = {}
  local id = vim.lsp.start_client({
    name = "winnow",
    cmd = cmd,
    root_dir = vim.fn.fnamemodify(file, ":h"),
    init_options = settings,
    handlers = {
      ["textDocument/publishDiagnostics"] = function(e, result, ctx, config)
        published[result.uri] = result.diagnostics
        return vim.lsp.diagnostic.on_publish_diagnostics(e, result, ctx, config)
      end,
    },
  })
  if not id then return fail("could not start the server") end
  vim.lsp.buf_attach_client(bufnr, id)
  local client = vim.lsp.get_client_by_id(id)
  if not vim.wait(120000, function() return client.initialized end, 100) then
    return fail("the server did not initialize")
  end
  local function hints()
    local found = {}
    for _, d in ipairs(published[uri] or {}) do
      if d.source == "winnow" then table.insert(found, d) end
    end
    return found
  end
  if not vim.wait(180000, function() return #hints() > 0 end, 200) then
    return fail("no Winnow hint on " .. uri)
  end
  local hint = hints()[1]
  print("hint: " .. hint.message)
  -- What vim.lsp.buf.code_action() puts in the context on 0.7-0.9 (the line's diagnostics,
  -- converted back from vim.diagnostic); the published ones where that function is gone.
  local line = hint.range.start.line
  local context = vim.lsp.diagnostic.get_line_diagnostics and vim.lsp.diagnostic.get_line_diagnostics(bufnr, line)
    or { hint }
  local listed = client.request_sync("textDocument/codeAction", {
    textDocument = { uri = uri },
    range = { start = { line = line, character = 0 }, ["end"] = { line = line, character = 0 } },
    context = { diagnostics = context },
  }, 60000, bufnr)
  if not listed or listed.err then return fail("codeAction failed: " .. vim.inspect(listed)) end
  local action
  for _, a in ipairs(listed.result or {}) do
    print("listed: " .. a.title .. " [" .. tostring(a.kind) .. "]")
    if not action and a.title:sub(1, #wanted) == wanted then action = a end
  end
  if not action then return fail("no action titled " .. wanted .. "…") end
  if not action.edit then return fail("the quick fix has no edit: " .. vim.inspect(action)) end
  vim.lsp.util.apply_workspace_edit(action.edit, client.offset_encoding)
  print("applied: " .. action.title)
  -- The edit reaches the server as didChange; it runs the hints again and publishes none.
  if not vim.wait(180000, function() return published[uri] ~= nil and #hints() == 0 end, 200) then
    return fail("the hint is still there: " .. vim.inspect(hints()))
  end
  print("cleared: no Winnow hint left")
  vim.cmd("write")
  client.stop()
  vim.cmd("qall!")
end)
if not ok then fail(tostring(err)) end
