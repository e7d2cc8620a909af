-- A smoke test of `flowc lsp` in a real Neovim (0.7+, built-in client): copy an
-- example, inject an error after non-ASCII text, open the copy, wait for the
-- diagnostics through vim.diagnostic.get and compare them with what `flowc check
-- --format json` says of the same file; then fix the buffer and wait for the errors
-- to clear. Then, on a copy of the `shop` fixture (main.flow imports types.flow),
-- the features a user reaches first: hover, go to definition, completion after a
-- `.` typed into the buffer, formatting (vim.lsp.buf.formatting_sync) and a rename
-- applied across both files, after which `flowc check` still passes. Exits 0 when
-- everything matches, 1 otherwise (or on a timeout).
--
--   FLOWC_BIN=target/debug/flowc EXAMPLE=examples/quickstart.flow \
--     nvim --headless -u NONE -c "luafile lsp/tests/clients/neovim/smoke.lua"

local PATIENCE_MS = tonumber(os.getenv("PATIENCE_MS") or "20000")
local INJECTED = '  let injected = "naïve 😀 ${nosuch_value}"'

local function fail(message)
  io.stderr:write("neovim smoke: FAIL: " .. message .. "\n")
  vim.cmd("cquit 1")
end

local function say(message)
  io.stdout:write("neovim smoke: " .. message .. "\n")
end

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do
    table.insert(lines, line)
  end
  return lines
end

local function write_lines(path, lines)
  local file = assert(io.open(path, "w"))
  file:write(table.concat(lines, "\n") .. "\n")
  file:close()
end

-- What `flowc check` reports for `path`, as vim.diagnostic entries: 0-based lines
-- and byte columns (the check's byte offsets minus the line's first byte).
local function expected_diagnostics(flowc, path)
  -- Standard error (the summary line) stays out of the JSON.
  local pipe = assert(io.popen(
    vim.fn.shellescape(flowc) .. " check --format json " .. vim.fn.shellescape(path) .. " 2>/dev/null"
  ))
  local output = pipe:read("*a")
  pipe:close()
  local report = vim.fn.json_decode(output)
  local starts, at = {}, 0
  for index, line in ipairs(read_lines(path)) do
    starts[index] = at
    at = at + #line + 1
  end
  local found = {}
  for _, d in ipairs(report.diagnostics) do
    if vim.loop.fs_realpath(d.file) == vim.loop.fs_realpath(path) then
      table.insert(found, {
        lnum = d.start.line - 1,
        col = d.start.byte - starts[d.start.line],
        end_lnum = d["end"].line - 1,
        end_col = d["end"].byte - starts[d["end"].line],
        severity = d.severity == "error" and vim.diagnostic.severity.ERROR
          or vim.diagnostic.severity.WARN,
        code = d.code,
        message = d.message,
      })
    end
  end
  return found
end

local function key(d)
  return string.format(
    "%d:%d-%d:%d %s [%s] %s",
    d.lnum,
    d.col,
    d.end_lnum,
    d.end_col,
    d.severity == vim.diagnostic.severity.ERROR and "error" or "warning",
    tostring(d.code),
    d.message
  )
end

local function keys(diagnostics)
  local list = {}
  for _, d in ipairs(diagnostics) do
    table.insert(list, key(d))
  end
  table.sort(list)
  return list
end

local function same(a, b)
  if #a ~= #b then
    return false
  end
  for index = 1, #a do
    if a[index] ~= b[index] then
      return false
    end
  end
  return true
end


local HERE = vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":p:h")

-- The one answer of the flowc client to a request at the cursor.
local function request(buffer, method, params)
  local answers, err = vim.lsp.buf_request_sync(buffer, method, params, PATIENCE_MS)
  if not answers then
    error(method .. ": " .. tostring(err))
  end
  for _, answer in pairs(answers) do
    if answer.error then
      error(method .. ": " .. vim.inspect(answer.error))
    end
    return answer.result
  end
  error(method .. ": no answer")
end

