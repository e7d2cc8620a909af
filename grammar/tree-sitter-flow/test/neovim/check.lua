-- Loads the Flow parser into Neovim, compiles the queries with Neovim's own query
-- engine and highlights a file, exiting non-zero on any failure. test.sh runs it
-- with `nvim --headless -u NONE -c 'luafile …'` when nvim is installed; it works
-- with Neovim 0.7 (Debian's) and with the later API names.
--
-- Environment: FLOW_PARSER (the parser library), FLOW_QUERIES (the queries
-- directory), FLOW_SOURCE (a .flow file that must parse without errors).

local function fail(message)
  io.stderr:write('neovim check: ' .. message .. '\n')
  vim.cmd('cquit 1')
end

local function read(path)
  local file = io.open(path)
  if not file then
    fail('cannot read ' .. path)
  end
  local text = file:read('*a')
  file:close()
  return text
end

local function main()
  local parser_path = os.getenv('FLOW_PARSER')
  local queries = os.getenv('FLOW_QUERIES')
  local source_path = os.getenv('FLOW_SOURCE')
  if vim.treesitter.language.add then
    vim.treesitter.language.add('flow', { path = parser_path })
  else
    vim.treesitter.require_language('flow', parser_path)
  end
  local parse_query = vim.treesitter.query.parse or vim.treesitter.parse_query
  local highlights
  for _, name in ipairs({ 'highlights', 'locals', 'folds' }) do
    local ok, query = pcall(parse_query, 'flow', read(queries .. '/' .. name .. '.scm'))
    if not ok then
      fail(name .. '.scm does not compile: ' .. tostring(query))
    end
    if name == 'highlights' then
      highlights = query
    end
  end
  local source = read(source_path)
  local root = vim.treesitter.get_string_parser(source, 'flow'):parse()[1]:root()
  if root:has_error() then
    fail(source_path .. ' has ERROR or MISSING nodes')
  end
  local seen = {}
  for id in highlights:iter_captures(root, source, 0, -1) do
    seen[highlights.captures[id]] = true
  end
  for _, capture in ipairs({ 'keyword', 'type', 'string', 'comment', 'function', 'variable.parameter' }) do
    if not seen[capture] then
      fail('no `' .. capture .. '` capture in ' .. source_path)
    end
  end
  io.stdout:write('neovim: queries compile, ' .. source_path .. ' parses and highlights\n')
end

local ok, err = pcall(main)
if not ok then
  fail(tostring(err))
end
vim.cmd('qall!')
