-- A smoke test of `flowc lsp` in a real Neovim (0.7+, built-in client): copy an
-- example, inject an error after non-ASCII text, open the copy, wait for the
-- diagnostics through vim.diagnostic.get and compare them with what `flowc check
-- --format json` says of the same file; then fix the buffer and wait for the errors
-- to clear. Exits 0 when everything matches, 1 otherwise (or on a timeout).
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

  vim.lsp.stop_client(client)
  vim.cmd("qall!")
end

local ok, err = pcall(main)
if not ok then
  fail(tostring(err))
end