-- Puts the cursor `offset` bytes into the first match of `pattern` (a Vim
-- pattern, `\\V` very nomagic), failing when there is none.
local function cursor_at(pattern, offset)
  vim.fn.cursor(1, 1)
  if vim.fn.search("\\V" .. pattern, "cW") == 0 then
    error("no " .. pattern .. " in " .. vim.api.nvim_buf_get_name(0))
  end
  local position = vim.api.nvim_win_get_cursor(0)
  vim.api.nvim_win_set_cursor(0, { position[1], position[2] + (offset or 0) })
  return position[1] - 1
end

local function buffer_text(buffer)
  return table.concat(vim.api.nvim_buf_get_lines(buffer, 0, -1, true), "\n") .. "\n"
end

local function features(flowc, client)
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir, "p")
  for _, name in ipairs({ "main.flow", "types.flow" }) do
    write_lines(dir .. "/" .. name, read_lines(HERE .. "/../fixtures/shop/" .. name))
  end
  local main = dir .. "/main.flow"
  vim.cmd("edit " .. vim.fn.fnameescape(main))
  local buffer = vim.api.nvim_get_current_buf()
  vim.lsp.buf_attach_client(buffer, client)
  local canonical = buffer_text(buffer)

  -- Hover over a step's name shows its declared body type.
  cursor_at("quote.body.total", 0)
  local hover = request(buffer, "textDocument/hover", vim.lsp.util.make_position_params())
  local shown = hover and hover.contents and (hover.contents.value or vim.inspect(hover.contents)) or ""
  if not shown:find("Quote", 1, true) then
    error("hover over `quote` shows " .. vim.inspect(shown))
  end
  say("hover: ok")

  -- Go to definition of a fn jumps to its declaration's line.
  cursor_at("shipping(subtotal)", 0)
  local definition = request(buffer, "textDocument/definition", vim.lsp.util.make_position_params())
  local location = definition and (definition[1] or definition)
  local declared = cursor_at("fn shipping", 0)
  if not (location and location.range and location.range.start.line == declared) then
    error("definition of `shipping`: " .. vim.inspect(definition))
  end
  say("definition: ok")

  -- Completion after `order.` typed into the buffer offers the record's fields.
  local row = cursor_at("let total = ", 0) + 1
  vim.api.nvim_buf_set_lines(buffer, row, row, true, { "  let probe = order." })
  -- Normal mode cannot put the cursor past the end of a line, so the position is
  -- written out (the line is ASCII: bytes and UTF-16 units agree).
  local completion = request(buffer, "textDocument/completion", {
    textDocument = vim.lsp.util.make_text_document_params(),
    position = { line = row, character = #"  let probe = order." },
  })
  local labels = {}
  for _, item in ipairs(completion and (completion.items or completion) or {}) do
    labels[item.label] = true
  end
  for _, field in ipairs({ "id", "customer", "lines" }) do
    if not labels[field] then
      error("completion after `order.` lacks " .. field .. ": " .. vim.inspect(vim.tbl_keys(labels)))
    end
  end
  vim.api.nvim_buf_set_lines(buffer, row, row + 1, true, {})
  say("completion: ok")

  -- Formatting a spoiled line gives back the canonical text.
  local spoiled = cursor_at("  let subtotal", 0)
  local line = vim.api.nvim_buf_get_lines(buffer, spoiled, spoiled + 1, true)[1]
  vim.api.nvim_buf_set_lines(buffer, spoiled, spoiled + 1, true, { "      " .. line:gsub("= ", "=   ") })
  vim.lsp.buf.formatting_sync(nil, PATIENCE_MS)
  if buffer_text(buffer) ~= canonical then
    error("formatting gave\n" .. buffer_text(buffer))
  end
  say("formatting: ok")

  -- Rename a type declared in types.flow from its use in main.flow.
  cursor_at("order: Order", #"order: ")
  local params = vim.lsp.util.make_position_params()
  params.newName = "Purchase"
  local edit = request(buffer, "textDocument/rename", params)
  if not edit then
    error("rename answered nothing")
  end
  vim.lsp.util.apply_workspace_edit(edit, vim.lsp.get_client_by_id(client).offset_encoding)
  for _, name in ipairs({ "main.flow", "types.flow" }) do
    local edited = vim.fn.bufnr(dir .. "/" .. name)
    if edited == -1 then
      error("the rename did not reach " .. name)
    end
    vim.api.nvim_buf_call(edited, function()
      vim.cmd("silent write!")
    end)
  end
  for _, name in ipairs({ "main.flow", "types.flow" }) do
    local text = table.concat(read_lines(dir .. "/" .. name), "\n")
    if text:find("%f[%w_]Order%f[^%w_]") or not text:find("Purchase", 1, true) then
      error("rename left " .. name .. " as\n" .. text)
    end
  end
  if #expected_diagnostics(flowc, main) ~= 0 then
    error("flowc check fails after the rename")
  end
  say("rename: ok")
end

local function main()
  local flowc = vim.loop.fs_realpath(os.getenv("FLOWC_BIN") or "target/debug/flowc")
  local example = os.getenv("EXAMPLE") or "examples/quickstart.flow"
  if not flowc then
    fail("no flowc binary (set FLOWC_BIN)")
    return
  end

  local original = read_lines(example)
  local broken, injected_line = {}, nil
  for _, line in ipairs(original) do
    if not injected_line and line:match("^  let ") then
      table.insert(broken, INJECTED)
      injected_line = #broken - 1
    end
    table.insert(broken, line)
  end
  if not injected_line then
    fail(example .. " has no `let` in a workflow")
    return
  end
  local dir = vim.fn.tempname()
  vim.fn.mkdir(dir, "p")
  local path = dir .. "/" .. vim.fn.fnamemodify(example, ":t")
  write_lines(path, broken)
  local expected = keys(expected_diagnostics(flowc, path))
  local found_injected = false
  for _, d in ipairs(expected_diagnostics(flowc, path)) do
    if d.lnum == injected_line and d.severity == vim.diagnostic.severity.ERROR then
      found_injected = true
    end
  end
  if not found_injected then
    fail("flowc check does not report the injected error")
    return
  end

  vim.cmd("edit " .. vim.fn.fnameescape(path))
  local buffer = vim.api.nvim_get_current_buf()
  local client = vim.lsp.start_client({
    name = "flowc",
    cmd = { flowc, "lsp" },
    root_dir = dir,
    on_exit = function(code)
      if code ~= 0 then
        io.stderr:write("neovim smoke: flowc lsp exited " .. code .. "\n")
      end
    end,
  })
  if not client then
    fail("vim.lsp.start_client failed")
    return
  end
  vim.lsp.buf_attach_client(buffer, client)

  local seen = {}
  local ok = vim.wait(PATIENCE_MS, function()
    seen = keys(vim.diagnostic.get(buffer))
    return same(seen, expected)
  end, 50)
  for _, line in ipairs(seen) do
    say("diagnostic " .. line)
  end
  if not ok then
    fail(
      "diagnostics differ from flowc check\n  expected:\n    "
        .. table.concat(expected, "\n    ")
        .. "\n  got:\n    "
        .. table.concat(seen, "\n    ")
    )
    return
  end
  say("diagnostics on open equal flowc check (" .. #expected .. ")")

  -- Fix the buffer: the server must clear what the injected line caused.
  vim.api.nvim_buf_set_lines(buffer, injected_line, injected_line + 1, true, {})
  write_lines(path, original)
  local fixed = keys(expected_diagnostics(flowc, path))
  ok = vim.wait(PATIENCE_MS, function()
    seen = keys(vim.diagnostic.get(buffer))
    return same(seen, fixed)
  end, 50)
  if not ok then
    fail("diagnostics after the fix: " .. table.concat(seen, "; "))
    return
  end
  say("diagnostics after the fix equal flowc check (" .. #fixed .. ")")

  features(flowc, client)

  vim.lsp.stop_client(client)
  vim.cmd("qall!")
end

local ok, err = pcall(main)
if not ok then
  fail(tostring(err))
end
